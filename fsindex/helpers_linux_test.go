//go:build linux

package fsindex

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mkTree builds a tree under dir from rows, one per object:
//
//	"a/b.txt"          a file (its content is its own name)
//	"a/b.txt=content"  a file with the given content
//	"d/"               a directory
//	"link -> target"   a symlink ("{abs}" in target: the tree's absolute dir)
//	"p|"               a FIFO
func mkTree(t testing.TB, dir string, rows ...string) {
	t.Helper()
	for _, row := range rows {
		var err error
		switch {
		case strings.Contains(row, " -> "):
			name, target, _ := strings.Cut(row, " -> ")
			target = strings.ReplaceAll(target, "{abs}", dir)
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			err = os.Symlink(target, p)
		case strings.HasSuffix(row, "|"):
			p := filepath.Join(dir, strings.TrimSuffix(row, "|"))
			os.MkdirAll(filepath.Dir(p), 0o755)
			err = unix.Mkfifo(p, 0o644)
		case strings.HasSuffix(row, "/"):
			err = os.MkdirAll(filepath.Join(dir, row), 0o755)
		default:
			name, content, ok := strings.Cut(row, "=")
			if !ok {
				content = name
			}
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatalf("mkTree %q: %v", row, err)
		}
	}
}

// newIndex opens an index over root, forcing the fallback walk when walk
// is set, and closes it when the test ends.
func newIndex(t testing.TB, opts Options, walk bool) *Index {
	t.Helper()
	x, err := open(opts, walk)
	if err != nil {
		t.Fatal(err)
	}
	if x.UsesOpenat2() == walk {
		t.Fatalf("UsesOpenat2 = %v with walk = %v (openat2 missing here?)", x.UsesOpenat2(), walk)
	}
	t.Cleanup(func() { x.Close(nil) })
	return x
}

// resolvers runs f once per resolver.
func resolvers(t *testing.T, f func(t *testing.T, walk bool)) {
	t.Run("openat2", func(t *testing.T) { f(t, false) })
	t.Run("walk", func(t *testing.T) { f(t, true) })
}

// lookup looks path up and returns the result and, for Found and Listing,
// the body (read through Body or the fd), releasing the entry.
func lookup(t testing.TB, x *Index, path string) (Result, string, *Entry) {
	t.Helper()
	e, r, err := x.Lookup(nil, path)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", path, err)
	}
	if e == nil {
		return r, "", nil
	}
	defer e.Release(nil)
	if e.Body != nil {
		return r, string(e.Body), e
	}
	buf := make([]byte, e.Size)
	n, err := unix.Pread(e.Fd, buf, 0)
	if err != nil {
		t.Fatalf("pread %q: %v", path, err)
	}
	return r, string(buf[:n]), e
}

// openFds counts this process's open descriptors.
func openFds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
}
