//go:build linux

package server

import (
	"strings"
	"testing"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"github.com/epfs/epfs/transmit"
	"golang.org/x/sys/unix"
)

// The residency probe is chosen at start-up: cachestat(2) where the kernel
// lets it through, one call per chunk of a resident file; otherwise (the
// start-up probe fails: forced here through its hook, as ENOSYS on an old
// kernel or EPERM under a system-call filter) the one-byte preadv2 probes,
// two per chunk, and the files are served the same. The chunk is
// SendBudget.
func TestResidencyProbeFallback(t *testing.T) {
	const chunks = (hugeSize + transmit.DefaultBudget - 1) / transmit.DefaultBudget
	for _, tc := range []struct {
		name                  string
		fail                  error
		budget                int
		wantStat, wantPreadv2 uint64
	}{
		{"cachestat", nil, 0, chunks, 0},
		{"cachestat, 8 MiB budget", nil, 8 << 20, hugeSize / (8 << 20), 0},
		{"startup probe fails", unix.ENOSYS, 0, 0, 2 * chunks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail == nil {
				if err := transmit.CachestatUsable(nil); err != nil {
					t.Skipf("cachestat(2) not usable here: %v", err)
				}
			} else {
				probes := 0
				real := cachestatUsable
				cachestatUsable = func(*syscount.Counters) error { probes++; return tc.fail }
				t.Cleanup(func() { cachestatUsable = real })
				defer func() {
					if probes != 1 {
						t.Errorf("the start-up probe ran %d times, want once per loop", probes)
					}
				}()
			}
			r := start(t, Config{Root: testRoot(t, true), SendBudget: tc.budget})
			c := dialRaw(t, r.addr)
			c.roundTrip(t, get("/huge.bin"), 200) // the entry is cached, the file resident
			const n = 3
			before := r.loopCounters(t)
			for range n {
				if got := c.roundTrip(t, get("/huge.bin"), 200); got != hugeSize {
					t.Fatalf("body %d bytes, want %d", got, hugeSize)
				}
			}
			d := r.loopCounters(t).Sub(before)
			if got := d.Total(syscount.Cachestat); got != n*tc.wantStat {
				t.Errorf("%d cachestat for %d responses, want %d", got, n, n*tc.wantStat)
			}
			if got := d.Total(syscount.Preadv2); got != n*tc.wantPreadv2 {
				t.Errorf("%d preadv2 for %d responses, want %d", got, n, n*tc.wantPreadv2)
			}
			if got := d.Calls[syscount.Sendfile][syscount.OK]; got < n*max(tc.wantStat, tc.wantPreadv2/2) {
				t.Errorf("%d sendfile for %d responses", got, n)
			}
		})
	}
}

// SendBudget is bounded: below transmit.MinBudget or above MaxSendBudget
// is a start-up error naming the flag.
func TestSendBudgetBounds(t *testing.T) {
	for _, b := range []int{-1, transmit.MinBudget - 1, MaxSendBudget + 1} {
		c := Config{Root: t.TempDir(), SendBudget: b}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--send-budget") {
			t.Errorf("SendBudget %d: %v, want a --send-budget error", b, err)
		}
	}
	for _, b := range []int{0, transmit.MinBudget, MaxSendBudget} {
		c := Config{Root: t.TempDir(), SendBudget: b}
		if err := c.Validate(); err != nil {
			t.Errorf("SendBudget %d: %v", b, err)
		}
	}
}

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
