//go:build linux

package fsindex

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/internal/listingtest"
)

func TestListing(t *testing.T) {
	root := t.TempDir()
	// A single name cannot hold "/", so "<script>x</script>.txt" is a
	// directory "<script>x<" holding "script>.txt": the same URL path, and
	// the root's listing shows the "<script>x<" part.
	mkTree(t, root,
		"<script>x</script>.txt=xss",
		`"'&<b>.txt`,
		"javascript:alert(1)",
		"space name.txt=12345",
		"100%.txt",
		".secret",
		"zdir/inner.txt",
		"pipe|",
		"link -> space name.txt",
	)
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: root, Listing: true, Valid: freshBound}, walk)
		e, r, err := x.Lookup(nil, "/")
		if r != Listing || err != nil {
			t.Fatalf("/: %v %v", r, err)
		}
		html := string(e.Body)
		if e.ContentType != "text/html; charset=utf-8" || e.Fd != -1 || e.Size != int64(len(e.Body)) {
			t.Errorf("listing entry: %q fd %d size %d", e.ContentType, e.Fd, e.Size)
		}
		e.Release(nil)
		for _, bad := range []string{"<script", "<b>", ".secret", "pipe", `href="javascript`, `href="../"`} {
			if strings.Contains(html, bad) {
				t.Errorf("listing contains %q:\n%s", bad, html)
			}
		}
		for _, good := range []string{
			`&lt;script&gt;x&lt;/`,
			`&#34;&#39;&amp;&lt;b&gt;.txt`,
			`href="./space%20name.txt"`,
			`href="./100%25.txt"`,
			`href="./zdir/">zdir/</a>`,
			`<td data-bytes="5">5 B</td>`, // the size of "space name.txt"
			`<meta name="viewport"`,
			`<th>Name</th><th>Size</th>`,
		} {
			if !strings.Contains(html, good) {
				t.Errorf("listing lacks %q:\n%s", good, html)
			}
		}
		// Parsed as a browser would: directories first, then the rest,
		// each by name without case; every link relative and naming its
		// row's text; the symlink marked as one.
		page, err := listingtest.Parse(html)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range page.Rows {
			if !strings.HasPrefix(r.Name, "new-") { // added below, by the other resolver's run
				names = append(names, r.Name)
			}
			if !strings.HasPrefix(r.Href, "./") {
				t.Errorf("href %q is not relative", r.Href)
			}
			if u, err := url.PathUnescape(strings.TrimPrefix(r.Href, "./")); err != nil || u != r.Name {
				t.Errorf("href %q does not name %q", r.Href, r.Name)
			}
		}
		want := []string{"<script>x</", "zdir/", `"'&<b>.txt`, "100%.txt", "javascript:alert(1)", "link", "space name.txt"}
		if !slices.Equal(names, want) {
			t.Errorf("listing order:\n got %q\nwant %q", names, want)
		}
		for _, r := range page.Rows {
			if got, want := r.Class, map[bool]string{true: "link", false: r.Class}[r.Name == "link"]; got != want || strings.HasSuffix(r.Name, "/") != (got == "dir") {
				t.Errorf("row %q has class %q", r.Name, got)
			}
		}
		if r, body, _ := lookup(t, x, "/<script>x</script>.txt"); r != Found || body != "xss" {
			t.Errorf("the script-named file: %v %q", r, body)
		}
		if _, body, _ := lookup(t, x, "/zdir/"); !strings.Contains(body, `href="../"`) {
			t.Errorf("subdirectory listing lacks a parent link:\n%s", body)
		}
		// A new file changes the directory; the listing follows within the bound.
		mkTree(t, root, "new-"+map[bool]string{false: "a", true: "b"}[walk]+".txt")
		waitFor(t, "listing rebuilt", func() bool {
			_, body, _ := lookup(t, x, "/")
			return strings.Contains(body, "new-")
		})
		// An index file appearing replaces the listing.
		mkTree(t, root, "zdir/index.html=IDX")
		waitFor(t, "index replaces listing", func() bool {
			r, body, _ := lookup(t, x, "/zdir/")
			return r == Found && body == "IDX"
		})
		os.Remove(filepath.Join(root, "zdir/index.html"))
	})
}

func TestPrecompressed(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "app.js=JS", "app.js.br=BR", "app.js.gz=GZ", "old.css.gz=OLD", "plain.txt", "dirvar.js", "dirvar.js.zst/")
	// old.css.gz predates old.css: unusable.
	mkTree(t, root, "old.css=CSS")
	past := mustStat(t, filepath.Join(root, "old.css")).ModTime().Add(-10e9)
	must(t, os.Chtimes(filepath.Join(root, "old.css.gz"), past, past))
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: root, Precompressed: true, Valid: freshBound}, walk)
		e, _, _ := x.Lookup(nil, "/app.js")
		br, zs, gz := e.Variant(Brotli), e.Variant(Zstd), e.Variant(Gzip)
		if br == nil || gz == nil || zs != nil {
			t.Fatalf("variants br=%v zstd=%v gz=%v", br, zs, gz)
		}
		if string(br.Body) != "BR" || string(gz.Body) != "GZ" || br.ContentType != e.ContentType || br.Encoding.String() != "br" {
			t.Errorf("br variant %+v", br)
		}
		if br.ETag == e.ETag || br.ETag == gz.ETag {
			t.Errorf("variant ETags collide: %s %s %s", e.ETag, br.ETag, gz.ETag)
		}
		e.Release(nil)
		for _, p := range []string{"/old.css", "/plain.txt", "/dirvar.js"} {
			e, _, _ := x.Lookup(nil, p)
			for enc := Brotli; enc < numEncodings; enc++ {
				if e.Variant(enc) != nil {
					t.Errorf("%s has a %v variant", p, enc)
				}
			}
			e.Release(nil)
		}
		// A variant appearing later is noticed within the bound.
		mkTree(t, root, "plain.txt.zst=ZS")
		waitFor(t, "new variant", func() bool {
			e, _, _ := x.Lookup(nil, "/plain.txt")
			defer e.Release(nil)
			return e.Variant(Zstd) != nil && string(e.Variant(Zstd).Body) == "ZS"
		})
		os.Remove(filepath.Join(root, "plain.txt.zst"))
	})
	x := newIndex(t, Options{Root: root}, false)
	if e, _, _ := x.Lookup(nil, "/app.js"); e.Variant(Brotli) != nil {
		t.Error("variant offered with Precompressed off")
	}
}

func mustStat(t testing.TB, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestListingShared: a listing revalidated on every lookup (Valid < 0) is
// rebuilt each time, but while its bytes do not change every lookup gets
// the same entry: one body alive however many hold it. A file rewritten in
// place, which does not touch the directory, changes the listing and its
// ETag; the old body, still held, is then loose until released.
func TestListingShared(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "d/a.txt=1", "d/b.txt")
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: root, Listing: true, Valid: -1}, walk)
		var held []*Entry
		for range 8 {
			e, r, err := x.Lookup(nil, "/d/")
			if r != Listing || err != nil {
				t.Fatalf("/d/: %v %v", r, err)
			}
			if len(held) > 0 && e != held[0] {
				t.Errorf("an unchanged listing came back as a new entry")
			}
			held = append(held, e)
		}
		// Both forms count: they are built, cached and freed together.
		size := int64(len(held[0].Body) + len(held[0].JSON().Body))
		if cached, loose := x.ListingBytes(); cached != size || loose != 0 {
			t.Errorf("8 holders of one listing: cached %d loose %d, want %d and 0", cached, loose, size)
		}
		before := x.ListingsBuilt()
		must(t, os.WriteFile(filepath.Join(root, "d/a.txt"), []byte("12345"), 0o644))
		e, _, _ := x.Lookup(nil, "/d/")
		if e == held[0] || e.ETag == held[0].ETag || !strings.Contains(string(e.Body), `data-bytes="5"`) {
			t.Errorf("after a.txt grew: same entry %v, ETag %s (was %s), body %q", e == held[0], e.ETag, held[0].ETag, e.Body)
		}
		if got := x.ListingsBuilt() - before; got != 1 {
			t.Errorf("%d builds for one lookup", got)
		}
		if j := e.JSON(); j == nil || j.ETag == held[0].JSON().ETag || !strings.Contains(string(j.Body), `"size":5,`) {
			t.Errorf("after a.txt grew: the JSON form did not follow: %v", j)
		}
		if cached, loose := x.ListingBytes(); cached != int64(len(e.Body)+len(e.JSON().Body)) || loose != size {
			t.Errorf("after the change: cached %d loose %d, want %d and %d", cached, loose, len(e.Body)+len(e.JSON().Body), size)
		}
		e.Release(nil)
		for _, h := range held {
			h.Release(nil)
		}
		if _, loose := x.ListingBytes(); loose != 0 {
			t.Errorf("all released: %d bytes still loose", loose)
		}
		must(t, os.WriteFile(filepath.Join(root, "d/a.txt"), []byte("1"), 0o644))
	})
}

// TestListingBudget: listings held only by responses (here: replaced in
// the cache while held) count against a quarter of MemoryBudget; a build
// that would pass it fails with ErrMemory and builds nothing, and once the
// holders let go listings are built again.
func TestListingBudget(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "d/")
	x := newIndex(t, Options{Root: root, Listing: true, Valid: -1, MemoryBudget: 64 << 10}, false)
	var held []*Entry
	var refused bool
	for i := 0; i < 64 && !refused; i++ {
		mkTree(t, root, "d/"+strings.Repeat("n", 200)+strconv.Itoa(i))
		before := x.ListingsBuilt()
		e, r, err := x.Lookup(nil, "/d/")
		switch {
		case err == ErrMemory && r == Failed:
			refused = true
			if x.ListingsBuilt() != before {
				t.Error("a refused listing was built")
			}
		case r == Listing:
			held = append(held, e)
		default:
			t.Fatalf("/d/: %v %v", r, err)
		}
		if _, loose := x.ListingBytes(); loose > x.listBudget {
			t.Fatalf("loose listings %d past the budget %d", loose, x.listBudget)
		}
	}
	if !refused {
		t.Fatalf("%d listings held, %d bytes loose: never refused", len(held), x.loose.Load())
	}
	for _, h := range held {
		h.Release(nil)
	}
	if r, _, _ := lookup(t, x, "/d/"); r != Listing {
		t.Errorf("after the holders let go: %v, want a listing", r)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 5: "5 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 10 << 10: "10 KiB",
		1<<20 - 1: "1024 KiB", 1 << 20: "1.0 MiB", 8 << 20: "8.0 MiB", 100 << 20: "100 MiB",
		5 << 30: "5.0 GiB", 3 << 40: "3.0 TiB", 1<<63 - 1: "8.0 EiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestListingJSON: a listing's JSON form lists the rows of its page in the
// same order, with the exact size of files only, the time in RFC 3339 UTC
// and a type per kind; its own ETag and type; and names that are odd in
// JSON (quotes, control bytes, <, UTF-8) come back exact after decoding.
func TestListingJSON(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "b.txt=12", `q"<\>&.txt`, "tab\tname", "été.txt", "Adir/", "link -> b.txt")
	x := newIndex(t, Options{Root: root, Listing: true, Valid: freshBound}, false)
	e, r, err := x.Lookup(nil, "/")
	if r != Listing || err != nil {
		t.Fatalf("/: %v %v", r, err)
	}
	defer e.Release(nil)
	j := e.JSON()
	if j == nil || j.ContentType != "application/json" || j.ETag == e.ETag || j.Size != int64(len(j.Body)) || j.LastModified != e.LastModified {
		t.Fatalf("JSON form %+v (page ETag %s)", j, e.ETag)
	}
	for _, bad := range []string{"<", ">", "&", "\t"} {
		if strings.Contains(string(j.Body), bad) {
			t.Errorf("JSON holds a raw %q: %s", bad, j.Body)
		}
	}
	var doc struct {
		Path      string
		Truncated bool
		Entries   []struct {
			Name, Href, Type, MTime string
			Size                    *int64
		}
	}
	if err := json.Unmarshal(j.Body, &doc); err != nil {
		t.Fatalf("%v: %s", err, j.Body)
	}
	var got []string
	for _, en := range doc.Entries {
		got = append(got, en.Type+":"+en.Name)
		if _, err := time.Parse(time.RFC3339, en.MTime); err != nil || !strings.HasSuffix(en.MTime, "Z") {
			t.Errorf("%s: mtime %q", en.Name, en.MTime)
		}
		if (en.Size != nil) != (en.Type == "file") {
			t.Errorf("%s (%s): size %v", en.Name, en.Type, en.Size)
		}
	}
	want := []string{"dir:Adir", "file:b.txt", "symlink:link", `file:q"<\>&.txt`, "file:tab\tname", "file:été.txt"}
	if doc.Path != "/" || doc.Truncated || !slices.Equal(got, want) {
		t.Errorf("JSON listing %q truncated %v:\n got %q\nwant %q", doc.Path, doc.Truncated, got, want)
	}
	if *doc.Entries[1].Size != 2 || doc.Entries[0].Href != "./Adir/" {
		t.Errorf("b.txt size %d, Adir href %q", *doc.Entries[1].Size, doc.Entries[0].Href)
	}
	if e, _, _ := x.Lookup(nil, "/b.txt"); e.JSON() != nil {
		t.Error("a file has a JSON form")
	}
}

// TestListingBoundBothForms: a directory of long odd names, listed with
// the smallest listMax, stops where both forms together still fit, and
// both say so.
func TestListingBoundBothForms(t *testing.T) {
	root := t.TempDir()
	var names []string
	for i := range 40 {
		names = append(names, "d/"+strings.Repeat("<\x01é&\xff", 40)+strconv.Itoa(i))
	}
	mkTree(t, root, names...)
	x := newIndex(t, Options{Root: root, Listing: true, Valid: freshBound, MemoryBudget: 1}, false)
	e, r, err := x.Lookup(nil, "/d/")
	if r != Listing || err != nil {
		t.Fatalf("/d/: %v %v", r, err)
	}
	defer e.Release(nil)
	total := int64(len(e.Body) + len(e.JSON().Body))
	if total > x.listMax || !strings.Contains(string(e.Body), "Listing truncated") || !strings.Contains(string(e.JSON().Body), `"truncated":true`) {
		t.Errorf("listMax %d: page %d + JSON %d bytes; truncation noted: page %v", x.listMax, len(e.Body), len(e.JSON().Body), strings.Contains(string(e.Body), "truncated"))
	}
}
