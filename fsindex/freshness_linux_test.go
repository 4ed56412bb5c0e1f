//go:build linux

package fsindex

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
)

// freshBound is the validity period these tests configure. A change must be
// visible within it: any lookup once it has passed revalidates. The polls
// are hang guards with room for a slow, shared machine under -race
// (pollGuard); how long a change took to be seen is only logged.
const (
	freshBound = 100 * time.Millisecond
	pollGuard  = freshBound + 10*time.Second
)

// waitFor polls until cond holds, failing t after pollGuard, and returns
// how long it took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(pollGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("hang guard: %s: not seen within %v", what, pollGuard)
		}
		time.Sleep(freshBound / 10)
	}
	return time.Since(start)
}

func TestFreshness(t *testing.T) {
	type change struct {
		name string
		do   func(t *testing.T, root string)
		want Result
		body string
	}
	write := func(name, body string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, name), []byte(body), 0o644))
		}
	}
	big := string(make([]byte, 64<<10)) // above SmallFileMax: served from the fd
	changes := []change{
		{"modify same size", write("f", "version-2"), Found, "version-2"},
		{"modify longer", write("f", "version-1 and more"), Found, "version-1 and more"},
		{"truncate", func(t *testing.T, root string) { must(t, os.Truncate(filepath.Join(root, "f"), 3)) }, Found, "ver"},
		{"rename over", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, "f.tmp"), []byte("renamed-in"), 0o644))
			must(t, os.Rename(filepath.Join(root, "f.tmp"), filepath.Join(root, "f")))
		}, Found, "renamed-in"},
		{"delete", func(t *testing.T, root string) { must(t, os.Remove(filepath.Join(root, "f"))) }, NotFound, ""},
		{"grow past small", write("f", big), Found, big},
	}
	resolvers(t, func(t *testing.T, walk bool) {
		root := t.TempDir()
		mkTree(t, root, "f=version-1")
		x := newIndex(t, Options{Root: root, Valid: freshBound, NegativeValid: freshBound}, walk)
		if r, body, _ := lookup(t, x, "/f"); r != Found || body != "version-1" {
			t.Fatalf("first lookup: %v %q", r, body)
		}
		for _, ch := range changes {
			// Make sure the old state is cached, then change the disk.
			lookup(t, x, "/f")
			ch.do(t, root)
			took := waitFor(t, ch.name, func() bool {
				r, body, e := lookup(t, x, "/f")
				if r != ch.want || body != ch.body {
					return false
				}
				if e != nil && e.Size != int64(len(body)) {
					t.Errorf("%s: Size %d for a %d-byte body", ch.name, e.Size, len(body))
				}
				return true
			})
			t.Logf("%s: seen after %v", ch.name, took)
		}
		// Recreate after delete: the cached miss expires within NegativeValid.
		must(t, os.Remove(filepath.Join(root, "f")))
		waitFor(t, "delete again", func() bool { r, _, _ := lookup(t, x, "/f"); return r == NotFound })
		write("f", "recreated")(t, root)
		waitFor(t, "recreate", func() bool { r, body, _ := lookup(t, x, "/f"); return r == Found && body == "recreated" })
	})
}

// TestETagStable checks that every version change shows in the ETag, and
// that the ETag is the same from a second Index (a restart).
func TestETagStable(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "f=one", "big="+string(make([]byte, 100<<10)))
	x1 := newIndex(t, Options{Root: root}, false)
	x2 := newIndex(t, Options{Root: root}, true)
	for _, p := range []string{"/f", "/big"} {
		_, _, e1 := lookup(t, x1, p)
		_, _, e2 := lookup(t, x2, p)
		if e1.ETag != e2.ETag || e1.LastModified != e2.LastModified {
			t.Errorf("%s: %s %s vs %s %s", p, e1.ETag, e1.LastModified, e2.ETag, e2.LastModified)
		}
		if e1.ETag[0] != '"' || e1.ETag[len(e1.ETag)-1] != '"' || e1.ETag[1] == 'W' {
			t.Errorf("%s: ETag %s is not a quoted strong tag", p, e1.ETag)
		}
	}
	_, _, before := lookup(t, x1, "/f")
	old := before.ETag
	// Same size, mtime moved by a second: the tag must move with it.
	later := before.ModTime.Add(time.Second)
	must(t, os.WriteFile(filepath.Join(root, "f"), []byte("two"), 0o644))
	must(t, os.Chtimes(filepath.Join(root, "f"), later, later))
	x3 := newIndex(t, Options{Root: root}, false)
	if _, _, e := lookup(t, x3, "/f"); e.ETag == old {
		t.Errorf("ETag %s unchanged after a rewrite", old)
	}
}

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

// Options.Header is asked once per entry, with the path of the file the
// entry serves: the index file for a directory URL, the directory with its
// "/" for a listing; a variant carries its original's fields.
func TestHeaderSeesTheServedPath(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a.txt", "a.txt.gz", "dir/index.html", "list/x.txt")
	header := func(p string) []byte { return []byte("\r\nX-Path: " + p) }
	for _, walk := range []bool{false, true} {
		x := newIndex(t, Options{Root: root, Listing: true, Precompressed: true, Header: header}, walk)
		for url, want := range map[string]string{
			"/a.txt": "/a.txt",
			"/dir/":  "/dir/index.html",
			"/list/": "/list/",
			"/":      "/",
		} {
			e, res, err := x.Lookup(nil, url)
			if err != nil || (res != Found && res != Listing) {
				t.Fatalf("walk %v: Lookup(%q) = %v, %v", walk, url, res, err)
			}
			if got := string(e.Header); got != "\r\nX-Path: "+want {
				t.Errorf("walk %v: %s: Header %q, want the path %s", walk, url, got, want)
			}
			if v := e.Variant(Gzip); v != nil && string(v.Header) != string(e.Header) {
				t.Errorf("walk %v: %s: gzip variant's Header %q, want its original's", walk, url, v.Header)
			}
			e.Release(nil)
		}
	}
	x := newIndex(t, Options{Root: root}, false)
	if e, _, _ := x.Lookup(nil, "/a.txt"); e.Header != nil {
		t.Errorf("no Options.Header: Header %q, want nil", e.Header)
	} else {
		e.Release(nil)
	}
}
