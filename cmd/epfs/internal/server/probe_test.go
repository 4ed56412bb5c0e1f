//go:build linux

package server

import (
	"testing"

	"github.com/epfs/epfs/poller/syscount"
	"github.com/epfs/epfs/transmit"
	"golang.org/x/sys/unix"
)

// The residency probe is chosen at start-up: cachestat(2) where the kernel
// lets it through, one call per chunk of a resident file; otherwise (the
// start-up probe fails: forced here through its hook, as ENOSYS on an old
// kernel or EPERM under a system-call filter) the one-byte preadv2 probes,
// two per chunk, and the files are served the same.
func TestResidencyProbeFallback(t *testing.T) {
	const chunks = (hugeSize + transmit.DefaultBudget - 1) / transmit.DefaultBudget
	for _, tc := range []struct {
		name                  string
		fail                  error
		wantStat, wantPreadv2 uint64
	}{
		{"cachestat", nil, chunks, 0},
		{"startup probe fails", unix.ENOSYS, 0, 2 * chunks},
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
			r := start(t, Config{Root: testRoot(t, true)})
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
			if got := d.Calls[syscount.Sendfile][syscount.OK]; got < n*chunks {
				t.Errorf("%d sendfile for %d responses of %d chunks", got, n, chunks)
			}
		})
	}
}
