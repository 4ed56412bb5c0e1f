package httpparse

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// netHTTPRead is the oracle: http.ReadRequest, followed by the checks that
// net/http's Server makes right after it (server.go, (*conn).readRequest),
// since those are part of what net/http accepts as a server:
// a version other than HTTP/1.x is 505, an HTTP/1.1 request needs a Host
// (except CONNECT), a single Host must pass httpguts.ValidHostHeader, every
// field name must be a token (textproto accepts "X : y" as name "X ", see
// go.dev/issue/34540, and the server then rejects it), and every field value
// must pass httpguts.ValidHeaderFieldValue.
func netHTTPRead(raw []byte) (*http.Request, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	if req.ProtoMajor != 1 {
		return nil, errors.New("505 unsupported protocol version")
	}
	// ReadRequest drops the Host field from req.Header; read the field
	// section again with net/textproto, which is what ReadRequest uses.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	hosts, haveHost := mh["Host"]
	if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && req.Method != "CONNECT" {
		return nil, errors.New("missing required Host header")
	}
	if len(hosts) == 1 && !netHTTPValidHost(hosts[0]) {
		return nil, errors.New("malformed Host header")
	}
	for k, vv := range req.Header {
		for i := 0; i < len(k); i++ {
			if !isToken[k[i]] {
				return nil, errors.New("invalid header name")
			}
		}
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if c := v[i]; (c < ' ' || c == 0x7f) && c != '\t' {
					return nil, errors.New("invalid header value")
				}
			}
		}
	}
	return req, nil
}

// netHTTPValidHost mirrors httpguts.ValidHostHeader: any string of bytes
// that may appear somewhere in a host or port.
func netHTTPValidHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !strings.ContainsRune("!$%&'()*+,-.:;=[]_~", rune(h[i])) &&
			!('0' <= h[i] && h[i] <= '9' || 'a' <= lower(h[i]) && lower(h[i]) <= 'z') {
			return false
		}
	}
	return true
}

// deliberateDifferences lists the requests on which epfs and net/http
// disagree on purpose, each with the rule that makes epfs reject what
// net/http accepts (or the reverse). TestDifferential fails both when an
// unlisted request disagrees and when a listed one agrees, so the list
// stays exact.
var deliberateDifferences = map[string]string{
	// --- request line ---
	// (HTTP/1.2 is no longer here: epfs reads a higher HTTP/1 minor as 1.1,
	// as net/http does and RFC 9110 §2.5 allows; issue 17.)
	crlf("GET * HTTP/1.1\nHost: a\n\n"): "RFC 9112 §3.2.4: asterisk-form is only for OPTIONS; net/http accepts it with any method",
	crlf("CONNECT example.com:443 HTTP/1.1\nHost: example.com:443\n\n"): "RFC 9112 §3.2.3: authority-form is only for CONNECT, " +
		"which a static server does not implement; epfs rejects it at parse time (400), net/http parses it",
	crlf("GET /a#b HTTP/1.1\nHost: a\n\n"): "RFC 9112 §3.2 / RFC 3986 §3.5: a fragment is never part of a request-target; " +
		"net/http takes '#' literally into the path",
	crlf("GET /a?%g0 HTTP/1.1\nHost: a\n\n"): "RFC 3986 §2.1: invalid percent-encoding; net/http does not validate the query",
	crlf("GET /caf\xc3\xa9 HTTP/1.1\nHost: a\n\n"): "RFC 3986 §2: bytes outside US-ASCII must be percent-encoded; " +
		"net/http passes raw bytes through, inviting disagreement about their decoding",
	crlf("GET /a\\b HTTP/1.1\nHost: a\n\n"): "RFC 3986 §2: '\\' is not allowed in a URI, and some components treat it as a separator; " +
		"net/http accepts it",
	crlf("GET /a\"b HTTP/1.1\nHost: a\n\n"):   "RFC 3986 §2: '\"' is not allowed in a URI; net/http accepts it",
	crlf("GET /a<b>`c HTTP/1.1\nHost: a\n\n"): "RFC 3986 §2: '<', '>' and '`' are not allowed in a URI; net/http accepts them",
	crlf("GET ftp://a/ HTTP/1.1\nHost: a\n\n"): "RFC 9112 §3.2.2: only http(s) URIs name resources of this server; " +
		"net/http accepts any scheme",
	crlf("GET http://user:pw@a/ HTTP/1.1\nHost: a\n\n"): "RFC 9110 §4.2.4: userinfo in an http URI should be treated as an error; net/http accepts it",
	crlf("GET http:///p HTTP/1.1\nHost: a\n\n"):         "RFC 9110 §4.2.1: an http URI with an empty host is invalid; net/http accepts it",
	crlf("GET http:/p HTTP/1.1\nHost: a\n\n"):           "RFC 9110 §4.2.1: an http URI must have an authority; net/http accepts it",
	crlf("\n\nGET / HTTP/1.1\nHost: a\n\n"): "RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line; " +
		"net/http does so only after a POST (server.go), ReadRequest never",

	// --- field lines ---
	crlf("GET / HTTP/1.1\nHost: a\nX: y\n z\n\n"): "RFC 9112 §5.2: obs-fold is rejected with 400 " +
		"(the RFC allows either that or replacing it with SP); net/http joins the lines",
	crlf("GET / HTTP/1.1\nHost: a\nX: y\n\tz\n\n"): "RFC 9112 §5.2: obs-fold, as above",

	// --- Host ---
	crlf("GET / HTTP/1.1\nHost: a:8x\n\n"): "RFC 9110 §7.2: port = *DIGIT; net/http only checks that each byte may occur in some host",
	crlf("GET / HTTP/1.1\nHost: [::1\n\n"): "RFC 3986 §3.2.2: an IP-literal needs its ']'; net/http checks bytes only",

	// --- framing ---
	crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nContent-Length: 5\n\n"): "RFC 9112 §6.3: Transfer-Encoding with " +
		"Content-Length is the request-smuggling shape; the RFC allows rejecting it, net/http drops Content-Length",
	crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 5\nTransfer-Encoding: chunked\n\n"): "RFC 9112 §6.3: as above, other order",
	crlf("POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n"): "RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means " +
		"faulty framing; net/http ignores the field for HTTP/1.0",
}

// diffExtra adds requests that only the differential test needs.
var diffExtra = []string{
	crlf("GET /a<b>`c HTTP/1.1\nHost: a\n\n"),
	crlf("GET / HTTP/1.1\nHost: a\nX-Y_Z.w~!#$%&'*+^`|: v\n\n"),
	crlf("GET / HTTP/1.1\nHost: a\nContent-Length: 007\n\n"),
	crlf("GET /%41%42 HTTP/1.1\nHost: a\n\n"),
	crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked,\n\n"),
	crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: identity\n\n"),
	crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 5, 5\n\n"),
	crlf("GET / HTTP/1.1\nHost: a\nHost: b\n\n"),
	crlf("GET / HTTP/1.1\nHost: a b\n\n"),
	crlf("GET http://a/ HTTP/1.1\n\n"),
	crlf("GET / HTTP/1.0\nHost: a\nHost: b\n\n"),
	crlf("GET / HTTP/1.1\nHost: a\nX: \x01\n\n"),
	crlf("GET / HTTP/1.1\nHost: a\nX : y\n\n"),
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
	crlf("GET /\x00 HTTP/1.1\nHost: a\n\n"),
	crlf("GET / HTTP/1.1\nHost: a\nConnection: close\nUpgrade: h2c\n\n"),
}

func TestDifferential(t *testing.T) {
	inputs := append([]string(nil), validCorpus...)
	for _, tc := range parseCases {
		inputs = append(inputs, tc.in)
	}
	inputs = append(inputs, diffExtra...)
	seen := map[string]bool{}
	for _, in := range inputs {
		if seen[in] {
			continue
		}
		seen[in] = true
		var p Parser
		var req Request
		_, err := p.Parse([]byte(in), &req)
		theirs, theirErr := netHTTPRead([]byte(in))
		reason, listed := deliberateDifferences[in]
		agree := (err == nil) == (theirErr == nil)
		switch {
		case !agree && !listed:
			t.Errorf("%q: epfs err=%v, net/http err=%v; not a listed difference", in, err, theirErr)
		case agree && listed:
			t.Errorf("%q: listed as a difference (%s) but both agree (err=%v)", in, reason, err)
		case agree && err == nil:
			compareWithNetHTTP(t, in, &req, theirs)
		}
	}
	for in := range deliberateDifferences {
		if !seen[in] {
			t.Errorf("listed difference %q is not in any corpus", in)
		}
	}
}

// compareWithNetHTTP checks that an accepted request means the same to both.
func compareWithNetHTTP(t *testing.T, in string, ours *Request, theirs *http.Request) {
	t.Helper()
	if string(ours.Method) != theirs.Method || string(ours.Target) != theirs.RequestURI ||
		string(ours.Version) != theirs.Proto {
		t.Errorf("%q: request line %q %q %q vs net/http %q %q %q", in,
			ours.Method, ours.Target, ours.Version, theirs.Method, theirs.RequestURI, theirs.Proto)
	}
	if string(ours.Host) != theirs.Host {
		t.Errorf("%q: host %q vs net/http %q", in, ours.Host, theirs.Host)
	}
	// net/http keeps fields in a map of canonical names; compare per name,
	// in order. It moves Host and Transfer-Encoding out of the map.
	got := map[string][]string{}
	for _, f := range ours.FieldList() {
		k := http.CanonicalHeaderKey(string(f.Name))
		if k == "Transfer-Encoding" || k == "Host" {
			continue
		}
		if k == "Content-Length" && len(got[k]) > 0 {
			continue // net/http keeps one of several identical values
		}
		got[k] = append(got[k], string(f.Value))
	}
	want := theirs.Header
	if len(got) != len(want) {
		t.Errorf("%q: %d field names vs net/http %d", in, len(got), len(want))
	}
	for k, vv := range want {
		if strings.Join(got[k], "\x00") != strings.Join(vv, "\x00") {
			t.Errorf("%q: field %s = %q vs net/http %q", in, k, got[k], vv)
		}
	}
}
