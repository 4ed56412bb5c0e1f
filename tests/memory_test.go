package tests

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// quietTrim is the server's quietTrim (cmd/epfs/internal/server): a loop
// that has gone this long without a new connection or request trims its
// pools, and once all have, the server returns free memory to the kernel
// and logs "memory returned".
const quietTrim = 5 * time.Second

// memoryReturns counts the "memory returned" lines p has logged.
func memoryReturns(p *proc) (n int, last map[string]any) {
	for _, l := range p.logLines() {
		if l["message"] == "memory returned" {
			n++
			last = l
		}
	}
	return n, last
}

// awaitMemoryReturn waits for a "memory returned" line after the first
// seen ones, and returns it, or nil when none came within ten times
// quietTrim (a hang guard: it comes one quietTrim after the last request,
// plus the scheduling of a busy machine). It reads only the log: a scrape
// of /metrics would allocate in the server after the return.
func awaitMemoryReturn(t *testing.T, p *proc, seen int) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * quietTrim); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n, last := memoryReturns(p); n > seen {
			t.Logf("memory returned: took %v ms, gc pause %v ms, %v bytes released",
				fmtMillis(last["took"]), fmtMillis(last["gc_pause"]), last["released_bytes"])
			return last
		}
	}
	t.Errorf("no \"memory returned\" line within %v of going quiet", 10*quietTrim)
	return nil
}

// fmtMillis prints a zerolog duration field (milliseconds, as a float).
func fmtMillis(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.3f", f)
	}
	return fmt.Sprint(v)
}

// TestMemoryReturnsAfterBurst: 400 connections at once, each in the middle
// of a request head, make every loop's pools grow to hold them (a read
// buffer of --max-header-bytes each, a connection struct). When they are
// gone and the server has been quiet for quietTrim, the pools are trimmed,
// the memory is returned, and at least half of the anonymous resident
// memory the burst added is gone (in practice three quarters or more). Before the pools were trimmed
// the buffers stayed for ever, up to 1,024 per loop.
func TestMemoryReturnsAfterBurst(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	w := serveWatched(t, f)
	// At rest, and returned once, so that the baseline is a trimmed server.
	awaitMemoryReturn(t, w.proc, 0)
	seen, _ := memoryReturns(w.proc)
	base := statusBytes(t, w.cmd.Process.Pid, "RssAnon")

	const conns = 400
	const partial = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
	read := w.counter(t, "epfs_bytes_total", "direction", "read")
	var cs []net.Conn
	for range conns {
		c := dial(t, w.addr)
		cs = append(cs, c)
		if _, err := c.Write([]byte(partial)); err != nil {
			t.Fatal(err)
		}
	}
	// Every partial head read means every connection holds a buffer.
	waitFor(t, "read of every partial head", func() bool {
		return w.counter(t, "epfs_bytes_total", "direction", "read") >= read+conns*float64(len(partial))
	})
	peak := statusBytes(t, w.cmd.Process.Pid, "RssAnon")
	for _, c := range cs {
		c.Close()
	}
	w.settle(t, &w.rest)
	awaitMemoryReturn(t, w.proc, seen)
	after := statusBytes(t, w.cmd.Process.Pid, "RssAnon")
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("RssAnon: %.1f MiB at rest, %.1f MiB with %d connections mid-head, %.1f MiB after they closed and the server went quiet (%+.1f %%)",
		mib(base), mib(peak), conns, mib(after), 100*float64(after-base)/float64(base))
	if peak-base < conns*4<<10 {
		t.Fatalf("RssAnon grew by only %d bytes with %d connections mid-head: the burst did not take buffers", peak-base, conns)
	}
	// What stays is the pools' reserve, heap pages that a surviving
	// object keeps, and the runtime's own bookkeeping for the larger heap
	// it once had (span and page-allocator metadata, which Go never
	// returns): measured at 0.4-1.1 MiB of a 4.2 MiB growth here. Without
	// the trim all of it stayed (6.4, 8.7, then 9.4 MiB).
	if after-base > (peak-base)/2 {
		t.Errorf("RssAnon %.1f MiB after the burst: more than half of its %.1f MiB growth stayed", mib(after), mib(peak-base))
	}
}
