//go:build linux

package server

import (
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"golang.org/x/sys/unix"
)

// A transfer that keeps making progress is never cut by the write timeout,
// even when its progress comes in Yields (budget spent, socket still
// writable) long after the last EAGAIN armed the timer: a fast client of a
// slow disk, or a busy loop. Before the fix the timer armed by the last
// EAGAIN stayed armed through every Yield and fired mid-transfer.
func TestWriteTimeoutSparesYieldingTransfer(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	r := start(t, Config{Root: testRoot(t, true), WriteTimeout: writeTimeout})
	// The client does not read: the server fills the socket and waits for
	// EPOLLOUT, with the write timer armed.
	c := blockHuge(t, r)
	var skip error
	r.onLoop(t, 0, func(w *worker) {
		cn := w.conns.newest()
		// Room for the rest of the file in the send buffer, so the next
		// Steps end in Yield, never EAGAIN (SO_SNDBUFFORCE needs
		// CAP_NET_ADMIN).
		if skip = unix.SetsockoptInt(cn.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, hugeSize); skip != nil {
			return
		}
		// The edge the larger buffer raises, delivered now: this Step
		// makes progress and yields.
		cn.Handle(poller.Out)
		// The loop is then busy (a page-cache miss, other connections)
		// for longer than the write timeout; the transfer resumes after.
		time.Sleep(3 * writeTimeout)
	})
	if skip != nil {
		t.Skipf("SO_SNDBUFFORCE: %v", skip)
	}
	status, n, err := c.response()
	if err != nil || status != 200 || n != hugeSize {
		t.Fatalf("transfer: status %d, %d bytes, %v; want 200, %d bytes, no error", status, n, err, hugeSize)
	}
	if n := r.Stats().Timeouts; n != 0 {
		t.Errorf("%d connections closed by a timeout, want 0", n)
	}
}

// Each state a client can hold a connection in is bounded by its timer.
func TestTimeoutInEveryState(t *testing.T) {
	const d = 150 * time.Millisecond
	r := start(t, Config{Root: testRoot(t, true), HeaderTimeout: d, IdleTimeout: d, WriteTimeout: d})
	// Each timer may close its connection only after its full duration:
	// begin is read before the request that arms it is sent, so the time
	// the client measures is at least the server's. How long after is not
	// asserted; the client's receive timeout (hangGuard) is the hang guard.
	closedAfter := func(t *testing.T, c *rawClient, begin time.Time) {
		t.Helper()
		for {
			err := c.fill()
			c.n = 0
			if err == errTimeout {
				t.Fatalf("hang guard: not closed within the client's %v receive timeout", hangGuard)
			}
			if err != nil {
				break
			}
		}
		if el := time.Since(begin); el < d {
			t.Errorf("closed after %v, before the %v timeout", el, d)
		}
	}
	t.Run("idle", func(t *testing.T) {
		c := dialRaw(t, r.addr)
		begin := time.Now()
		c.roundTrip(t, get("/hello.txt"), 200)
		closedAfter(t, c, begin)
	})
	t.Run("header", func(t *testing.T) {
		before := r.Stats().Timeouts
		c := dialRaw(t, r.addr)
		begin := time.Now()
		c.send([]byte("GET /hello.txt HTTP/1.1\r\nHo"))
		closedAfter(t, c, begin)
		waitFor(t, "the timeout counted", func() bool { return r.Stats().Timeouts == before+1 })
	})
	t.Run("write", func(t *testing.T) {
		before := r.Stats().Timeouts
		c := dialRawBuf(t, r.addr, 4096)
		c.send(get("/huge.bin"))
		waitFor(t, "the timeout counted", func() bool { return r.Stats().Timeouts == before+1 })
		waitFor(t, "the connection closed", func() bool { return len(r.conns(t)) == 0 })
	})
	t.Run("linger", func(t *testing.T) {
		// A malformed request is answered 400, then the server lingers
		// (reads and drops) until the client closes or lingerTime passes.
		c := dialRaw(t, r.addr)
		c.send([]byte("BAD\x00 / HTTP/1.1\r\n\r\n"))
		out, err := c.readAll() // EOF: the server shut its write side
		if err != nil || !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Fatalf("%q, %v; want a 400 and EOF", out, err)
		}
		// We never close: the server must give up lingering on its own.
		if cs := r.conns(t); len(cs) != 1 || cs[0].state != stateLinger {
			t.Fatalf("after the 400: %+v, want one lingering connection", cs)
		}
		waitFor(t, "the lingering connection closed", func() bool { return len(r.conns(t)) == 0 })
	})
}
