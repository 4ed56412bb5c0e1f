package tests

import (
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/epfs/epfs/internal/listingtest"
	"golang.org/x/net/html"
)

// TestListingPage: a listing as a browser gets it, parsed by an HTML5
// parser: directories first, then files and links, each by name without
// regard to case; every name escaped (no markup from a file name reaches
// the page); every link relative, and followed it serves what its row
// names; sizes for people with the exact count beside; symlinks marked;
// a header row and a viewport for phones; no script.
func TestListingPage(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(f.root, "page")
	files := map[string]int{"z.txt": 5, "B.txt": 2048, `"quote"&<b>.txt`: 1, "sp ace.txt": 0, "100%.bin": 3 << 20, "javascript:alert(1)": 1}
	listingDir(t, dir, []string{"b-dir", "A-dir", "<i>dir"}, files, "z.txt")
	_, base := serve(t, f, "--autoindex")
	r, err := http.Get(base + "/page/")
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, r)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /page/: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	lp, err := listingtest.Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	if !lp.Viewport || len(lp.Markup) != 0 || !lp.Parent || !slices.Equal(lp.Heads, []string{"Name", "Size", "Modified (UTC)"}) {
		t.Errorf("page: viewport %v, markup %q, parent link %v, header %q", lp.Viewport, lp.Markup, lp.Parent, lp.Heads)
	}
	rows := lp.Rows
	var names []string
	for _, rw := range rows {
		names = append(names, rw.Name)
	}
	want := []string{"<i>dir/", "A-dir/", "b-dir/", `"quote"&<b>.txt`, "100%.bin", "B.txt", "javascript:alert(1)", "link", "sp ace.txt", "z.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("order:\n got %q\nwant %q", names, want)
	}
	sizes := map[string][2]string{"z.txt": {"5 B", "5"}, "B.txt": {"2.0 KiB", "2048"}, "100%.bin": {"3.0 MiB", "3145728"}, "sp ace.txt": {"0 B", "0"}, "link": {"-", ""}, "A-dir/": {"-", ""}}
	for _, rw := range rows {
		if s, ok := sizes[rw.Name]; ok && (rw.Size != s[0] || rw.Bytes != s[1]) {
			t.Errorf("%s: size %q (%q bytes), want %q (%q)", rw.Name, rw.Size, rw.Bytes, s[0], s[1])
		}
		wantClass, wantNote := "file", ""
		switch {
		case strings.HasSuffix(rw.Name, "/"):
			wantClass = "dir"
		case rw.Name == "link":
			wantClass, wantNote = "link", "symlink"
		}
		if rw.Class != wantClass || rw.Note != wantNote {
			t.Errorf("%s: class %q note %q, want %q %q", rw.Name, rw.Class, rw.Note, wantClass, wantNote)
		}
		// Every link is relative and, resolved against the page's URL,
		// names the row's file: a file serves its bytes, a directory its
		// own listing.
		if !strings.HasPrefix(rw.Href, "./") {
			t.Errorf("%s: href %q is not relative", rw.Name, rw.Href)
			continue
		}
		u, err := url.Parse(base + "/page/")
		if err != nil {
			t.Fatal(err)
		}
		ref, err := url.Parse(rw.Href)
		if err != nil {
			t.Errorf("%s: href %q does not parse: %v", rw.Name, rw.Href, err)
			continue
		}
		target := u.ResolveReference(ref)
		if target.Scheme != "http" || target.Host != u.Host {
			t.Errorf("%s: href %q leaves the server: %v", rw.Name, rw.Href, target)
			continue
		}
		resp, err := http.Get(target.String())
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, resp)
		n, isFile := files[rw.Name]
		if rw.Name == "link" {
			n, isFile = files["z.txt"], true
		}
		switch {
		case resp.StatusCode != 200:
			t.Errorf("%s: GET %s: %d", rw.Name, target, resp.StatusCode)
		case isFile && len(b) != n:
			t.Errorf("%s: GET %s: %d bytes, want %d", rw.Name, target, len(b), n)
		case !isFile && !strings.Contains(b, "Index of /page/"+html.EscapeString(rw.Name)):
			t.Errorf("%s: GET %s: not its listing: %.200q", rw.Name, target, b)
		}
	}
}
