//go:build linux

package fsindex

import (
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
)

// LookupCached answers exactly the lookups that need no system call: a
// fresh hit, positive or negative, with the same entry, result and
// reference as Lookup; a miss and a stale entry are refused, taking
// nothing, so that Lookup can run where blocking is allowed.
func TestLookupCached(t *testing.T) {
	root := t.TempDir()
	big := string(make([]byte, 64<<10)) // served from its fd: reference-counted
	mkTree(t, root, "a.txt=hello", "big.bin="+big, "dir/")
	const valid = 100 * time.Millisecond
	x := newIndex(t, Options{Root: root, Valid: valid, NegativeValid: valid}, false)
	var c syscount.Counters
	for _, tc := range []struct {
		path string
		want Result
	}{{"/a.txt", Found}, {"/big.bin", Found}, {"/missing", NotFound}, {"/dir", RedirectSlash}} {
		if e, _, ok := x.LookupCached(tc.path); ok || e != nil {
			t.Fatalf("%s: LookupCached before any Lookup: ok %v, entry %v; want a refusal", tc.path, ok, e)
		}
		e, r, err := x.Lookup(&c, tc.path)
		if r != tc.want || err != nil {
			t.Fatalf("%s: Lookup: %v, %v; want %v", tc.path, r, err, tc.want)
		}
		release(e, &c)
		before := c.Snapshot()
		e, r, ok := x.LookupCached(tc.path)
		if !ok || r != tc.want || (e == nil) != (r > Listing) {
			t.Fatalf("%s: LookupCached after Lookup: %v, %v, entry %v; want a hit with %v", tc.path, r, ok, e, tc.want)
		}
		if e != nil && e.counted() && e.refs.Load() < 2 {
			t.Errorf("%s: %d references after a cached hit, want the cache's and the caller's", tc.path, e.refs.Load())
		}
		release(e, &c)
		if d := c.Snapshot().Sub(before); d.Total(syscount.Close) != 0 {
			t.Errorf("%s: releasing a cached hit closed a descriptor", tc.path)
		}
	}
	// Past the validity period every entry needs a revalidation, which
	// is a system call: refused. Lookup revalidates, and the next
	// LookupCached hits again.
	time.Sleep(valid + valid/2)
	for _, p := range []string{"/a.txt", "/big.bin", "/missing"} {
		if e, _, ok := x.LookupCached(p); ok || e != nil {
			t.Errorf("%s: stale entry answered by LookupCached", p)
		}
		e, _, _ := x.Lookup(&c, p)
		release(e, &c)
		if _, _, ok := x.LookupCached(p); !ok {
			t.Errorf("%s: not a cached hit after Lookup revalidated it", p)
		}
	}
}

// release releases e if Lookup returned one.
func release(e *Entry, c *syscount.Counters) {
	if e != nil {
		e.Release(c)
	}
}
