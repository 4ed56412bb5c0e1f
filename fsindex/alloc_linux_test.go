//go:build linux && !race

package fsindex

import (
	"testing"

	"github.com/epfs/epfs/poller/syscount"
)

// TestHitAllocs: a cached hit and its Release allocate nothing, for a small
// file (Body), a large one (Fd), a cached miss and a redirect.
func TestHitAllocs(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a.txt=hello", "big.bin="+string(make([]byte, 64<<10)), "dir/")
	x := newIndex(t, Options{Root: root, Valid: 1 << 40, NegativeValid: 1 << 40}, false)
	var c syscount.Counters
	for _, p := range []string{"/a.txt", "/big.bin", "/missing", "/dir"} {
		x.Lookup(&c, p) // fill
		before := c.Snapshot()
		allocs := testing.AllocsPerRun(1000, func() {
			e, _, _ := x.Lookup(&c, p)
			if e != nil {
				e.Release(&c)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per hit", p, allocs)
		}
		d := c.Snapshot().Sub(before)
		for s := range syscount.NumSyscalls {
			if n := d.Total(s); n != 0 {
				t.Errorf("%s: %d %v calls on hits", p, n, s)
			}
		}
	}
}
