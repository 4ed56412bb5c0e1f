package httpparse

import (
	"strings"
	"testing"
)

// parseCases: one row per rule, with the RFC section it enforces. A want of
// 0 means the request must parse; check then inspects the result.
var parseCases = []struct {
	rfc   string
	name  string
	in    string
	want  int
	check func(result) string // returns "" when fine
}{
	// Request line (RFC 9112 §3).
	{"9112 §3", "minimal GET", crlf("GET / HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Method == "GET" && r.MethodID == MethodGET && r.Target == "/" && r.Version == "HTTP/1.1" && r.Minor == 1, "request line")
	}},
	{"9112 §3", "unknown method parses", crlf("PURGE / HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.MethodID == MethodUnknown && r.Method == "PURGE", "method")
	}},
	{"9110 §9.1", "method is case-sensitive", crlf("get / HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.MethodID == MethodUnknown, "lower-case get is not GET")
	}},
	{"9112 §3.1", "method not a token", crlf("G(T / HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3", "empty method", crlf(" / HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3", "two spaces", crlf("GET  / HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3", "tab separator", crlf("GET\t/ HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3", "trailing space", crlf("GET / HTTP/1.1 \nHost: a\n\n"), 400, nil},
	{"9112 §3", "HTTP/0.9 style line", crlf("GET /\n\n"), 400, nil},
	{"9112 §3", "method only", crlf("GET\n\n"), 400, nil},

	// Version (RFC 9112 §2.3).
	{"9112 §2.3", "HTTP/1.0", crlf("GET / HTTP/1.0\n\n"), 0, func(r result) string {
		return expect(r.Minor == 0 && !r.KeepAlive, "1.0 not persistent by default")
	}},
	{"9110 §2.5", "HTTP/1.2 is read as 1.1", crlf("GET / HTTP/1.2\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Minor == 1 && r.KeepAlive, "1.2 as 1.1, persistent")
	}},
	{"9110 §2.5", "HTTP/1.9 needs a Host, as 1.1 does", crlf("GET / HTTP/1.9\n\n"), 400, nil},
	{"9110 §2.5", "HTTP/1.2 with close", crlf("GET / HTTP/1.2\nHost: a\nConnection: close\n\n"), 0, func(r result) string {
		return expect(r.Minor == 1 && !r.KeepAlive, "close honoured")
	}},
	{"9112 §2.3", "HTTP/2.0", crlf("GET / HTTP/2.0\nHost: a\n\n"), 505, nil},
	{"9112 §2.3", "HTTP/0.9", crlf("GET / HTTP/0.9\n\n"), 505, nil},
	{"9112 §2.3", "two-digit minor", crlf("GET / HTTP/1.10\nHost: a\n\n"), 400, nil},
	{"9112 §2.3", "HTTP-name is case-sensitive", crlf("GET / http/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §2.3", "no minor", crlf("GET / HTTP/1\nHost: a\n\n"), 400, nil},
	{"9112 §2.3", "letters", crlf("GET / HTTP/a.b\nHost: a\n\n"), 400, nil},
	{"9112 §2.3", "not HTTP", crlf("GET / FTP/1.1\nHost: a\n\n"), 400, nil},

	// Request-target (RFC 9112 §3.2, RFC 3986).
	{"9112 §3.2.1", "origin-form with query", crlf("GET /a/b?x=1&y HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Path == "/a/b" && r.Query == "x=1&y" && !r.QueryNil, "path and query")
	}},
	{"9112 §3.2.1", "no query", crlf("GET /a HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.QueryNil, "query nil")
	}},
	{"9112 §3.2.1", "empty query", crlf("GET /a? HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(!r.QueryNil && r.Query == "" && r.Path == "/a", "empty query is not nil")
	}},
	{"9112 §3.2.2", "absolute-form authority wins over Host", crlf("GET http://example.org:8080/p?q HTTP/1.1\nHost: other\n\n"), 0, func(r result) string {
		return expect(r.Host == "example.org:8080" && r.Path == "/p" && r.Query == "q", "authority")
	}},
	{"9112 §3.2.2", "absolute-form scheme is case-insensitive", crlf("GET HTTPS://a/ HTTP/1.1\nHost: a\n\n"), 0, nil},
	{"9110 §4.2.3", "absolute-form empty path is /", crlf("GET http://a HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Path == "/" && r.QueryNil, "path /")
	}},
	{"9110 §4.2.3", "absolute-form empty path with query", crlf("GET http://a?x HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Path == "/" && r.Query == "x", "path / and query")
	}},
	{"9112 §3.2.2", "absolute-form needs a Host field too", crlf("GET http://a/ HTTP/1.1\n\n"), 400, nil},
	{"9110 §4.2.1", "absolute-form empty host", crlf("GET http:///p HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9110 §4.2.1", "absolute-form no authority", crlf("GET http:/p HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9110 §4.2.4", "absolute-form userinfo", crlf("GET http://user:pw@a/ HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3.2.2", "absolute-form other scheme", crlf("GET ftp://a/ HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3.2.4", "asterisk-form with OPTIONS", crlf("OPTIONS * HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Path == "*", "path *")
	}},
	{"9112 §3.2.4", "asterisk-form with GET", crlf("GET * HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3.2.3", "authority-form", crlf("CONNECT example.com:443 HTTP/1.1\nHost: example.com:443\n\n"), 400, nil},
	{"9112 §3.2", "relative path", crlf("GET a/b HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"9112 §3.2", "fragment", crlf("GET /a#b HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2.1", "bad percent escape", crlf("GET /a%zz HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2.1", "truncated percent escape", crlf("GET /a% HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2.1", "bad percent escape in query", crlf("GET /a?%g0 HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2", "raw non-ASCII", crlf("GET /caf\xc3\xa9 HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2", "backslash", crlf("GET /a\\b HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2", "double quote", crlf("GET /a\"b HTTP/1.1\nHost: a\n\n"), 400, nil},
	{"3986 §2", "browser leftovers []|^{} accepted", crlf("GET /[a]|b^{c} HTTP/1.1\nHost: a\n\n"), 0, nil},

	// Line endings (RFC 9112 §2.2).
	{"9112 §2.2", "bare LF accepted", "GET / HTTP/1.1\nHost: a\n\n", 0, nil},
	{"9112 §2.2", "leading empty lines skipped", crlf("\n\nGET / HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Consumed == len(crlf("\n\nGET / HTTP/1.1\nHost: a\n\n")), "consumed counts skipped lines")
	}},
	{"9112 §2.2", "bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
	{"9112 §2.2", "bare CR ends request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400, nil},
	{"9112 §2.2", "bare CR in field value", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400, nil},
	{"9112 §2.2", "bare CR in field name", "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n", 400, nil},
	{"9112 §2.2", "CR CR LF as blank line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, nil},
	{"9112 §2.2", "whitespace before first field", crlf("GET / HTTP/1.1\n Host: a\n\n"), 400, nil},

	// Field lines (RFC 9112 §5, RFC 9110 §5.5).
	{"9112 §5.1", "OWS trimmed around value", crlf("GET / HTTP/1.1\nHost: a\nX:  \t v w \t \n\n"), 0, func(r result) string {
		return expect(strings.Contains(r.Fields, "X: v w\n"), "trimmed value")
	}},
	{"9112 §5.1", "empty value", crlf("GET / HTTP/1.1\nHost: a\nX:\n\n"), 0, nil},
	{"9110 §5.5", "obs-text in value", crlf("GET / HTTP/1.1\nHost: a\nX: \xff\x80\n\n"), 0, nil},
	{"9112 §5.1", "space before colon", crlf("GET / HTTP/1.1\nHost : a\n\n"), 400, nil},
	{"9112 §5.1", "tab before colon", crlf("GET / HTTP/1.1\nHost\t: a\n\n"), 400, nil},
	{"9112 §5.2", "obs-fold", crlf("GET / HTTP/1.1\nHost: a\nX: y\n z\n\n"), 400, nil},
	{"9112 §5.2", "obs-fold with tab", crlf("GET / HTTP/1.1\nHost: a\nX: y\n\tz\n\n"), 400, nil},
	{"9110 §5.1", "name not a token", crlf("GET / HTTP/1.1\nHost: a\nX@Y: z\n\n"), 400, nil},
	{"9110 §5.1", "empty name", crlf("GET / HTTP/1.1\nHost: a\n: z\n\n"), 400, nil},
	{"9112 §5", "no colon", crlf("GET / HTTP/1.1\nHost: a\nXY\n\n"), 400, nil},
	{"9110 §5.5", "NUL in value", crlf("GET / HTTP/1.1\nHost: a\nX: a\x00b\n\n"), 400, nil},
	{"9110 §5.5", "CTL in value", crlf("GET / HTTP/1.1\nHost: a\nX: a\x01b\n\n"), 400, nil},
	{"9110 §5.5", "DEL in value", crlf("GET / HTTP/1.1\nHost: a\nX: a\x7fb\n\n"), 400, nil},

	// Host (RFC 9112 §3.2, RFC 9110 §7.2).
	{"9112 §3.2", "HTTP/1.1 without Host", crlf("GET / HTTP/1.1\n\n"), 400, nil},
	{"9112 §3.2", "two Host fields", crlf("GET / HTTP/1.1\nHost: a\nHost: a\n\n"), 400, nil},
	{"9112 §3.2", "two Host fields in HTTP/1.0", crlf("GET / HTTP/1.0\nHost: a\nHost: b\n\n"), 400, nil},
	{"9112 §3.2", "HTTP/1.0 without Host", crlf("GET / HTTP/1.0\n\n"), 0, func(r result) string {
		return expect(r.Host == "", "no host")
	}},
	{"9110 §7.2", "empty Host", crlf("GET / HTTP/1.1\nHost:\n\n"), 0, nil},
	{"9110 §7.2", "Host with port", crlf("GET / HTTP/1.1\nHost: a.example:8080\n\n"), 0, func(r result) string {
		return expect(r.Host == "a.example:8080", "host")
	}},
	{"9110 §7.2", "Host IPv6 literal", crlf("GET / HTTP/1.1\nHost: [2001:db8::1]:80\n\n"), 0, nil},
	{"9110 §7.2", "Host with space", crlf("GET / HTTP/1.1\nHost: a b\n\n"), 400, nil},
	{"9110 §7.2", "Host with userinfo", crlf("GET / HTTP/1.1\nHost: u@a\n\n"), 400, nil},
	{"9110 §7.2", "Host with bad port", crlf("GET / HTTP/1.1\nHost: a:8x\n\n"), 400, nil},
	{"9110 §7.2", "Host with slash", crlf("GET / HTTP/1.1\nHost: a/b\n\n"), 400, nil},
	{"9110 §7.2", "Host unclosed bracket", crlf("GET / HTTP/1.1\nHost: [::1\n\n"), 400, nil},

	// Framing (RFC 9112 §6).
	{"9112 §6.3", "no body", crlf("GET / HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.Framing == BodyNone, "none")
	}},
	{"9112 §6.3", "Content-Length", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 42\n\n"), 0, func(r result) string {
		return expect(r.Framing == BodyLength && r.Length == 42, "length 42")
	}},
	{"9112 §6.3", "Content-Length zero", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 0\n\n"), 0, func(r result) string {
		return expect(r.Framing == BodyNone, "none")
	}},
	{"9112 §6.3", "same Content-Length twice", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 7\nContent-Length: 7\n\n"), 0, nil},
	{"9112 §6.3", "different Content-Length", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 7\nContent-Length: 8\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length list", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 7, 7\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length sign", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: +7\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length negative", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: -1\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length hex", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 0x10\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length empty", crlf("POST / HTTP/1.1\nHost: a\nContent-Length:\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length inner space", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 1 2\n\n"), 400, nil},
	{"9110 §8.6", "Content-Length overflow", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 99999999999999999999\n\n"), 400, nil},
	{"9112 §6.1", "chunked", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"), 0, func(r result) string {
		return expect(r.Framing == BodyChunked, "chunked")
	}},
	{"9112 §6.1", "chunked in any case", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: CHUNKED\n\n"), 0, func(r result) string {
		return expect(r.Framing == BodyChunked, "chunked")
	}},
	{"9112 §6.1", "empty list element in Transfer-Encoding", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: , chunked\n\n"), 400, nil},
	{"9112 §6.3", "Transfer-Encoding with Content-Length", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nContent-Length: 5\n\n"), 400, nil},
	{"9112 §6.3", "Content-Length then Transfer-Encoding", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 5\nTransfer-Encoding: chunked\n\n"), 400, nil},
	{"9112 §6.1", "Transfer-Encoding in HTTP/1.0", crlf("POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n"), 400, nil},
	{"9112 §6.3", "final coding not chunked", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip\n\n"), 400, nil},
	{"9112 §6.3", "chunked then gzip", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked, gzip\n\n"), 400, nil},
	{"9112 §6.3", "chunked then gzip over two fields", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nTransfer-Encoding: gzip\n\n"), 400, nil},
	{"9112 §6.1", "gzip then chunked is not implemented", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip, chunked\n\n"), 501, nil},
	{"9112 §7", "chunked twice", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked, chunked\n\n"), 400, nil},
	{"9112 §6.1", "chunked with a parameter", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked;x=1\n\n"), 400, nil},
	{"9112 §6.1", "trailing comma in Transfer-Encoding", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked ,\n\n"), 400, nil},
	{"9112 §6.1", "empty Transfer-Encoding", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding:\n\n"), 400, nil},
	{"9112 §6.1", "Transfer-Encoding not a token", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: \"chunked\"\n\n"), 400, nil},

	// Persistence and Expect (RFC 9112 §9.3, RFC 9110 §10.1.1).
	{"9112 §9.3", "HTTP/1.1 persists", crlf("GET / HTTP/1.1\nHost: a\n\n"), 0, func(r result) string {
		return expect(r.KeepAlive, "keep-alive")
	}},
	{"9112 §9.3", "close", crlf("GET / HTTP/1.1\nHost: a\nConnection: close\n\n"), 0, func(r result) string {
		return expect(!r.KeepAlive, "close")
	}},
	{"9112 §9.3", "close in a list, any case", crlf("GET / HTTP/1.1\nHost: a\nConnection: Upgrade ,, cLoSe\n\n"), 0, func(r result) string {
		return expect(!r.KeepAlive, "close")
	}},
	{"9112 §9.3", "close on a second Connection line", crlf("GET / HTTP/1.1\nHost: a\nConnection: keep-alive\nConnection: close\n\n"), 0, func(r result) string {
		return expect(!r.KeepAlive, "close")
	}},
	{"9112 §9.3", "HTTP/1.0 keep-alive", crlf("GET / HTTP/1.0\nConnection: Keep-Alive\n\n"), 0, func(r result) string {
		return expect(r.KeepAlive, "keep-alive")
	}},
	{"9112 §9.3", "HTTP/1.0 keep-alive and close", crlf("GET / HTTP/1.0\nConnection: keep-alive, close\n\n"), 0, func(r result) string {
		return expect(!r.KeepAlive, "close wins")
	}},
	{"9112 §9.3", "token that merely contains close", crlf("GET / HTTP/1.1\nHost: a\nConnection: closed\n\n"), 0, func(r result) string {
		return expect(r.KeepAlive, "closed is not close")
	}},
	{"9110 §10.1.1", "Expect 100-continue", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 1\nExpect: 100-Continue\n\n"), 0, func(r result) string {
		return expect(r.Expect100, "expect")
	}},
	{"9110 §10.1.1", "other Expect", crlf("POST / HTTP/1.1\nHost: a\nExpect: 200-ok\n\n"), 0, func(r result) string {
		return expect(!r.Expect100, "no expect")
	}},
}

func expect(ok bool, what string) string {
	if ok {
		return ""
	}
	return what
}

func TestParseRules(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.rfc+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			r := parseOnce([]byte(tc.in), Limits{})
			if r.Status != tc.want {
				t.Fatalf("RFC %s: %q: status %d, want %d", tc.rfc, tc.in, r.Status, tc.want)
			}
			if tc.check != nil {
				if msg := tc.check(r); msg != "" {
					t.Fatalf("RFC %s: %q: %s: got %v", tc.rfc, tc.in, msg, r)
				}
			}
			// Errors must not depend on how the bytes arrive either.
			if b := parseBytewise([]byte(tc.in), Limits{}); b != r {
				t.Fatalf("byte-at-a-time differs:\n got %v\nwant %v", b, r)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	lim := Limits{MaxHeaderBytes: 256, MaxTargetBytes: 64, MaxFields: 3}
	cases := []struct {
		name string
		in   string
		want int
	}{
		{"target at limit", crlf("GET /" + long(63) + " HTTP/1.1\nHost: a\n\n"), 0},
		{"target over limit (RFC 9110 §15.5.15)", crlf("GET /" + long(64) + " HTTP/1.1\nHost: a\n\n"), 414},
		{"request line never ends", "GET /" + long(200), 414},
		{"long method, line over limit", crlf(long(150) + " / HTTP/1.1\nHost: a\n\n"), 414},
		{"fields at limit", crlf("GET / HTTP/1.1\nHost: a\nB: 1\nC: 2\n\n"), 0},
		{"too many fields (RFC 6585 §5)", crlf("GET / HTTP/1.1\nHost: a\nB: 1\nC: 2\nD: 3\n\n"), 431},
		{"head over limit (RFC 6585 §5)", crlf("GET / HTTP/1.1\nHost: a\nX: " + long(250) + "\n\n"), 431},
		{"head never ends", crlf("GET / HTTP/1.1\nHost: a\nX: " + long(300)), 431},
		{"endless empty lines", strings.Repeat("\r\n", 200), 414},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := parseOnce([]byte(tc.in), lim)
			if tc.want == 0 && r.Status != 0 || tc.want != 0 && r.Status != tc.want {
				t.Fatalf("status %d, want %d", r.Status, tc.want)
			}
			if b := parseBytewise([]byte(tc.in), lim); b != r {
				t.Fatalf("byte-at-a-time differs:\n got %v\nwant %v", b, r)
			}
		})
	}

	// Exactly at MaxHeaderBytes is fine, one more is not.
	head := crlf("GET / HTTP/1.1\nHost: a\nX: \n\n")
	pad := 256 - len(head)
	at := crlf("GET / HTTP/1.1\nHost: a\nX: " + long(pad) + "\n\n")
	if r := parseOnce([]byte(at), lim); r.Status != 0 || r.Consumed != 256 {
		t.Fatalf("head of exactly 256 bytes: %v", r)
	}
	over := crlf("GET / HTTP/1.1\nHost: a\nX: " + long(pad+1) + "\n\n")
	if r := parseOnce([]byte(over), lim); r.Status != 431 {
		t.Fatalf("head of 257 bytes: %v", r)
	}

	// Defaults: 8 KiB head, 64 fields.
	if got := (Limits{}).effective(); got != DefaultLimits() {
		t.Fatalf("zero Limits = %+v, want %+v", got, DefaultLimits())
	}
	if got := (Limits{MaxFields: 1000}).effective().MaxFields; got != MaxFieldsCap {
		t.Fatalf("MaxFields not clamped: %d", got)
	}
}

func TestErrorsAreTerminal(t *testing.T) {
	var p Parser
	var req Request
	bad := []byte(crlf("GET / HTTP/9.9\n\n"))
	_, err1 := p.Parse(bad, &req)
	_, err2 := p.Parse([]byte(crlf("GET / HTTP/1.1\nHost: a\n\n")), &req)
	if err1 == nil || err1 != err2 {
		t.Fatalf("errors %v then %v, want the same error twice", err1, err2)
	}
	if e := err1.(*Error); e.Status != 505 || e.Error() != "httpparse: 505 HTTP version not supported" {
		t.Fatalf("error %q status %d", e.Error(), e.Status)
	}
	p.Reset()
	if _, err := p.Parse([]byte(crlf("GET / HTTP/1.1\nHost: a\n\n")), &req); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestPipelined(t *testing.T) {
	in := []byte(crlf("GET /1 HTTP/1.1\nHost: a\n\nPOST /2 HTTP/1.1\nHost: a\nContent-Length: 19\n\nGET /3 HTTP/1.1\n\nGET /4 HTTP/1.1\nHost: a\n\n"))
	var p Parser
	var req Request
	n, err := p.Parse(in, &req)
	if err != nil || string(req.Target) != "/1" {
		t.Fatalf("first: %v %q", err, req.Target)
	}
	in = in[n:]
	n, err = p.Parse(in, &req)
	if err != nil || string(req.Target) != "/2" || req.Framing != BodyLength {
		t.Fatalf("second: %v %q", err, req.Target)
	}
	// The body looks like a request, but the caller skips it by framing
	// and never hands it to the parser.
	in = in[n+int(req.ContentLength):]
	n, err = p.Parse(in, &req)
	if err != nil || string(req.Target) != "/4" {
		t.Fatalf("after body: %v %q", err, req.Target)
	}
	if n != len(in) {
		t.Fatalf("consumed %d of %d", n, len(in))
	}
	if _, err := p.Parse(nil, &req); err != ErrNeedMore {
		t.Fatalf("empty buffer: %v", err)
	}
}

// TestIncrementalIsLinear checks the invariant that makes byte-at-a-time
// arrival linear: after ErrNeedMore, the parser has already searched
// everything it was given, so the next call only looks at new bytes.
func TestIncrementalIsLinear(t *testing.T) {
	in := []byte(browserGET)
	var p Parser
	var req Request
	for i := 1; i < len(in); i++ {
		_, err := p.Parse(in[:i], &req)
		if err != ErrNeedMore {
			t.Fatalf("at %d: %v", i, err)
		}
		if p.h.scan != i {
			t.Fatalf("at %d: scan stopped at %d", i, p.h.scan)
		}
	}
	if n, err := p.Parse(in, &req); err != nil || n != len(in) {
		t.Fatalf("final: %d %v", n, err)
	}
}

func TestHeaderAccessor(t *testing.T) {
	var p Parser
	var req Request
	if _, err := p.Parse([]byte(browserGET), &req); err != nil {
		t.Fatal(err)
	}
	if got := string(req.Header("if-none-match")); got != `"5e1f-61a2b3c4d5e6f"` {
		t.Fatalf("Header = %q", got)
	}
	if req.Header("Range") != nil {
		t.Fatal("absent header not nil")
	}
	if req.NumFields != 12 || !req.FieldList()[0].Is("HOST") {
		t.Fatalf("fields: %d", req.NumFields)
	}
	// A shorter request reusing req must not leave old fields visible.
	if _, err := p.Parse([]byte(curlGET), &req); err != nil {
		t.Fatal(err)
	}
	if req.NumFields != 3 || req.Fields[5].Name != nil {
		t.Fatalf("stale fields after reuse: %d", req.NumFields)
	}
	for m := MethodUnknown; m <= MethodPATCH; m++ {
		if m != MethodUnknown && lookupMethod([]byte(m.String())) != m {
			t.Fatalf("method %v does not round-trip", m)
		}
	}
}

func TestSplits(t *testing.T) {
	for _, in := range validCorpus {
		b := []byte(in)
		want := parseOnce(b, Limits{})
		if want.Status != 0 {
			t.Fatalf("%q does not parse: %v", in, want)
		}
		for cut := 0; cut <= len(b); cut++ {
			if got := parseChunks(b, Limits{}, cut); got != want {
				t.Fatalf("%q split at %d:\n got %v\nwant %v", in, cut, got, want)
			}
		}
		if got := parseBytewise(b, Limits{}); got != want {
			t.Fatalf("%q byte at a time:\n got %v\nwant %v", in, got, want)
		}
	}
}
