//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
)

// rulesEnv serves a small tree over one keep-alive connection:
//
//	a.txt             13 bytes, held in memory by fsindex
//	big.bin           100 KiB, sent from its descriptor
//	v.js, .br, .gz    a file with two precompressed variants
//	d/index.html      a directory with an index
//	old.txt           modified an hour ago (a strong Last-Modified)
//	empty             0 bytes
type rulesEnv struct {
	*env
	tc  *testConn
	br  *bufio.Reader
	big []byte
	old time.Time
}

func newRulesEnv(t *testing.T, cfg Config) *rulesEnv {
	e := newEnv(t, cfg)
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	e.file("a.txt", []byte("hello, world\n"))
	e.file("big.bin", big)
	e.file("v.js", []byte(strings.Repeat("var x = 1;\n", 100)))
	e.file("v.js.br", []byte("BROTLI"))
	e.file("v.js.gz", []byte("GZIP-BYTES"))
	e.file("d/index.html", []byte("<p>index</p>\n"))
	e.file("old.txt", []byte("old contents\n"))
	e.file("empty", nil)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(filepath.Join(e.root, "old.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	tc, client := e.conn(0)
	return &rulesEnv{env: e, tc: tc, br: bufio.NewReader(client), big: big, old: old}
}

// do sends raw and returns the response the client read and how the server
// ended it.
func (re *rulesEnv) do(t *testing.T, raw string) (*http.Response, []byte, ended) {
	t.Helper()
	method := raw[:strings.IndexByte(raw, ' ')]
	re.tc.send(raw)
	resp, body := readResponse(t, re.br, method)
	return resp, body, re.tc.wait()
}

// etagOf fetches the ETag the server gives path.
func (re *rulesEnv) etagOf(t *testing.T, path, extra string) string {
	t.Helper()
	resp, _, _ := re.do(t, "HEAD "+path+" HTTP/1.1\r\nHost: x\r\n"+extra+"\r\n")
	return resp.Header.Get("ETag")
}

type rule struct {
	name   string // the RFC section and what it says
	req    string // request head, without the final blank line
	status int
	header map[string]string // field → value; "" means absent
	body   string            // expected body if non-empty
	check  func(t *testing.T, resp *http.Response, body []byte)
}

func TestRules(t *testing.T) {
	re := newRulesEnv(t, Config{ServerHeader: "epfs-test", CacheControl: "max-age=60"})
	etagA := re.etagOf(t, "/a.txt", "")
	etagBig := re.etagOf(t, "/big.bin", "")
	etagBr := re.etagOf(t, "/v.js", "Accept-Encoding: br\r\n")
	etagV := re.etagOf(t, "/v.js", "")
	past := "Sat, 01 Jan 2000 00:00:00 GMT"
	future := "Fri, 01 Jan 2100 00:00:00 GMT"
	oldDate := re.old.UTC().Format(http.TimeFormat)
	weakA := "W/" + etagA

	rules := []rule{
		// Methods.
		{name: "§9.3.1 GET serves the file with its validators", req: "GET /a.txt", status: 200,
			header: map[string]string{"Content-Length": "13", "Content-Type": "text/plain; charset=utf-8", "Accept-Ranges": "bytes",
				"ETag": etagA, "Cache-Control": "max-age=60", "Server": "epfs-test", "Connection": "", "Vary": ""},
			body: "hello, world\n"},
		{name: "§9.3.2 HEAD has GET's fields and no body", req: "HEAD /big.bin", status: 200,
			header: map[string]string{"Content-Length": "102400", "ETag": etagBig, "Accept-Ranges": "bytes"}},
		{name: "§9.3.7 OPTIONS is 204 with Allow and no Content-Length", req: "OPTIONS /a.txt", status: 204,
			header: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Content-Length": ""}},
		{name: "§15.5.6 a known method not allowed is 405 with Allow", req: "POST /a.txt", status: 405,
			header: map[string]string{"Allow": "GET, HEAD, OPTIONS"}, body: "405 Method Not Allowed\n"},
		{name: "§15.5.6 DELETE is 405", req: "DELETE /a.txt", status: 405},
		{name: "§15.6.2 an unknown method is 501", req: "BREW /a.txt", status: 501, body: "501 Not Implemented\n"},
		// Lookup results.
		{name: "§15.5.5 missing is 404 with a short body", req: "GET /nope", status: 404, body: "404 Not Found\n",
			header: map[string]string{"Content-Type": "text/plain; charset=utf-8", "ETag": "", "Accept-Ranges": ""}},
		{name: "§9.3.2 HEAD of a 404 keeps Content-Length", req: "HEAD /nope", status: 404, header: map[string]string{"Content-Length": "14"}},
		{name: "§15.4.2 directory without slash is 301 to path/", req: "GET /d", status: 301, header: map[string]string{"Location": "/d/"}},
		{name: "§15.4.2 the 301 keeps the query", req: "GET /d?x=1&y", status: 301, header: map[string]string{"Location": "/d/?x=1&y"}},
		{name: "§15.3.1 directory with slash serves its index", req: "GET /d/", status: 200, body: "<p>index</p>\n"},
		// Preconditions, §13.2.2 order.
		{name: "§13.1.1 If-Match strong match serves", req: "GET /a.txt\r\nIf-Match: " + etagA, status: 200},
		{name: "§13.1.1 If-Match * serves", req: "GET /a.txt\r\nIf-Match: *", status: 200},
		{name: "§13.1.1 If-Match mismatch is 412", req: "GET /a.txt\r\nIf-Match: \"nope\"", status: 412},
		{name: "§13.1.1 If-Match uses the strong comparison", req: "GET /a.txt\r\nIf-Match: " + weakA, status: 412},
		{name: "§13.1.1 If-Match split over two lines", req: "GET /a.txt\r\nIf-Match: \"x\"\r\nIf-Match: " + etagA, status: 200},
		{name: "§13.1.4 If-Unmodified-Since in the past is 412", req: "GET /a.txt\r\nIf-Unmodified-Since: " + past, status: 412},
		{name: "§13.1.4 If-Unmodified-Since in the future serves", req: "GET /a.txt\r\nIf-Unmodified-Since: " + future, status: 200},
		{name: "§13.2.2 If-Unmodified-Since is ignored when If-Match is present", req: "GET /a.txt\r\nIf-Match: " + etagA + "\r\nIf-Unmodified-Since: " + past, status: 200},
		{name: "§13.1.4 an invalid If-Unmodified-Since is ignored", req: "GET /a.txt\r\nIf-Unmodified-Since: yesterday", status: 200},
		{name: "§13.1.2 If-None-Match match is 304 with validators and no body", req: "GET /a.txt\r\nIf-None-Match: " + etagA, status: 304,
			header: map[string]string{"ETag": etagA, "Cache-Control": "max-age=60", "Content-Length": "", "Content-Type": ""},
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Date") == "" {
					t.Errorf("304 lacks Last-Modified or Date: %v", resp.Header)
				}
			}},
		{name: "§13.1.2 If-None-Match uses the weak comparison", req: "GET /a.txt\r\nIf-None-Match: " + weakA, status: 304},
		{name: "§13.1.2 If-None-Match * is 304", req: "HEAD /a.txt\r\nIf-None-Match: *", status: 304},
		{name: "§13.1.2 If-None-Match in a list", req: "GET /a.txt\r\nIf-None-Match: \"x\", " + etagA, status: 304},
		{name: "§13.1.2 If-None-Match mismatch serves", req: "GET /a.txt\r\nIf-None-Match: \"x\"", status: 200},
		{name: "§13.1.3 If-Modified-Since not older than the file is 304", req: "GET /a.txt\r\nIf-Modified-Since: " + future, status: 304},
		{name: "§13.1.3 If-Modified-Since older than the file serves", req: "GET /a.txt\r\nIf-Modified-Since: " + past, status: 200},
		{name: "§13.2.2 If-Modified-Since is ignored when If-None-Match is present", req: "GET /a.txt\r\nIf-None-Match: \"x\"\r\nIf-Modified-Since: " + future, status: 200},
		{name: "§13.2.2 If-Match failure wins over If-None-Match", req: "GET /a.txt\r\nIf-Match: \"x\"\r\nIf-None-Match: " + etagA, status: 412},
		// Ranges.
		{name: "§14.1.2 one range is 206 with Content-Range", req: "GET /big.bin\r\nRange: bytes=10-19", status: 206,
			header: map[string]string{"Content-Range": "bytes 10-19/102400", "Content-Length": "10"}, body: string(re.big[10:20])},
		{name: "§14.1.2 a suffix range", req: "GET /big.bin\r\nRange: bytes=-5", status: 206,
			header: map[string]string{"Content-Range": "bytes 102395-102399/102400"}, body: string(re.big[102395:])},
		{name: "§14.1.2 an open range", req: "GET /big.bin\r\nRange: bytes=102000-", status: 206, body: string(re.big[102000:])},
		{name: "§14.1.2 a range on a file in memory", req: "GET /a.txt\r\nRange: bytes=7-11", status: 206, body: "world"},
		{name: "§14.1.2 last-pos past the end is clamped", req: "GET /a.txt\r\nRange: bytes=7-99", status: 206,
			header: map[string]string{"Content-Range": "bytes 7-12/13"}},
		{name: "§15.5.17 nothing satisfiable is 416 with bytes */size", req: "GET /big.bin\r\nRange: bytes=200000-", status: 416,
			header: map[string]string{"Content-Range": "bytes */102400"}, body: "416 Range Not Satisfiable\n"},
		{name: "§14.2 an invalid Range is ignored", req: "GET /a.txt\r\nRange: bytes=x-y", status: 200, body: "hello, world\n"},
		{name: "§14.2 another unit is ignored", req: "GET /a.txt\r\nRange: items=0-1", status: 200},
		{name: "§14.2 Range is ignored for HEAD", req: "HEAD /a.txt\r\nRange: bytes=0-1", status: 200, header: map[string]string{"Content-Length": "13"}},
		{name: "§14.2 overlapping and adjacent ranges are coalesced", req: "GET /big.bin\r\nRange: bytes=0-4,5-9,3-7", status: 206,
			header: map[string]string{"Content-Range": "bytes 0-9/102400"}, body: string(re.big[:10])},
		{name: "§14.2 too many ranges: whole 200", req: "GET /big.bin\r\nRange: bytes=" + manyRanges(17), status: 200,
			header: map[string]string{"Content-Length": "102400"}},
		{name: "§14.2 ranges adding up to more than the file: whole 200", req: "GET /big.bin\r\nRange: bytes=0-,1-,2-", status: 200},
		{name: "§14.2 Range on an empty file is ignored", req: "GET /empty\r\nRange: bytes=-5", status: 200, header: map[string]string{"Content-Length": "0"}},
		{name: "§15.3.7.2 several ranges are multipart/byteranges", req: "GET /big.bin\r\nRange: bytes=100-199, 0-9,50000-50009", status: 206,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				checkMultipart(t, resp, body, re.big, [][2]int{{0, 10}, {100, 200}, {50000, 50010}})
			}},
		{name: "§15.3.7.2 multipart from memory", req: "GET /a.txt\r\nRange: bytes=0-0,-1", status: 206,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				checkMultipart(t, resp, body, []byte("hello, world\n"), [][2]int{{0, 1}, {12, 13}})
			}},
		// If-Range.
		{name: "§13.1.5 If-Range with the current ETag applies the Range", req: "GET /big.bin\r\nIf-Range: " + etagBig + "\r\nRange: bytes=0-1", status: 206},
		{name: "§13.1.5 If-Range with another ETag sends the whole", req: "GET /big.bin\r\nIf-Range: \"x\"\r\nRange: bytes=0-1", status: 200},
		{name: "§13.1.5 If-Range with a weak ETag never matches", req: "GET /a.txt\r\nIf-Range: " + weakA + "\r\nRange: bytes=0-1", status: 200},
		{name: "§13.1.5 If-Range with the exact, strong Last-Modified", req: "GET /old.txt\r\nIf-Range: " + oldDate + "\r\nRange: bytes=0-2", status: 206, body: "old"},
		{name: "§8.8.2.2 a Last-Modified within a second of Date is weak", req: "GET /a.txt\r\nIf-Range: " + http.TimeFormat + "\r\nRange: bytes=0-1", status: 200},
		// Content codings.
		{name: "§12.5.3 br is chosen when accepted", req: "GET /v.js\r\nAccept-Encoding: gzip, br", status: 200,
			header: map[string]string{"Content-Encoding": "br", "Vary": "Accept-Encoding", "Content-Length": "6", "ETag": etagBr, "Content-Type": "text/javascript; charset=utf-8"},
			body:   "BROTLI"},
		{name: "§12.5.3 q-values are honoured", req: "GET /v.js\r\nAccept-Encoding: br;q=0.5, gzip", status: 200,
			header: map[string]string{"Content-Encoding": "gzip"}, body: "GZIP-BYTES"},
		{name: "§12.5.3 identity when nothing listed exists", req: "GET /v.js\r\nAccept-Encoding: zstd", status: 200,
			header: map[string]string{"Content-Encoding": "", "Vary": "Accept-Encoding", "ETag": etagV}},
		{name: "§12.5.5 Vary without Accept-Encoding", req: "GET /v.js", status: 200, header: map[string]string{"Vary": "Accept-Encoding", "Content-Encoding": ""}},
		{name: "§12.5.5 a 304 of a variant carries Vary", req: "GET /v.js\r\nAccept-Encoding: br\r\nIf-None-Match: " + etagBr, status: 304,
			header: map[string]string{"Vary": "Accept-Encoding", "ETag": etagBr}},
		{name: "§14.1 ranges apply to the chosen coding", req: "GET /v.js\r\nAccept-Encoding: br\r\nRange: bytes=1-2", status: 206,
			header: map[string]string{"Content-Range": "bytes 1-2/6", "Content-Encoding": "br"}, body: "RO"},
		{name: "§12.5.5 a 412 of a resource with variants carries Vary", req: "GET /v.js\r\nIf-Match: \"x\"", status: 412, header: map[string]string{"Vary": "Accept-Encoding"}},
		// Connection.
		{name: "RFC 9112 §9.3 HTTP/1.0 keep-alive is announced", req: "GET /a.txt HTTP/1.0\r\nConnection: keep-alive", status: 200, header: map[string]string{"Connection": "keep-alive"}},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			raw := r.req
			line, rest, _ := strings.Cut(raw, "\r\n")
			if !strings.Contains(line, " HTTP/") {
				line += " HTTP/1.1"
			}
			raw = line + "\r\nHost: x\r\n"
			if rest != "" {
				raw += rest + "\r\n"
			}
			resp, body, end := re.do(t, raw+"\r\n")
			if resp.StatusCode != r.status || end.status != r.status {
				t.Fatalf("status %d (server %d), want %d", resp.StatusCode, end.status, r.status)
			}
			if end.out != Done || end.close {
				t.Fatalf("ended %+v, want Done on a kept connection", end)
			}
			for k, v := range r.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if r.body != "" && string(body) != r.body {
				t.Errorf("body %q, want %q", trunc(body), trunc([]byte(r.body)))
			}
			if resp.Header.Get("Date") == "" {
				t.Errorf("no Date")
			}
			if r.check != nil {
				r.check(t, resp, body)
			}
		})
	}
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func manyRanges(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", i*10, i*10+1)
	}
	return b.String()
}

// checkMultipart parses a multipart/byteranges body and compares each part
// with data[want[i][0]:want[i][1]].
func checkMultipart(t *testing.T, resp *http.Response, body, data []byte, want [][2]int) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("%d parts, want %d", i, len(want))
			}
			return
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		got, _ := io.ReadAll(p)
		if i >= len(want) {
			t.Fatalf("extra part %d", i)
		}
		w := data[want[i][0]:want[i][1]]
		if !bytes.Equal(got, w) {
			t.Errorf("part %d: %q, want %q", i, trunc(got), trunc(w))
		}
		if cr := p.Header.Get("Content-Range"); !strings.HasPrefix(cr, "bytes ") {
			t.Errorf("part %d Content-Range %q", i, cr)
		}
	}
}

// TestErrors: PlanError answers with the status, a short body, exact framing
// and Connection: close.
func TestErrors(t *testing.T) {
	e := newEnv(t, Config{})
	for _, status := range []int{400, 414, 431, 500, 501, 503, 505} {
		tc, client := e.conn(0)
		tc.submit(func(*syscount.Counters) { tc.resp.PlanError(tc.w, nil, status, false) })
		resp, body := readResponse(t, bufio.NewReader(client), "GET")
		end := tc.wait()
		if resp.StatusCode != status || !resp.Close || !end.close || end.out != Done {
			t.Errorf("%d: got %d close=%v ended %+v", status, resp.StatusCode, resp.Close, end)
		}
		if want := errorBody(status); !bytes.Equal(body, want) {
			t.Errorf("%d: body %q, want %q", status, body, want)
		}
		if resp.Header.Get("Server") != "" {
			t.Errorf("Server field sent with ServerHeader empty")
		}
	}
}

// TestErrorsFollowTheRequest: PlanError given the request frames the error
// for it: no body for HEAD (RFC 9110 §9.3.2) though Content-Length stays,
// and "Connection: keep-alive" on a persistent answer to HTTP/1.0 (RFC 9112
// §9.3), which without it the client would take as closing.
func TestErrorsFollowTheRequest(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tt := range []struct {
		raw, method string
		status      int
		keepAlive   bool
		wantField   string // the Connection field sent
	}{
		{"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", 500, true, ""},
		{"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", 400, false, "close"},
		{"HEAD /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "HEAD", 503, true, "keep-alive"},
		{"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", 503, true, "keep-alive"},
		{"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", 500, false, "close"},
		{"GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 500, true, ""},
	} {
		req := parse(t, tt.raw)
		tc, client := e.conn(0)
		tc.submit(func(*syscount.Counters) { tc.resp.PlanError(tc.w, req, tt.status, tt.keepAlive) })
		end := tc.wait()
		// Read the head by hand: net/http drops the Connection field.
		client.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard
		buf := make([]byte, 0, 1024)
		for !bytes.Contains(buf, []byte("\r\n\r\n")) || int64(len(buf)) < end.sent {
			n, err := client.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				t.Fatalf("%q: %v after %q", tt.raw, err, buf)
			}
		}
		head, rest, _ := bytes.Cut(buf, []byte("\r\n\r\n"))
		body := errorBody(tt.status)
		wantRest := string(body)
		if tt.method == "HEAD" {
			wantRest = ""
		}
		if string(rest) != wantRest {
			t.Errorf("%q %d: %q after the head, want %q", tt.raw, tt.status, rest, wantRest)
		}
		if !bytes.Contains(head, []byte(fmt.Sprintf("\r\nContent-Length: %d", len(body)))) {
			t.Errorf("%q %d: no Content-Length %d in %q", tt.raw, tt.status, len(body), head)
		}
		conn := ""
		if _, v, ok := bytes.Cut(head, []byte("\r\nConnection: ")); ok {
			conn, _, _ = strings.Cut(string(v), "\r\n")
		}
		if conn != tt.wantField || end.close == tt.keepAlive {
			t.Errorf("%q %d keepAlive=%v: Connection %q, close %v; want %q", tt.raw, tt.status, tt.keepAlive, conn, end.close, tt.wantField)
		}
	}
}

// TestConnectionClose: RFC 9112 §9.6, a response after which the server
// closes says so.
func TestConnectionClose(t *testing.T) {
	re := newRulesEnv(t, Config{})
	for _, raw := range []string{
		"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /big.bin HTTP/1.0\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	} {
		// The connection closes after each: a fresh one per request.
		tc, client := re.conn(0)
		re.tc, re.br = tc, bufio.NewReader(client)
		resp, _, end := re.do(t, raw)
		// net/http reports "Connection: close" as resp.Close and drops the field.
		if !resp.Close || !end.close {
			t.Errorf("%q: client saw close %v, server close %v", raw, resp.Close, end.close)
		}
	}
}

// PlanPage: the status given, the page's type, length and fields, the
// Config's fields, no validators; a 405 lists Allow; Range and
// preconditions change nothing; HEAD has no body, and the next response
// on the connection follows it directly; a page from a descriptor goes
// out whole.
func TestPlanPage(t *testing.T) {
	e := newEnv(t, Config{ServerHeader: "epfs", Fields: []byte("\r\nX-All: 1")})
	page := []byte("<p>not here</p>\n")
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB: from its descriptor
	e.file("404.html", page)
	e.file("big.html", big)
	tc, client := e.conn(0)
	br := bufio.NewReader(client)
	for _, c := range []struct {
		raw    string
		file   string
		status int
		body   []byte
	}{
		{"GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "/404.html", 404, page},
		{"GET /x HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nIf-None-Match: *\r\n\r\n", "/404.html", 404, page},
		{"GET /x HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\n\r\n", "/404.html", 403, page},
		{"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n", "/404.html", 405, page},
		{"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", "/404.html", 404, nil},
		{"GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "/big.html", 500, big},
	} {
		req := parse(t, c.raw)
		tc.submit(func(sc *syscount.Counters) {
			en, _, err := tc.x.Lookup(sc, c.file)
			if err != nil || en == nil {
				t.Errorf("Lookup(%s): %v", c.file, err)
				return
			}
			tc.resp.PlanPage(tc.w, req, c.status, en, true)
		})
		method := "GET"
		if c.body == nil {
			method = "HEAD"
		}
		resp, body := readResponse(t, br, method)
		tc.wait()
		h := resp.Header
		size := len(c.body)
		if c.body == nil {
			size = len(page)
		}
		if resp.StatusCode != c.status || !bytes.Equal(body, c.body) || resp.ContentLength != int64(size) {
			t.Errorf("%q: %d, %d bytes, Content-Length %d; want %d, %d, %d", c.raw, resp.StatusCode, len(body), resp.ContentLength, c.status, len(c.body), size)
		}
		if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("X-All") != "1" || h.Get("ETag") != "" || h.Get("Last-Modified") != "" || h.Get("Accept-Ranges") != "" {
			t.Errorf("%q: fields %v", c.raw, h)
		}
		if got := h.Get("Allow"); (c.status == 405) != (got == allowed) {
			t.Errorf("%q: Allow %q", c.raw, got)
		}
	}
}
