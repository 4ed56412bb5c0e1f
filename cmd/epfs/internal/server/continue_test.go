//go:build linux

package server

import (
	"testing"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/transmit"
	"golang.org/x/sys/unix"
)

// When a Step spends its budget with the socket still writable, the
// response goes on with a new Step if nothing else waits on the loop, up
// to maxBudgetsInRow budgets, then requeues; when something waits (here a
// requeued handler) it requeues after one budget. Each Step sends exactly
// one budget: the send buffer has room for the whole file.
func TestContinueWhenNothingWaits(t *testing.T) {
	for _, tc := range []struct {
		name           string
		somethingWaits bool
		budgets        int64
	}{
		{"alone", false, maxBudgetsInRow},
		{"something waits", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Config{Root: testRoot(t, true)})
			c := blockHuge(t, r)
			var skip error
			var sent, continued uint64
			r.onLoop(t, 0, func(w *worker) {
				cn := w.conns.newest()
				// Room for the rest of the file (SO_SNDBUFFORCE needs
				// CAP_NET_ADMIN), so no Step meets EAGAIN.
				if skip = unix.SetsockoptInt(cn.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, hugeSize); skip != nil {
					return
				}
				if tc.somethingWaits {
					w.loop.Requeue(cn.id, poller.Out)
				}
				before, c0 := cn.rq.resp.Sent(), w.stats.continued.Load()
				// The edge the larger buffer raises, delivered now.
				cn.Handle(poller.Out)
				sent, continued = uint64(cn.rq.resp.Sent()-before), w.stats.continued.Load()-c0
			})
			if skip != nil {
				t.Skipf("SO_SNDBUFFORCE: %v", skip)
			}
			if want := uint64(tc.budgets * transmit.DefaultBudget); sent != want {
				t.Errorf("one write sent %d bytes, want %d (%d budgets)", sent, want, tc.budgets)
			}
			if want := uint64(tc.budgets - 1); continued != want {
				t.Errorf("%d continuations, want %d", continued, want)
			}
			status, n, err := c.response()
			if err != nil || status != 200 || n != hugeSize {
				t.Fatalf("transfer: status %d, %d bytes, %v; want 200, %d bytes, no error", status, n, err, hugeSize)
			}
		})
	}
}

// blockHuge asks r for /huge.bin on a client with a small receive buffer
// that does not read yet, and returns once the server has filled the
// socket and waits for EPOLLOUT with the write timer armed (not while the
// first lookup of huge.bin is out on the I/O pool: that is stateLookup,
// with the write timer armed too).
func blockHuge(t *testing.T, r *running) *rawClient {
	t.Helper()
	c := dialRawBuf(t, r.addr, 4096)
	if err := c.send(get("/huge.bin")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the response to block", func() bool {
		cs := r.conns(t)
		return len(cs) == 1 && cs[0].state.planned() && cs[0].armed
	})
	return c
}
