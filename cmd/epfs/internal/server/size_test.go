//go:build linux

package server

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/epfs/epfs/poller/iopool"
)

// An idle keep-alive connection is its conn struct and nothing more (see
// TestIdleConnectionHoldsNoBuffer): the struct must stay small, since a
// server holds one per open connection however quiet. 200 bytes is the
// bound the house plan gives; the figure is logged.
func TestConnStructSize(t *testing.T) {
	n := unsafe.Sizeof(conn{})
	t.Logf("conn: %d bytes", n)
	if n > 200 {
		t.Errorf("conn is %d bytes, want at most 200: an idle keep-alive connection must stay small", n)
	}
}

// What one request in flight costs on the heap (the struct and its bytes,
// in the allocator's size classes; transmit's slab for its response comes
// on top), and what the loops' pools then hold at the connection counts
// the black-box tests use: 16 (tests/soak_test.go), 400 and 5,000 at
// once (TestMemoryReturnsAfterBurst and TestFiveThousandConnections, in
// tests/load_test.go). Bounded: at most
// the requests in flight, plus maxFree per loop once they are back, until
// a quiet loop trims to poolReserve.
func TestRequestSize(t *testing.T) {
	s := &Server{cfg: Config{MaxHeaderBytes: DefaultMaxHeaderBytes}, pool: &iopool.Pool{}}
	const k = 64
	keep := make([]*request, k)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = newRequest(s)
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / k
	t.Logf("request: struct %d bytes, bytes %d (--max-header-bytes %d + path room %d); %d heap bytes each with its callbacks",
		unsafe.Sizeof(request{}), len(keep[0].b)+cap(keep[0].pathRoom), DefaultMaxHeaderBytes, cap(keep[0].pathRoom), per)
	for _, conns := range []uint64{16, 400, 5000} {
		t.Logf("%5d requests in flight: %6.1f MiB", conns, float64(conns*per)/(1<<20))
	}
	t.Logf("at most %d free per loop after a burst (%.1f MiB), %d once quiet", maxFree, float64(maxFree*per)/(1<<20), poolReserve)
	if per > 20<<10 {
		t.Errorf("a request costs %d heap bytes, want at most 20 KiB (the package doc gives the figure)", per)
	}
	if cap(keep[0].pathRoom) < DefaultMaxHeaderBytes/2 {
		t.Errorf("path room %d: shorter than the longest target the parser admits", cap(keep[0].pathRoom))
	}
	runtime.KeepAlive(keep)
}
