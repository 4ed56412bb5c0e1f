//go:build linux

package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
)

// epoll_ctl is called once per registration and never per request: one
// eventfd per loop, one acceptor per loop and address, one per connection.
func TestEpollCtlOncePerRegistration(t *testing.T) {
	const loops, conns = 2, 6
	r := start(t, Config{Root: testRoot(t, false), Loops: loops, Listen: []string{"127.0.0.1:0", "127.0.0.1:0"}})
	epollCtl := func() uint64 { s := r.Counters(); return s.Total(syscount.EpollCtl) }
	if got, want := epollCtl(), uint64(loops+loops*2); got != want {
		t.Fatalf("after New: %d epoll_ctl, want %d (eventfd and acceptors)", got, want)
	}
	for i := 0; i < conns; i++ {
		ap, err := netip.ParseAddrPort(r.Addrs()[i%2])
		if err != nil {
			t.Fatal(err)
		}
		c := dialRaw(t, ap)
		for j := 0; j < 5; j++ {
			c.roundTrip(t, get("/small.bin"), 200)
			c.roundTrip(t, get("/large.bin"), 200)
		}
	}
	if got, want := epollCtl(), uint64(loops+loops*2+conns); got != want {
		t.Errorf("after %d connections of 10 requests: %d epoll_ctl, want %d", conns, got, want)
	}
}

// The syscalls a keep-alive GET costs, as the loop counted them.
func TestSyscallsPerRequest(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false)})
	c := dialRaw(t, r.addr)
	const n = 200
	measure := func(path string, reqs int) (d syscount.Snapshot, el time.Duration) {
		req := get(path)
		c.roundTrip(t, req, 200) // warm: the entry is cached
		before, begin := r.loopCounters(t), time.Now()
		for i := 0; i < reqs; i++ {
			c.roundTrip(t, req, 200)
		}
		d = r.loopCounters(t).Sub(before)
		// The wakeup that took the second snapshot read the eventfd.
		d.Calls[syscount.Read][syscount.OK] -= d.Events[syscount.Wakeups]
		return d, time.Since(begin)
	}
	// fsindex trusts a cached entry for 1 s, then revalidates it with one
	// openat2 (or openat) and one fstat: allowed once per started second.
	revalidations := func(d syscount.Snapshot, el time.Duration) uint64 {
		return d.Total(syscount.Openat2) + d.Total(syscount.Openat)
	}
	checkNoOthers := func(t *testing.T, d syscount.Snapshot, el time.Duration) {
		t.Helper()
		if got := d.Total(syscount.EpollCtl); got != 0 {
			t.Errorf("%d epoll_ctl, want 0", got)
		}
		if got, max := revalidations(d, el), uint64(el/time.Second)+1; got > max {
			t.Errorf("%d opens in %v, want at most %d revalidations", got, el, max)
		}
		if got := d.Calls[syscount.Read][syscount.OK]; got != uint64(n) {
			t.Errorf("%d reads, want %d (one per request)", got, n)
		}
		if got := d.Calls[syscount.Read][syscount.EAGAIN]; got != 0 {
			t.Errorf("%d reads returned EAGAIN, want 0 (a short read ends the drain)", got)
		}
	}

	t.Run("small cached file", func(t *testing.T) {
		d, el := measure("/small.bin", n)
		checkNoOthers(t, d, el)
		if got := d.Calls[syscount.Writev][syscount.OK]; got != n {
			t.Errorf("%d writev, want %d (head and body in one)", got, n)
		}
		for _, sc := range []syscount.Syscall{syscount.Write, syscount.Sendto, syscount.Sendfile, syscount.Close} {
			if got := d.Total(sc); got != 0 {
				t.Errorf("%d %v, want 0", got, sc)
			}
		}
		t.Logf("per request: read %.2f, writev %.2f, epoll_wait %.2f, epoll_ctl %.2f",
			per(d, syscount.Read, n), per(d, syscount.Writev, n), per(d, syscount.EpollWait, n), per(d, syscount.EpollCtl, n))
	})
	t.Run("large file", func(t *testing.T) {
		d, el := measure("/large.bin", n)
		checkNoOthers(t, d, el)
		if got := d.Calls[syscount.Sendto][syscount.OK]; got != n {
			t.Errorf("%d sendto, want %d (the head, MSG_MORE)", got, n)
		}
		if got, want := d.Events[syscount.BytesSent], uint64(n*largeSize); got != want {
			t.Errorf("sendfile moved %d bytes, want %d", got, want)
		}
		// Every sendfile that moved bytes moved a fair share: a socket
		// buffer's worth, not a trickle. At least 4 KiB each on average.
		ok, again := d.Calls[syscount.Sendfile][syscount.OK], d.Calls[syscount.Sendfile][syscount.EAGAIN]
		if ok < n || ok > n*largeSize/4096 {
			t.Errorf("%d sendfile calls for %d requests of %d bytes", ok, n, largeSize)
		}
		// Each EAGAIN waits for an EPOLLOUT: no more of them than waits.
		if waits := d.Total(syscount.EpollWait); again > waits {
			t.Errorf("%d sendfile EAGAIN but only %d epoll_wait: retried without waiting", again, waits)
		}
		for _, sc := range []syscount.Syscall{syscount.Write, syscount.Writev} {
			if got := d.Total(sc); got != 0 {
				t.Errorf("%d %v, want 0", got, sc)
			}
		}
		t.Logf("per request: read %.2f, sendto %.2f, sendfile %.2f (%.2f EAGAIN), epoll_wait %.2f, epoll_ctl %.2f; %.0f KiB per sendfile",
			per(d, syscount.Read, n), per(d, syscount.Sendto, n), per(d, syscount.Sendfile, n), float64(again)/n,
			per(d, syscount.EpollWait, n), per(d, syscount.EpollCtl, n), float64(d.Events[syscount.BytesSent])/float64(ok)/1024)
	})
}

// loopCounters snapshots loop 0's counters on the loop itself: the client
// may read a response before the loop has counted the call that sent it, so
// a snapshot taken from outside could miss the last call.
func (r *running) loopCounters(t testing.TB) (s syscount.Snapshot) {
	r.onLoop(t, 0, func(w *worker) { s = w.sc.Snapshot() })
	return s
}

func per(d syscount.Snapshot, sc syscount.Syscall, n int) float64 {
	return float64(d.Total(sc)) / float64(n)
}
