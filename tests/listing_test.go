package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/internal/listingtest"
	"golang.org/x/net/html"
)

// freshWait bounds a wait for a change to show: epfs promises fsindex's
// freshness bound (DefaultValid, 1 s); the harness allows ten times that,
// for -race and a busy machine (a hang guard, not a measurement).
const freshWait = 10 * fsindex.DefaultValid

// TestListingFollowsFiles: a file rewritten in place does not touch its
// directory, yet the directory's listing shows its new size within the
// freshness bound, under a new ETag, so that a conditional request made
// with the old one gets the new listing rather than 304.
func TestListingFollowsFiles(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	file := filepath.Join(f.root, "grow", "f.txt")
	os.MkdirAll(filepath.Dir(file), 0o755)
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := serve(t, f, "--autoindex")
	defer http.DefaultClient.CloseIdleConnections()
	get := func(inm string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/grow/", nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode, r.Header.Get("ETag"), body(t, r)
	}
	status, etag, b := get("")
	if status != 200 || !strings.Contains(b, `data-bytes="1"`) {
		t.Fatalf("GET /grow/: %d %q, want 200 listing f.txt with size 1", status, b)
	}
	fh, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("yyyy")
	fh.Close()
	deadline := time.Now().Add(freshWait)
	for {
		status, newTag, b := get("")
		if status == 200 && strings.Contains(b, `data-bytes="5"`) {
			if newTag == etag {
				t.Errorf("the listing changed but its ETag %s did not", etag)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after f.txt grew to 5 bytes, GET /grow/ still shows: %d %q", freshWait, status, b)
		}
		time.Sleep(fsindex.DefaultValid / 10)
	}
	if status, _, b := get(etag); status != 200 || !strings.Contains(b, `data-bytes="5"`) {
		t.Errorf("GET /grow/ with the old ETag: %d %q, want 200 and the new listing", status, b)
	}
}

// TestBigListingShared: a directory of 10,000 files with 230-byte names
// (an unbounded listing of it is 5.3 MB, more than a cache shard holds).
// Twenty concurrent GETs on a cold cache share one build. Repeated HEADs
// do not rebuild it per request: the fstatat calls the server counts
// (loops and I/O threads) stay within one build per freshness interval
// elapsed, plus two. Two hundred connections that ask for it and do not
// read share one body: the listing bytes the server counts are those of
// one listing (two during a rebuild), and its anonymous resident memory
// grows by less than half of what a private copy each would take. The
// margin is that wide because the readers may arrive as the listing goes
// stale: its rebuild then touches a few MiB of fresh heap (10,000 names
// read, sorted and escaped) that the garbage collector may not yet have
// handed back, and each connection holds its request buffers.
func TestBigListingShared(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	dir := filepath.Join(f.root, "big")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const files = 10000
	for i := range files {
		name := fmt.Sprintf("%05d-%s", i, strings.Repeat("n", 224))
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := serveWatched(t, f, "--autoindex")
	defer http.DefaultClient.CloseIdleConnections()
	fstatats := func() float64 {
		fams := scrape(t, w.admin)
		return metric(fams, "epfs_syscalls_total", "syscall", "newfstatat") + metric(fams, "epfs_io_syscalls_total", "syscall", "newfstatat")
	}

	// Twenty GETs at once on a cold cache: one build, which the lookups
	// that arrive while it runs wait for and share.
	const concurrent = 20
	first, start := fstatats(), time.Now()
	sizes := make(chan int64, concurrent)
	for range concurrent {
		go func() {
			r, err := http.Get(w.base + "/big/")
			if err != nil {
				sizes <- -1
				return
			}
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil || r.StatusCode != 200 || int64(len(b)) != r.ContentLength {
				sizes <- -1
				return
			}
			sizes <- int64(len(b))
		}()
	}
	size := <-sizes
	for range concurrent - 1 {
		if n := <-sizes; n != size || n < 0 {
			t.Fatalf("concurrent GET /big/: %d bytes, another %d", n, size)
		}
	}
	built, intervals := fstatats()-first, float64(time.Since(start)/fsindex.DefaultValid+2)
	t.Logf("listing: %d bytes; %d concurrent GETs on a cold cache made %.0f fstatat (at most %.0f allowed)", size, concurrent, built, files*intervals)
	if built < 1 {
		t.Fatal("building the listing counted no fstatat: the counter is not the one the build uses")
	}
	if built > files*intervals {
		t.Errorf("%d concurrent GETs made %.0f fstatat: more than one build per %v", concurrent, built, fsindex.DefaultValid)
	}

	// At least 30 HEADs, over at least two and a half freshness intervals,
	// so that the rebuilds of a stale listing are counted too.
	heads, builds := 0, w.counter(t, "epfs_listings_built_total")
	before := fstatats()
	start = time.Now()
	for ; heads < 30 || time.Since(start) < 5*fsindex.DefaultValid/2; heads++ {
		time.Sleep(fsindex.DefaultValid / 50)
		r, err := http.Head(w.base + "/big/")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 || r.ContentLength != size {
			t.Fatalf("HEAD /big/: %d, Content-Length %d, want 200 and %d", r.StatusCode, r.ContentLength, size)
		}
	}
	elapsed := time.Since(start)
	calls := fstatats() - before
	builds = w.counter(t, "epfs_listings_built_total") - builds
	intervals = float64(elapsed/fsindex.DefaultValid + 2)
	t.Logf("%d HEADs in %v: %.0f builds, %.0f fstatat (at most %.0f and %.0f allowed)", heads, elapsed, builds, calls, intervals, files*intervals)
	if calls > files*intervals || builds > intervals {
		t.Errorf("%d HEADs made %.0f builds and %.0f fstatat: more than one build per %v", heads, builds, calls, fsindex.DefaultValid)
	}

	const readers = 200
	rssBefore := statusBytes(t, w.cmd.Process.Pid, "RssAnon")
	for range readers {
		c := dial(t, w.addr)
		// A small receive window, so the response stays in flight; the
		// head is read, so it has begun.
		c.(*net.TCPConn).SetReadBuffer(4 << 10)
		c.SetDeadline(time.Now().Add(waitGuard)) // a hang guard
		fmt.Fprintf(c, "GET /big/ HTTP/1.1\r\nHost: x\r\n\r\n")
		r, err := http.ReadResponse(bufio.NewReaderSize(c, 4<<10), nil)
		if err != nil || r.StatusCode != 200 || r.ContentLength != size {
			t.Fatalf("stalled GET /big/: %v %v", r, err)
		}
	}
	live := w.counter(t, "epfs_listing_bytes")
	grew := statusBytes(t, w.cmd.Process.Pid, "RssAnon") - rssBefore
	t.Logf("%d stalled readers: listing bytes %.0f, RssAnon %+.1f MiB", readers, live, float64(grew)/(1<<20))
	// One body; while a rebuild is under way (the listing went stale as
	// the readers arrived) the build's reservation, at most another.
	if live < float64(size) || live > float64(2*size) {
		t.Errorf("listing bytes counted: %.0f, want one body of %d (two while it is rebuilt)", live, size)
	}
	if grew > readers*size/2 {
		t.Errorf("RssAnon grew by %d bytes with %d stalled readers: more than half a %d-byte listing each", grew, readers, size)
	}
}

// listingDoc is the JSON form of a listing, as a script reads it.
type listingDoc struct {
	Path      string `json:"path"`
	Truncated bool   `json:"truncated"`
	Entries   []struct {
		Name  string `json:"name"`
		Href  string `json:"href"`
		Type  string `json:"type"`
		Size  *int64 `json:"size"`
		MTime string `json:"mtime"`
	} `json:"entries"`
}

// getListing asks for /json/ with the given Accept (none when empty) and
// extra fields, and returns the response and its body.
func getListing(t *testing.T, url, method, accept string, extra ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body(t, resp)
}

// TestListingJSON: "Accept: application/json" gets the listing as JSON,
// negotiated by q-value (RFC 9110 §12.5.1), and everything else the page;
// both carry "Vary: Accept", 304s too, and each form has its own ETag. The
// JSON lists the page's rows in the page's order, its names decoded exact
// (quotes, a control byte, markup, UTF-8), a name that is not UTF-8 exact
// through its link.
func TestListingJSON(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(f.root, "json")
	files := map[string]int{`q"uote\.txt`: 3, "tab\there": 1, "été.txt": 2, "Zed": 0, "\xff.bin": 4, "sp ace": 7}
	listingDir(t, dir, []string{"sub", "<script>alert(1)"}, files, "Zed")
	_, base := serve(t, f, "--autoindex")
	u := base + "/json/"

	jr, doc := getListing(t, u, "GET", "application/json")
	if jr.StatusCode != 200 || jr.Header.Get("Content-Type") != "application/json" || jr.Header.Get("Vary") != "Accept" {
		t.Fatalf("JSON: %d %q, Vary %q", jr.StatusCode, jr.Header.Get("Content-Type"), jr.Header.Get("Vary"))
	}
	for _, raw := range []string{"<", ">", "\t"} {
		if strings.Contains(doc, raw) {
			t.Errorf("the JSON holds a raw %q", raw)
		}
	}
	var l listingDoc
	if err := json.Unmarshal([]byte(doc), &l); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	var got []string
	for _, e := range l.Entries {
		got = append(got, e.Type+" "+e.Name)
		if (e.Size != nil) != (e.Type == "file") {
			t.Errorf("%q: size %v for a %s", e.Name, e.Size, e.Type)
		}
		// The link names the file exactly, even where the name is not
		// UTF-8 and JSON shows U+FFFD.
		name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(e.Href, "./"), "/"))
		if err != nil || !strings.HasPrefix(e.Href, "./") {
			t.Errorf("%q: href %q", e.Name, e.Href)
			continue
		}
		// The mtime is the entry's own (lstat: a symlink is not
		// followed), in UTC, to the second.
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if m, err := time.Parse(time.RFC3339, e.MTime); err != nil || m.Location() != time.UTC || !m.Equal(st.ModTime().Truncate(time.Second)) {
			t.Errorf("%q: mtime %q, want %s", e.Name, e.MTime, st.ModTime().UTC().Format(time.RFC3339))
		}
		if n, ok := files[name]; ok && (e.Size == nil || *e.Size != int64(n)) {
			t.Errorf("%q: size %v, want %d", name, e.Size, n)
		}
		if e.Type == "file" {
			if r, b := getListing(t, u+e.Href[2:], "GET", ""); r.StatusCode != 200 || len(b) != files[name] {
				t.Errorf("%q: GET its href: %d, %d bytes", name, r.StatusCode, len(b))
			}
		}
	}
	// Directories first, then the rest by name without case, bytewise
	// past ASCII: "é" (0xc3 0xa9) before the byte 0xff.
	want := []string{"dir <script>alert(1)", "dir sub", "symlink link", `file q"uote\.txt`, "file sp ace", "file tab\there", "file Zed", "file été.txt", "file \ufffd.bin"}
	if l.Path != "/json/" || l.Truncated || !slices.Equal(got, want) {
		t.Errorf("JSON %q (truncated %v):\n got %q\nwant %q", l.Path, l.Truncated, got, want)
	}

	// The page, for a browser, curl, no Accept, a tie, or a malformed one.
	hr, page := getListing(t, u, "GET", "")
	if hr.StatusCode != 200 || !strings.HasPrefix(hr.Header.Get("Content-Type"), "text/html") || hr.Header.Get("Vary") != "Accept" || !strings.Contains(page, "<table>") {
		t.Fatalf("no Accept: %d %q, Vary %q", hr.StatusCode, hr.Header.Get("Content-Type"), hr.Header.Get("Vary"))
	}
	// The same rows in the same order as the page (by link: the page's
	// text, like the JSON's name, cannot show the byte 0xff).
	lp, err := listingtest.Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	var pageHrefs, docHrefs []string
	for _, rw := range lp.Rows {
		pageHrefs = append(pageHrefs, rw.Href)
	}
	for _, e := range l.Entries {
		docHrefs = append(docHrefs, e.Href)
	}
	if !slices.Equal(pageHrefs, docHrefs) {
		t.Errorf("page and JSON rows differ:\n page %q\n JSON %q", pageHrefs, docHrefs)
	}
	if hr.Header.Get("ETag") == jr.Header.Get("ETag") || hr.Header.Get("ETag") == "" {
		t.Errorf("page and JSON share the ETag %s", hr.Header.Get("ETag"))
	}
	for accept, isJSON := range map[string]bool{
		"*/*": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
		"application/json, text/html":                                     false,
		"text/html;q=0.5, application/json":                               true,
		"application/*":                                                   true,
		"*/*;q=0.1, application/json;q=0.2":                               true,
		"application/json;q=0":                                            false,
		"application/json;q=1.5":                                          false,
		"image/png":                                                       false,
	} {
		r, b := getListing(t, u, "GET", accept)
		if (r.Header.Get("Content-Type") == "application/json") != isJSON || (b == doc) != isJSON || r.Header.Get("Vary") != "Accept" {
			t.Errorf("Accept %q: %q, Vary %q; want JSON %v", accept, r.Header.Get("Content-Type"), r.Header.Get("Vary"), isJSON)
		}
	}

	// Conditionals go by each form's own ETag.
	r, _ := getListing(t, u, "GET", "application/json", "If-None-Match", jr.Header.Get("ETag"))
	if r.StatusCode != 304 || r.Header.Get("Vary") != "Accept" || r.Header.Get("ETag") != jr.Header.Get("ETag") {
		t.Errorf("JSON If-None-Match its ETag: %d, Vary %q, ETag %s", r.StatusCode, r.Header.Get("Vary"), r.Header.Get("ETag"))
	}
	r, _ = getListing(t, u, "GET", "", "If-None-Match", hr.Header.Get("ETag"))
	if r.StatusCode != 304 || r.Header.Get("Vary") != "Accept" {
		t.Errorf("page If-None-Match its ETag: %d, Vary %q", r.StatusCode, r.Header.Get("Vary"))
	}
	r, b := getListing(t, u, "GET", "application/json", "If-None-Match", hr.Header.Get("ETag"))
	if r.StatusCode != 200 || b != doc {
		t.Errorf("JSON If-None-Match the page's ETag: %d", r.StatusCode)
	}
	r, b = getListing(t, u, "HEAD", "application/json")
	if r.StatusCode != 200 || b != "" || r.ContentLength != int64(len(doc)) || r.Header.Get("Vary") != "Accept" {
		t.Errorf("HEAD JSON: %d, %d bytes, Content-Length %d (want %d)", r.StatusCode, len(b), r.ContentLength, len(doc))
	}
	// A file is no listing: no Vary: Accept.
	if r, _ := getListing(t, base+"/hello.txt", "GET", "application/json"); r.StatusCode != 200 || r.Header.Get("Vary") != "" {
		t.Errorf("a file with Accept json: %d, Vary %q", r.StatusCode, r.Header.Get("Vary"))
	}
}

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
