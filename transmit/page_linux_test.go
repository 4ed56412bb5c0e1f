//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/epfs/epfs/poller/syscount"
)

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
