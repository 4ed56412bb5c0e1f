//go:build linux

package server

import (
	"strings"
	"testing"

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
