package tests

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// do sends one request with the given fields by Go's client and returns the
// response with its body read.
func do(t testing.TB, method, url string, fields ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		req.Header.Set(fields[i], fields[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	return r, body(t, r)
}

// The complaint, then its cure. One bare --cache-control, the usual
// setting for hashed assets, is sent on index.html and on the SPA fallback
// too, so a deploy is invisible to returning visitors; rules, first match
// wins, matched against the file actually served, give index.html (for "/"
// and for "/dir/") and the fallback no-cache and the assets a year. A 304
// and a 206 carry the rule as the 200 does (RFC 9110 §15.4.5).
func TestCacheControlRules(t *testing.T) {
	f := newFixture(t)
	const year = "public, max-age=31536000, immutable"

	t.Run("bare value: everything", func(t *testing.T) {
		p, base := serve(t, f, "--cache-control", year, "--fallback", "/app/index.html")
		for _, path := range []string{"/style.css", "/", "/app/route"} {
			if code, _, h := get(t, base, path); code != 200 || h.Get("Cache-Control") != year {
				t.Errorf("GET %s: %d, Cache-Control %q; want 200 and %q", path, code, h.Get("Cache-Control"), year)
			}
		}
		p.stop(t, syscall.SIGTERM)
	})

	t.Run("rules", func(t *testing.T) {
		p, base := serve(t, f, "--cache-control", "/**/*.html=no-cache", "--cache-control", "/hello.txt=", "--cache-control", year, "--fallback", "/app/index.html")
		for path, want := range map[string]string{
			"/style.css":    year,
			"/big.bin":      year,       // from its descriptor, not memory
			"/":             "no-cache", // /index.html
			"/dir/":         "no-cache", // /dir/index.html
			"/app/route":    "no-cache", // the fallback, /app/index.html
			"/index.html":   "no-cache",
			"/dir/file.txt": year,
			"/hello.txt":    "", // an empty value: no field
		} {
			code, _, h := get(t, base, path)
			if code != 200 || h.Get("Cache-Control") != want || len(h.Values("Cache-Control")) > 1 {
				t.Errorf("GET %s: %d, Cache-Control %q; want 200 and %q once", path, code, h.Values("Cache-Control"), want)
			}
		}
		_, _, h := get(t, base, "/style.css")
		r, _ := do(t, "GET", base+"/style.css", "If-None-Match", h.Get("ETag"))
		if r.StatusCode != 304 || r.Header.Get("Cache-Control") != year {
			t.Errorf("conditional GET: %d, Cache-Control %q; want 304 and %q", r.StatusCode, r.Header.Get("Cache-Control"), year)
		}
		r, _ = do(t, "GET", base+"/", "Range", "bytes=0-3")
		if r.StatusCode != 206 || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("range GET /: %d, Cache-Control %q; want 206 and no-cache", r.StatusCode, r.Header.Get("Cache-Control"))
		}
		p.stop(t, syscall.SIGTERM)
	})
}

// --header adds a field: without a glob to every response (HSTS on a 200,
// a 304, a built-in 404 and the 503 of --max-conns, which comes from
// memory), with one to the file responses whose path matches (CORS on the
// assets alone). X-Content-Type-Options: nosniff is there by default;
// --nosniff=false takes it away, and a --header of its own replaces it.
// The environment variable carries several, one a line, and the config
// file a list, with the same GLOB= scoping.
func TestHeaderFlag(t *testing.T) {
	f := newFixture(t)
	const hsts = "max-age=63072000; includeSubDomains"

	t.Run("global and scoped", func(t *testing.T) {
		p, base := serve(t, f, "--header", "Strict-Transport-Security: "+hsts, "--header", "/dir/**=Access-Control-Allow-Origin: *",
			"--header", "Content-Security-Policy: default-src 'self'; img-src https://a.example/x=y", "--max-conns", "1", "--loops", "1")
		check := func(what string, h http.Header, cors bool) {
			t.Helper()
			if h.Get("Strict-Transport-Security") != hsts || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Content-Security-Policy") != "default-src 'self'; img-src https://a.example/x=y" {
				t.Errorf("%s: HSTS %q, nosniff %q, CSP %q", what, h.Get("Strict-Transport-Security"), h.Values("X-Content-Type-Options"), h.Get("Content-Security-Policy"))
			}
			if got := h.Get("Access-Control-Allow-Origin") == "*"; got != cors {
				t.Errorf("%s: Access-Control-Allow-Origin %q, want it %v", what, h.Get("Access-Control-Allow-Origin"), cors)
			}
		}
		code, _, h := get(t, base, "/dir/file.txt")
		check("200 /dir/file.txt", h, true)
		r, _ := do(t, "GET", base+"/dir/file.txt", "If-None-Match", h.Get("ETag"))
		check("304 /dir/file.txt", r.Header, true)
		if code != 200 || r.StatusCode != 304 {
			t.Errorf("statuses %d, %d; want 200, 304", code, r.StatusCode)
		}
		_, _, h = get(t, base, "/hello.txt")
		check("200 /hello.txt", h, false)
		r, _ = do(t, "GET", base+"/dir/nope")
		check("404 /dir/nope", r.Header, false) // a built-in error has no file, so no scoped field
		if r.StatusCode != 404 {
			t.Errorf("GET /dir/nope: %d", r.StatusCode)
		}

		// The one connection --max-conns allows is held; the next gets
		// the built-in 503, with the global fields.
		held := dial(t, strings.TrimPrefix(base, "http://"))
		defer held.Close()
		held.Write([]byte("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, err := http.ReadResponse(bufio.NewReader(held), nil); err != nil {
			t.Fatal(err)
		}
		out := raw(t, strings.TrimPrefix(base, "http://"), "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 503 ") || !strings.Contains(out, "\r\nStrict-Transport-Security: "+hsts+"\r\n") || !strings.Contains(out, "\r\nX-Content-Type-Options: nosniff\r\n") {
			t.Errorf("over --max-conns: %q; want a 503 with HSTS and nosniff", out)
		}
		p.stop(t, syscall.SIGTERM)
	})

	t.Run("nosniff off and replaced", func(t *testing.T) {
		p, base := serve(t, f, "--nosniff=false")
		if _, _, h := get(t, base, "/hello.txt"); h.Values("X-Content-Type-Options") != nil {
			t.Errorf("--nosniff=false: X-Content-Type-Options %q", h.Values("X-Content-Type-Options"))
		}
		p.stop(t, syscall.SIGTERM)
		p, base = serve(t, f, "--header", "x-content-type-options: nosniff-by-me")
		if _, _, h := get(t, base, "/hello.txt"); strings.Join(h.Values("X-Content-Type-Options"), ",") != "nosniff-by-me" {
			t.Errorf("own --header: X-Content-Type-Options %q, want it once, the operator's", h.Values("X-Content-Type-Options"))
		}
		p.stop(t, syscall.SIGTERM)
	})

	t.Run("environment and config file", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "epfs.toml")
		text := `header = ["X-From-File: 1", "/dir/*=X-Dir: yes"]
cache-control = ["/dir/*=no-store", "max-age=5"]
error-page = ["404=/hello.txt"]
`
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: exec.Command(epfsBin, "serve", "--root", f.root, "--listen", "127.0.0.1:0", "--access-log", "off", "--config", conf), done: make(chan struct{})}
		p.cmd.Env = append(os.Environ(), "EPFS_HEADER=X-Env-A: a\nX-Env-B: b", "EPFS_NOSNIFF=false", "EPFS_CACHE_CONTROL=/dir/*=no-cache\nmax-age=7")
		p.start(t, "listening")
		base := "http://" + strings.Split(p.addr, ",")[0]
		// The environment overrides the file's header list, as for any flag.
		_, _, h := get(t, base, "/dir/file.txt")
		if h.Get("X-Env-A") != "a" || h.Get("X-Env-B") != "b" || h.Get("X-From-File") != "" || h.Get("X-Content-Type-Options") != "" {
			t.Errorf("EPFS_HEADER: %v; want X-Env-A and X-Env-B only", h)
		}
		if h.Get("Cache-Control") != "no-cache" {
			t.Errorf("EPFS_CACHE_CONTROL rules: /dir/file.txt has %q, want no-cache", h.Get("Cache-Control"))
		}
		if code, b, h := get(t, base, "/nope"); code != 404 || b != "hello, world\n" || h.Get("Cache-Control") != "max-age=7" {
			t.Errorf("file's error-page: %d %q, Cache-Control %q; want 404, hello.txt and max-age=7", code, b, h.Get("Cache-Control"))
		}
		p.stop(t, syscall.SIGTERM)

		p = &proc{cmd: exec.Command(epfsBin, "serve", "--root", f.root, "--listen", "127.0.0.1:0", "--access-log", "off", "--config", conf), done: make(chan struct{})}
		p.start(t, "listening")
		base = "http://" + strings.Split(p.addr, ",")[0]
		if _, _, h := get(t, base, "/dir/file.txt"); h.Get("X-From-File") != "1" || h.Get("X-Dir") != "yes" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("config file headers: %v; want X-From-File, X-Dir and nosniff", h)
		}
		if _, _, h := get(t, base, "/dir/file.txt"); h.Get("Cache-Control") != "no-store" {
			t.Errorf("file's cache-control rules: /dir/file.txt has %q, want no-store", h.Get("Cache-Control"))
		}
		if _, _, h := get(t, base, "/hello.txt"); h.Get("X-Dir") != "" || h.Get("Cache-Control") != "max-age=5" {
			t.Errorf("/hello.txt: %v; want no X-Dir (/dir/* does not match) and max-age=5", h)
		}
		p.stop(t, syscall.SIGTERM)
	})
}

// --error-page STATUS=/path serves that file with the original status,
// for the statuses a lookup decides (403, 404, 500) and those decided
// before one (400, 405, 414, 431, 501, 505):
// the page's own headers (its path's rules, never the URL's), no
// validators, no body for HEAD, and neither Range nor a precondition
// applies to it (no 206, 304 or 412). With and without the I/O pool (a
// page not fresh in the cache is looked up off the loop).
func TestErrorPages(t *testing.T) {
	f := newFixture(t)
	page := "<!doctype html><title>not here</title><p>Sorry.\n"
	denied := "<p>no listing</p>\n"
	for name, content := range map[string]string{"errors/404.html": page, "errors/403.html": denied} {
		p := filepath.Join(f.root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, threads := range []string{"2", "0"} {
		t.Run("io-threads "+threads, func(t *testing.T) {
			pages := []string{"404=/errors/404.html", "403=/errors/403.html"}
			for _, st := range []string{"400", "405", "414", "431", "501", "505"} {
				pages = append(pages, st+"=/errors/404.html")
			}
			p, base := serve(t, f, "--io-threads", threads, "--error-page", strings.Join(pages, "\n"),
				"--cache-control", "/errors/*=no-store", "--cache-control", "max-age=60",
				"--header", "/missing*=X-Wrong: the URL's rule")
			addr := strings.TrimPrefix(base, "http://")
			for _, tc := range []struct {
				method, path string
				fields       []string
				status       int
				body         string
			}{
				{"GET", "/missing.txt", nil, 404, page},
				{"GET", "/missing.txt", []string{"Range", "bytes=0-3"}, 404, page},
				{"GET", "/missing.txt", []string{"If-None-Match", "*"}, 404, page},
				{"GET", "/missing.txt", []string{"If-Match", `"nope"`}, 404, page},
				{"GET", "/missing.txt", []string{"If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, 404, page},
				{"GET", "/.env", nil, 404, page},
				{"GET", "/list/", nil, 403, denied}, // a directory without index, no --autoindex
				{"POST", "/hello.txt", nil, 405, page},
				{"GET", "/errors/404.html", nil, 200, page}, // the page itself, as a file
			} {
				r, b := do(t, tc.method, base+tc.path, tc.fields...)
				if r.StatusCode != tc.status || b != tc.body {
					t.Errorf("%s %s %v: %d %q; want %d %q", tc.method, tc.path, tc.fields, r.StatusCode, b, tc.status, tc.body)
					continue
				}
				if r.Header.Get("Content-Type") != "text/html; charset=utf-8" || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Wrong") != "" {
					t.Errorf("%s %s: Content-Type %q, Cache-Control %q, X-Wrong %q; want the page's own: text/html, no-store, none",
						tc.method, tc.path, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"), r.Header.Get("X-Wrong"))
				}
				if tc.status != 200 && (r.Header.Get("ETag") != "" || r.Header.Get("Last-Modified") != "" || r.Header.Get("Accept-Ranges") != "" || r.Header.Get("Content-Range") != "") {
					t.Errorf("%s %s: an error page with validators or ranges: %v", tc.method, tc.path, r.Header)
				}
				if tc.status == 405 && r.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
					t.Errorf("405 page without Allow: %v", r.Header)
				}
			}
			// Statuses decided before any lookup: a target or a head
			// refused (the connection closes after the page, as after
			// the built-in text), a method epfs does not know (asking
			// to close, so that raw's read ends), a version it does not
			// speak.
			for _, tc := range []struct{ req, status string }{
				{"GET /a%2fb HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
				{"GET / HTTP/1.1\r\nHost: x\r\nNo Colon\r\n\r\n", "400"},
				{"GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
				{"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 9000) + "\r\n\r\n", "431"},
				{"BREW / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "501"},
				{"GET / HTTP/3.0\r\nHost: x\r\n\r\n", "505"},
			} {
				out := raw(t, addr, tc.req)
				want := "HTTP/1.1 " + tc.status + " "
				if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "\r\n\r\n"+page) || !strings.Contains(out, "\r\nCache-Control: no-store\r\n") {
					t.Errorf("%.40q: %q; want %s with the page and its own Cache-Control", tc.req, out, tc.status)
				}
				if !strings.Contains(out, "\r\nConnection: close\r\n") {
					t.Errorf("%.40q: no Connection: close", tc.req)
				}
			}
			// HEAD: the page's head, its Content-Length, no body; the
			// next response on the connection follows at once.
			c := dial(t, addr)
			defer c.Close()
			c.Write([]byte("HEAD /missing.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			br := bufio.NewReader(c)
			rs := readResponses(t, br, "HEAD", 1)
			if rs[0].StatusCode != 404 || rs[0].ContentLength != int64(len(page)) {
				t.Errorf("HEAD: %d, Content-Length %d; want 404, %d", rs[0].StatusCode, rs[0].ContentLength, len(page))
			}
			if next := readResponses(t, br, "GET", 1)[0]; next.StatusCode != 200 || body(t, next) != "hello, world\n" {
				t.Errorf("after HEAD: %d; want the next response, 200, hello.txt (HEAD sent a body?)", next.StatusCode)
			}
			p.stop(t, syscall.SIGTERM)
		})
	}
}

// A refused head as a fresh server's first request: its page is not in
// the cache yet, so the I/O pool looks it up while the connection waits,
// and the page still goes out before the close.
func TestErrorPageLookedUpForARefusedHead(t *testing.T) {
	f := newFixture(t)
	_, base := serve(t, f, "--error-page", "400=/hello.txt", "--error-page", "505=/hello.txt")
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: x\r\nNo Colon\r\n\r\n", "GET / HTTP/9.9\r\nHost: x\r\n\r\n"} {
		out := raw(t, strings.TrimPrefix(base, "http://"), req)
		if !strings.HasPrefix(out, "HTTP/1.1 ") || !strings.HasSuffix(out, "\r\n\r\nhello, world\n") || !strings.Contains(out, "\r\nConnection: close\r\n") {
			t.Errorf("%q: %q; want the page, then the close", req, out)
		}
	}
}

// Every mistake in the new flags is one line naming the flag, the value and
// what is wanted, and exits non-zero before anything is served: 2 for a
// value that does not parse, 1 for a page that is not there.
func TestHeaderFlagErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--header", "NoColon"}, 2, `--header NoColon: want "Name: value"`},
		{[]string{"--header", "Bad Name: x"}, 2, `--header "Bad Name: x": want "Name: value" with a field name`},
		{[]string{"--header", "X-A:"}, 2, "--header X-A:: want \"Name: value\" with a value after the colon"},
		{[]string{"--header", "X-A: a\x01b"}, 2, "control characters"},
		{[]string{"--header", "Content-Length: 5"}, 2, "Content-Length is written by epfs itself"},
		{[]string{"--header", "Connection: close"}, 2, "Connection is written by epfs itself"},
		{[]string{"--header", "Cache-Control: no-cache"}, 2, "Cache-Control is set by --cache-control"},
		{[]string{"--header", "/[x=X-A: b"}, 2, "a [ without its ]"},
		{[]string{"--cache-control", "*.html=no-cache"}, 2, "--cache-control *.html=no-cache: want VALUE or GLOB=VALUE"},
		{[]string{"--error-page", "404"}, 2, "--error-page 404: want STATUS=/path"},
		{[]string{"--error-page", "503=/hello.txt"}, 2, "--error-page 503=/hello.txt: want a status epfs answers with a page: 503 comes from memory"},
		{[]string{"--error-page", "416=/hello.txt"}, 2, "416 is about the file itself"},
		{[]string{"--error-page", "418=/hello.txt"}, 2, "want one of the statuses epfs answers with a page: 400, 403, 404, 405, 414, 431, 500, 501, 505"},
		{[]string{"--error-page", "404=hello.txt"}, 2, "want a URL path starting with /"},
		{[]string{"--error-page", "404=/missing.html"}, 1, "--error-page 404=/missing.html: no such file in --root"},
		{[]string{"--error-page", "404=/dir"}, 1, "--error-page 404=/dir: not a regular file"},
	} {
		code, out := runEpfs(t, append([]string{"serve", "--root", f.root, "--listen", "127.0.0.1:0"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != tc.code || len(lines) != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%q: exit %d, %q; want exit %d and one line with %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}

// The Content-Type table as an operator meets it: the built-in types a
// player or feed reader needs, a system table (mime.types(5)) filling in
// what the built-in table lacks but never overriding it, --mime-type over
// both, and an empty --mime-types-file turning the system table off.
func TestServeContentTypes(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"en.vtt", "live.m3u8", "stream.mpd", "feed.rss", "feed.atom", "src.tar", "page.html", "a.sysonly", "b.md", "c.unknown", "D.SYSONLY"} {
		if err := os.WriteFile(filepath.Join(f.root, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	types := filepath.Join(t.TempDir(), "mime.types")
	const table = "# a system table\napplication/x-sysonly sysonly\ntext/x-system-html html htm\ntext/x-system-md md\nnot-a-type broken\n"
	if err := os.WriteFile(types, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, base string, want map[string]string) {
		t.Helper()
		for path, typ := range want {
			code, _, h := get(t, base, path)
			if code != 200 || h.Get("Content-Type") != typ {
				t.Errorf("GET %s: %d, Content-Type %q; want 200 and %q", path, code, h.Get("Content-Type"), typ)
			}
		}
	}

	t.Run("file and overrides", func(t *testing.T) {
		p, base := serve(t, f, "--mime-types-file", types, "--mime-type", "md=text/plain; charset=utf-8", "--mime-type", "tar=application/x-override,.Unknown=image/x-dotted")
		check(t, base, map[string]string{
			"/en.vtt":     "text/vtt; charset=utf-8",
			"/live.m3u8":  "application/vnd.apple.mpegurl",
			"/stream.mpd": "application/dash+xml",
			"/feed.rss":   "application/rss+xml",
			"/feed.atom":  "application/atom+xml",
			"/page.html":  "text/html; charset=utf-8", // the built-in table wins over the file
			"/a.sysonly":  "application/x-sysonly",    // the file fills in
			"/D.SYSONLY":  "application/x-sysonly",    // extensions compare without case
			"/b.md":       "text/plain; charset=utf-8",
			"/src.tar":    "application/x-override",
			"/c.unknown":  "image/x-dotted",
		})
		// The start-up line says what the table holds: one extension
		// from the file that the built-in table lacks, one line skipped.
		line := logLine(p, "content types")
		if line["file"] != types || line["from_file"] != 1.0 || line["skipped"] != 1.0 || line["overrides"] != 3.0 {
			t.Errorf("start-up line %v: want file %s, from_file 1, skipped 1, overrides 3", line, types)
		}
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit %d", code)
		}
	})

	t.Run("no system table", func(t *testing.T) {
		p, base := serve(t, f, "--mime-types-file", "")
		check(t, base, map[string]string{
			"/a.sysonly": "application/octet-stream",
			"/src.tar":   "application/x-tar",
			"/b.md":      "text/markdown; charset=utf-8",
		})
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit %d", code)
		}
	})
}
