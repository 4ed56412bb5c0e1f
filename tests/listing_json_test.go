package tests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/internal/listingtest"
)

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
