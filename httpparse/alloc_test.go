//go:build !race

// The race detector changes allocation behaviour, so these run without it.

package httpparse

import (
	"testing"
	"time"
)

func TestNoAllocations(t *testing.T) {
	browser, curl := []byte(browserGET), []byte(curlGET)
	bad := []byte(crlf("GET / HTTP/1.1\nHost: a\nX: y\n z\n\n"))
	var p Parser
	var req Request
	dst := make([]byte, 0, 256)
	var ranges [16]ByteRange
	cases := []struct {
		name string
		fn   func()
	}{
		{"Parse browser GET", func() { p.Parse(browser, &req) }},
		{"Parse curl GET", func() { p.Parse(curl, &req) }},
		{"Parse error", func() { p.Reset(); p.Parse(bad, &req) }},
		{"Parse byte at a time", func() {
			for i := 1; i <= len(curl); i++ {
				p.Parse(curl[:i], &req)
			}
		}},
		{"Header", func() { req.Header("accept") }},
		{"DecodePath", func() { DecodePath(dst, []byte("/a/./b/../%63%2e%2E/d?x")) }},
		{"ParseRange", func() { ParseRange([]byte("bytes=0-99, 200-, -50"), 1000, ranges[:]) }},
		{"ParseHTTPDate", func() { ParseHTTPDate([]byte("Sunday, 06-Nov-94 08:49:37 GMT")) }},
		{"AppendHTTPDate", func() { AppendHTTPDate(dst[:0], time.Unix(784111777, 0)) }},
		{"MatchETag", func() { MatchETag([]byte(`W/"a", "b"`), []byte(`"b"`), false) }},
		{"IfRangeMatch", func() { IfRangeMatch([]byte("Sun, 06 Nov 1994 08:49:37 GMT"), nil, 784111777) }},
		{"ParseAcceptEncoding", func() { ParseAcceptEncoding([]byte("gzip;q=0.8, br, *;q=0")) }},
		{"MediaQuality", func() {
			MediaQuality([]byte(`text/html;charset="utf-8";q=0.9, application/*;q=0.5, */*;q=0.1`), "application", "json")
		}},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(100, tc.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tc.name, n)
		}
	}
}
