//go:build linux

package fsindex

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// traversalTree is laid out under a parent directory P: P/outside holds
// what must never be opened, P/root is served. Rows name paths under P.
var traversalTree = []string{
	"outside/secret.txt=SECRET",
	"outside/b.txt=SECRET",
	"secret.txt=SECRET",
	"root/a.txt=A",
	"root/a.=trailing dot",
	"root/...=three dots",
	"root/.hidden=H",
	"root/sub/b.txt=B",
	"root/sub/.env=E",
	"root/empty/",
	"root/withindex/index.html=INDEX",
	"root/index.html=ROOTINDEX",
	"root/link_in -> a.txt",
	"root/link_chain -> link_in",
	"root/link_sub -> sub",
	"root/link_dot -> .",
	"root/link_up -> ../outside/secret.txt",
	"root/link_updir -> ../outside",
	"root/link_parent_dir -> ..",
	"root/link_abs_out -> {abs}/outside/secret.txt",
	"root/link_abs_in -> {abs}/root/a.txt",
	"root/link_abs_root -> /",
	"root/loop1 -> loop2",
	"root/loop2 -> loop1",
	"root/self -> self",
	"root/link_slash -> sub/",
	"root/link_file_slash -> a.txt/",
	"root/link_missing -> nothere",
	"root/sub/up_in -> ../a.txt",
	"root/sub/up_out -> ../../outside/secret.txt",
	"root/sub/up_up_in -> ../sub/../sub/b.txt",
	"root/sub/zigzag -> ../sub/../../root/a.txt",
	"root/sub/deeper/up2 -> ../../a.txt",
	"root/sub/deeper/up3 -> ../../../secret.txt",
	"root/sub/to_hidden -> ../.hidden",
}

var traversalCases = []struct {
	path string
	want Result
	body string // for Found
}{
	// Plain names, including ones that only look like dot-segments.
	{"/a.txt", Found, "A"},
	{"/a.", Found, "trailing dot"},
	{"/...", NotFound, ""}, // a dotfile by the policy: starts with "."
	{"/sub/b.txt", Found, "B"},
	{"/", Found, "ROOTINDEX"},
	{"/withindex/", Found, "INDEX"},
	{"/withindex", RedirectSlash, ""},
	{"/sub", RedirectSlash, ""},
	{"/empty/", Forbidden, ""}, // no index, listing off
	{"/a.txt/", NotFound, ""},
	{"/nothere", NotFound, ""},
	{"/sub/nothere/x", NotFound, ""},
	{"/a.txt/x", NotFound, ""},
	// ".." in every position, and other shapes the HTTP layer never sends.
	{"/..", NotFound, ""},
	{"/../outside/secret.txt", NotFound, ""},
	{"/sub/../a.txt", NotFound, ""},
	{"/sub/..", NotFound, ""},
	{"/sub/../../secret.txt", NotFound, ""},
	{"/./a.txt", NotFound, ""},
	{"//a.txt", NotFound, ""},
	{"a.txt", NotFound, ""},
	{"", NotFound, ""},
	{"/a.txt\x00.html", NotFound, ""},
	{"/.hidden", NotFound, ""},
	{"/sub/.env", NotFound, ""},
	// Symlinks that stay inside are followed.
	{"/link_in", Found, "A"},
	{"/link_chain", Found, "A"},
	{"/link_sub/b.txt", Found, "B"},
	{"/link_sub", RedirectSlash, ""},
	{"/link_dot/a.txt", Found, "A"},
	{"/link_slash/b.txt", Found, "B"},
	{"/link_slash", RedirectSlash, ""},
	{"/sub/up_in", Found, "A"},
	{"/sub/up_up_in", Found, "B"},
	{"/sub/deeper/up2", Found, "A"},
	{"/link_sub/up_in", Found, "A"},
	// The dotfile policy is about request paths, not link targets.
	{"/sub/to_hidden", Found, "H"},
	// Symlinks that climb out, or are absolute, are refused.
	{"/link_up", Forbidden, ""},
	{"/link_updir/secret.txt", Forbidden, ""},
	{"/link_updir/b.txt", Forbidden, ""},
	{"/link_parent_dir/outside/secret.txt", Forbidden, ""},
	{"/link_parent_dir/root/a.txt", Forbidden, ""},
	{"/link_abs_out", Forbidden, ""},
	{"/link_abs_in", Forbidden, ""}, // absolute, even though it lands inside
	{"/link_abs_root/etc/passwd", Forbidden, ""},
	{"/sub/up_out", Forbidden, ""},
	{"/sub/zigzag", Forbidden, ""}, // passes through P, outside the root
	{"/sub/deeper/up3", Forbidden, ""},
	{"/link_sub/up_out", Forbidden, ""},
	{"/link_sub/deeper/up3", Forbidden, ""},
	// Loops and dangling links.
	{"/loop1", Forbidden, ""},
	{"/self", Forbidden, ""},
	{"/self/x", Forbidden, ""},
	{"/link_file_slash", NotFound, ""},
	{"/link_missing", NotFound, ""},
}

// escapeWatch records every descriptor opened through c that refers to one
// of the forbidden inodes, and returns a function reporting them. It runs
// in the trace hook, right after each openat/openat2 returns, so even an
// O_PATH descriptor closed a moment later is caught.
func escapeWatch(t *testing.T, c *syscount.Counters, forbidden ...string) func() []string {
	t.Helper()
	type key struct{ dev, ino uint64 }
	bad := map[key]string{}
	for _, p := range forbidden {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		bad[key{st.Dev, st.Ino}] = p
	}
	var mu sync.Mutex
	var seen []string
	c.SetTrace(func(r syscount.Record) {
		if (r.Syscall != syscount.Openat2 && r.Syscall != syscount.Openat) || r.Errno != 0 {
			return
		}
		var st unix.Stat_t
		if err := unix.Fstat(r.Ret, &st); err != nil {
			t.Errorf("fstat of fresh fd %d: %v", r.Ret, err)
			return
		}
		if p, ok := bad[key{st.Dev, st.Ino}]; ok {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, p)
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// noEscape fails t if escapes reports any descriptor opened outside the root.
func noEscape(t *testing.T, escapes func() []string) {
	t.Helper()
	if e := escapes(); len(e) > 0 {
		t.Errorf("opened outside the root: %v", e)
	}
}

// TestEscapeWatch proves the watch sees an escape: an index over the parent
// opens what is "outside" for the real root.
func TestEscapeWatch(t *testing.T) {
	parent := t.TempDir()
	mkTree(t, parent, traversalTree...)
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: parent}, walk)
		var c syscount.Counters
		escapes := escapeWatch(t, &c, filepath.Join(parent, "outside/secret.txt"))
		e, r, _ := x.Lookup(&c, "/outside/secret.txt")
		if r != Found {
			t.Fatalf("got %v", r)
		}
		e.Release(&c)
		if len(escapes()) == 0 {
			t.Error("the watch missed an open of outside/secret.txt")
		}
	})
}

func TestTraversal(t *testing.T) {
	parent := t.TempDir()
	mkTree(t, parent, traversalTree...)
	root := filepath.Join(parent, "root")
	resolvers(t, func(t *testing.T, walk bool) {
		for _, valid := range []time.Duration{0, -1} {
			x := newIndex(t, Options{Root: root, Valid: valid}, walk)
			var c syscount.Counters
			escapes := escapeWatch(t, &c, parent, filepath.Join(parent, "outside"),
				filepath.Join(parent, "outside/secret.txt"), filepath.Join(parent, "secret.txt"), "/")
			defer noEscape(t, escapes)
			// Twice: a cold miss, then the cache (or, with Valid < 0,
			// revalidation on every lookup).
			for pass := range 2 {
				for _, tc := range traversalCases {
					e, r, err := x.Lookup(&c, tc.path)
					if err != nil {
						t.Fatalf("pass %d %q: %v", pass, tc.path, err)
					}
					if r != tc.want {
						t.Errorf("pass %d valid %v %q: got %v, want %v", pass, valid, tc.path, r, tc.want)
					}
					if e == nil {
						continue
					}
					if got := entryBody(t, e); got != tc.body {
						t.Errorf("pass %d %q: body %q, want %q", pass, tc.path, got, tc.body)
					}
					e.Release(&c)
				}
			}
		}
	})
}

func entryBody(t testing.TB, e *Entry) string {
	t.Helper()
	if e.Body != nil {
		return string(e.Body)
	}
	buf := make([]byte, e.Size+1)
	n, err := unix.Pread(e.Fd, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestDotfilesAllowed(t *testing.T) {
	parent := t.TempDir()
	mkTree(t, parent, traversalTree...)
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: filepath.Join(parent, "root"), AllowDotfiles: true}, walk)
		for path, want := range map[string]string{"/.hidden": "H", "/sub/.env": "E", "/...": "three dots"} {
			if r, body, _ := lookup(t, x, path); r != Found || body != want {
				t.Errorf("%q: %v %q, want found %q", path, r, body, want)
			}
		}
		if r, _, _ := lookup(t, x, "/.."); r != NotFound {
			t.Errorf(`"/..": %v with dotfiles allowed`, r)
		}
	})
}

// TestSymlinkSwap replaces, after a first successful lookup, a directory
// and then a file with symlinks out of the root: the TOCTOU a cache invites
// if it revalidates by stat(2) on a joined path.
func TestSymlinkSwap(t *testing.T) {
	resolvers(t, func(t *testing.T, walk bool) {
		parent := t.TempDir()
		mkTree(t, parent, traversalTree...)
		root := filepath.Join(parent, "root")
		x := newIndex(t, Options{Root: root, Valid: -1}, walk) // revalidate every lookup
		var c syscount.Counters
		escapes := escapeWatch(t, &c, filepath.Join(parent, "outside"), filepath.Join(parent, "outside/b.txt"),
			filepath.Join(parent, "outside/secret.txt"))
		defer noEscape(t, escapes)
		check := func(path string, want Result) {
			t.Helper()
			e, r, _ := x.Lookup(&c, path)
			if e != nil {
				e.Release(&c)
			}
			if r != want {
				t.Errorf("%q: %v, want %v", path, r, want)
			}
		}
		check("/sub/b.txt", Found)
		check("/a.txt", Found)
		must(t, os.Rename(filepath.Join(root, "sub"), filepath.Join(root, "sub.old")))
		must(t, os.Symlink("../outside", filepath.Join(root, "sub")))
		must(t, os.Remove(filepath.Join(root, "a.txt")))
		must(t, os.Symlink("../outside/secret.txt", filepath.Join(root, "a.txt")))
		check("/sub/b.txt", Forbidden)
		check("/a.txt", Forbidden)
		check("/sub/", Forbidden)
		check("/sub", Forbidden)
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
