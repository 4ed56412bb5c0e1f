//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// identicalCases are requests whose raw responses must not depend on the
// strategy.
var identicalCases = []string{
	"GET /a.txt", "GET /big.bin", "HEAD /big.bin", "GET /big.bin\r\nRange: bytes=100-50000",
	"GET /big.bin\r\nRange: bytes=0-0,-10,5000-6000", "GET /a.txt\r\nRange: bytes=0-1,3-4",
	"GET /big.bin\r\nRange: bytes=999999-", "GET /v.js\r\nAccept-Encoding: br", "GET /nope",
	"GET /d", "OPTIONS /a.txt", "GET /empty", "GET /old.txt\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
}

func request(r string) string {
	line, rest, _ := strings.Cut(r, "\r\n")
	raw := line + " HTTP/1.1\r\nHost: x\r\n"
	if rest != "" {
		raw += rest + "\r\n"
	}
	return raw + "\r\n"
}

// TestStrategiesIdentical: the three strategies give byte-identical
// responses (Date pinned, boundaries from the same seed).
func TestStrategiesIdentical(t *testing.T) {
	re := newRulesEnv(t, Config{})
	now := time.Now()
	var first [][]byte
	for _, st := range strategies {
		w := NewWriter(Config{Strategy: st, ServerHeader: "epfs"}, re.l.Counters())
		w.seed = 42
		w.SetNow(now)
		tc, client := re.conn(0)
		tc.w = w
		var raw bytes.Buffer
		br := bufio.NewReader(io.TeeReader(client, &raw))
		for i, c := range identicalCases {
			raw.Reset()
			re.tc = tc
			re.br = br
			re.do(t, request(c))
			if st == Sendfile {
				first = append(first, bytes.Clone(raw.Bytes()))
			} else if !bytes.Equal(raw.Bytes(), first[i]) {
				t.Errorf("%v: %q differs from sendfile's response:\n%q\n%q", st, c, trunc(raw.Bytes()), trunc(first[i]))
			}
		}
		on(t, re.l, func() { w.Close() })
	}
}

// TestHeadMatchesGet: RFC 9110 §9.3.2, HEAD carries exactly GET's fields.
func TestHeadMatchesGet(t *testing.T) {
	re := newRulesEnv(t, Config{ServerHeader: "epfs", CacheControl: "no-cache"})
	for _, c := range []string{"/a.txt", "/big.bin", "/v.js\r\nAccept-Encoding: gzip", "/nope", "/d", "/d/"} {
		g, _, _ := re.do(t, request("GET "+c))
		h, body, _ := re.do(t, request("HEAD "+c))
		g.Header.Del("Date")
		h.Header.Del("Date")
		if g.StatusCode != h.StatusCode || !sameHeader(g.Header, h.Header) || len(body) != 0 {
			t.Errorf("%q: GET %d %v, HEAD %d %v (body %d)", c, g.StatusCode, g.Header, h.StatusCode, h.Header, len(body))
		}
	}
}

func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}
