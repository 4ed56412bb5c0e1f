package server

import (
	"strings"
	"testing"
)

// One row per case the README promises: what * does not cross, what **
// and **/ do, classes, escapes, and the catch-all.
func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"*", "/", true},
		{"*", "/a/b/c.js", true},
		{"/*.html", "/index.html", true},
		{"/*.html", "/dir/index.html", false}, // * does not cross /
		{"/dir/*", "/dir/a.txt", true},
		{"/dir/*", "/dir/sub/a.txt", false},
		{"/**/*.html", "/index.html", true}, // **/ is zero directories too
		{"/**/*.html", "/a/b/c.html", true},
		{"/**/*.html", "/a/b/c.htm", false},
		{"/**/index.html", "/dir/index.html", true},
		{"/**/index.html", "/dir/xindex.html", false},
		{"/assets/**", "/assets/a/b/c.js", true},
		{"/assets/**", "/assets/", true},
		{"/assets/**", "/assetsx/a", false},
		{"/a**z", "/a/b/z", true},
		{"/?.txt", "/a.txt", true},
		{"/?.txt", "/ab.txt", false},
		{"/?x", "//x", false}, // ? does not match /
		{"/[abc].js", "/b.js", true},
		{"/[a-c].js", "/d.js", false},
		{"/[!a-c].js", "/d.js", true},
		{"/[^a-c].js", "/a.js", false},
		{"/x[!a]y", "/x/y", false}, // a negated class never matches /
		{`/\*.js`, "/*.js", true},
		{`/\*.js`, "/a.js", false},
		{"/index.html", "/index.html", true},
		{"/index.html", "/index.htm", false},
		{"/", "/", true},
		{"/", "/a", false},
	} {
		g, err := compileGlob(tc.glob)
		if err != nil {
			t.Fatalf("%q: %v", tc.glob, err)
		}
		if got := g.match(tc.path); got != tc.want {
			t.Errorf("glob %q, path %q: %v, want %v", tc.glob, tc.path, got, tc.want)
		}
	}
}

// Many stars against a long path that almost matches: the row-per-token
// match stays linear in each, where a backtracking one would not finish.
func TestGlobMatchIsNotExponential(t *testing.T) {
	g, err := compileGlob("/" + strings.Repeat("*a", 30) + "b")
	if err != nil {
		t.Fatal(err)
	}
	if g.match("/" + strings.Repeat("a", 4000)) {
		t.Error("matched a path without the b")
	}
}

func TestParseRules(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    HeaderRule
		wantErr string
	}{
		{in: "Strict-Transport-Security: max-age=63072000", want: HeaderRule{Name: "Strict-Transport-Security", Value: "max-age=63072000"}},
		{in: "X-A:  spaced \t", want: HeaderRule{Name: "X-A", Value: "spaced"}},
		{in: "/assets/**=Access-Control-Allow-Origin: *", want: HeaderRule{Glob: "/assets/**", Name: "Access-Control-Allow-Origin", Value: "*"}},
		{in: "*=Link: </a.css>; rel=preload", want: HeaderRule{Glob: "*", Name: "Link", Value: "</a.css>; rel=preload"}},
		{in: "Content-Security-Policy: default-src 'self'; img-src a=b", want: HeaderRule{Name: "Content-Security-Policy", Value: "default-src 'self'; img-src a=b"}},
		{in: "NoColon", wantErr: `want "Name: value"`},
		{in: "Bad Name: x", wantErr: "field name"},
		{in: ": x", wantErr: "name is empty"},
		{in: "X-A:", wantErr: "a value after the colon"},
		{in: "X-A: a\x00b", wantErr: "control characters"},
		{in: "X-A: a\rb", wantErr: "control characters"},
		{in: "content-length: 1", wantErr: "written by epfs"},
		{in: "Transfer-Encoding: chunked", wantErr: "written by epfs"},
		{in: "Cache-Control: no-cache", wantErr: "--cache-control"},
		{in: "Content-Type: text/plain", wantErr: "--mime-type"},
		{in: "Server: x", wantErr: "--server-header"},
		{in: "/[x=X-A: b", wantErr: "without its ]"},
		{in: "*.html=X-A: b", wantErr: "field name"},
	} {
		got, err := ParseHeader(tc.in)
		checkParsed(t, "ParseHeader", tc.in, err, tc.wantErr, got, tc.want)
	}
	for _, tc := range []struct {
		in      string
		want    CacheRule
		wantErr string
	}{
		{in: "public, max-age=31536000, immutable", want: CacheRule{Glob: "*", Value: "public, max-age=31536000, immutable"}},
		{in: "/index.html=no-cache", want: CacheRule{Glob: "/index.html", Value: "no-cache"}},
		{in: "*=max-age=60", want: CacheRule{Glob: "*", Value: "max-age=60"}},
		{in: "/**/*.html=", want: CacheRule{Glob: "/**/*.html", Value: ""}},
		{in: "*.html=no-cache", wantErr: "GLOB is * or starts with /"},
		{in: "/a=no\ncache", wantErr: "control characters"},
	} {
		got, err := ParseCacheControl(tc.in)
		checkParsed(t, "ParseCacheControl", tc.in, err, tc.wantErr, got, tc.want)
	}
}

// checkParsed checks one parse: the error that was wanted, or the value.
func checkParsed(t *testing.T, fn, in string, err error, wantErr string, got, want any) {
	t.Helper()
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s(%q): error %v, want one saying %q", fn, in, err, wantErr)
		}
	case err != nil:
		t.Errorf("%s(%q): %v", fn, in, err)
	case got != want:
		t.Errorf("%s(%q) = %+v, want %+v", fn, in, got, want)
	}
}

// The fields of a path: the first Cache-Control rule that matches (an
// empty one sends none), then each scoped header that matches, in order.
func TestFieldsForPath(t *testing.T) {
	fr, err := compileRules(
		[]HeaderRule{{Name: "X-All", Value: "1"}, {Glob: "/assets/**", Name: "X-Assets", Value: "2"}, {Glob: "/**/*.js", Name: "X-Js", Value: "3"}},
		[]CacheRule{{Glob: "/**/index.html", Value: "no-cache"}, {Glob: "/private/**", Value: ""}, {Glob: "*", Value: "max-age=60"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(fr.global), "\r\nX-All: 1"; got != want {
		t.Errorf("global fields %q, want %q", got, want)
	}
	for path, want := range map[string]string{
		"/index.html":     "\r\nCache-Control: no-cache",
		"/d/index.html":   "\r\nCache-Control: no-cache",
		"/assets/a.js":    "\r\nCache-Control: max-age=60\r\nX-Assets: 2\r\nX-Js: 3",
		"/private/a.txt":  "",
		"/private/b/c.js": "\r\nX-Js: 3",
		"/a.css":          "\r\nCache-Control: max-age=60",
	} {
		if got := string(fr.forPath(path)); got != want {
			t.Errorf("forPath(%q) = %q, want %q", path, got, want)
		}
	}
	// Entries with the same fields share one slice.
	if a, b := fr.forPath("/x/a.css"), fr.forPath("/y/b.png"); &a[0] != &b[0] {
		t.Error("two paths with the same fields got two slices")
	}
}
