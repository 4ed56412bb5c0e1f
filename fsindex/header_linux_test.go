//go:build linux

package fsindex

import "testing"

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
