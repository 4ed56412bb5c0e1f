package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// untilClose sends req on a fresh connection and reads until the server
// closes it. eof reports whether it did (a clean end of stream or a reset);
// false means the hang guard's deadline passed with the connection open.
func untilClose(t testing.TB, addr, req string, guard time.Duration) (out []byte, eof bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	out, err = io.ReadAll(c)
	var ne net.Error
	return out, !(errors.As(err, &ne) && ne.Timeout())
}

// splitHead cuts a response into its head (without the blank line) and
// what follows it, and returns the value of field name in the head ("" if
// absent).
func splitHead(out []byte, name string) (head, rest []byte, field string) {
	head, rest, _ = bytes.Cut(out, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return head, rest, strings.TrimSpace(v)
		}
	}
	return head, rest, ""
}

// Finding 1 of issue 17: an error answer follows the request's method and
// version. A HEAD gets the error's head, Content-Length included, and no
// body (RFC 9110 §9.3.2); a target refused is a refused request, answered
// with Connection: close and closed; an HTTP/1.0 client asking for
// keep-alive is not left with an open socket it was not told about (RFC
// 9112 §9.3). The access log counts no body for the HEAD.
func TestErrorFraming(t *testing.T) {
	f := newFixture(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	p, _ := serve(t, f, "--access-log", logPath, "--log-format", "json", "--log-level", "info")
	addr := strings.Split(p.addr, ",")[0]
	const guard = 10 * time.Second // a hang guard: the server closes at once
	type tc struct{ target, method, version, extra string }
	var cases []tc
	for _, target := range []string{"/%2F", "/a%00", "/..", "/x/../../a"} {
		cases = append(cases, tc{target, "HEAD", "HTTP/1.1", "Host: x\r\n"})
		cases = append(cases, tc{target, "GET", "HTTP/1.1", "Host: x\r\n"})
	}
	cases = append(cases, tc{"/%2F", "GET", "HTTP/1.0", "Connection: keep-alive\r\n"})
	cases = append(cases, tc{"/%2F", "HEAD", "HTTP/1.0", "Connection: keep-alive\r\n"})
	bodyLen := len("400 Bad Request\n")
	for _, c := range cases {
		req := c.method + " " + c.target + " " + c.version + "\r\n" + c.extra + "\r\n"
		out, eof := untilClose(t, addr, req, guard)
		head, rest, conn := splitHead(out, "Connection")
		_, _, clen := splitHead(out, "Content-Length")
		wantRest := bodyLen
		if c.method == "HEAD" {
			wantRest = 0
		}
		switch {
		case !bytes.HasPrefix(head, []byte("HTTP/1.1 400 ")):
			t.Errorf("%q: %q, want 400", req, out)
		case clen != strconv.Itoa(bodyLen):
			t.Errorf("%q: Content-Length %q, want %d (a HEAD's too, RFC 9110 §9.3.2)", req, clen, bodyLen)
		case len(rest) != wantRest:
			t.Errorf("%q: %d bytes after the head, want %d: %q", req, len(rest), wantRest, rest)
		case conn != "close":
			t.Errorf("%q: Connection %q, want close", req, conn)
		case !eof:
			t.Errorf("%q: connection still open %v after the answer", req, guard)
		}
	}
	// The access log: every HEAD line counts no body bytes.
	want := 0
	for _, c := range cases {
		if c.method == "HEAD" {
			want++
		}
	}
	var heads []map[string]any
	deadline := time.Now().Add(guard) // lines are flushed once a second
	for len(heads) < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		b, _ := os.ReadFile(logPath)
		heads = heads[:0]
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["method"] == "HEAD" {
				heads = append(heads, m)
			}
		}
	}
	if len(heads) != want {
		t.Fatalf("%d HEAD lines in the access log, want %d", len(heads), want)
	}
	for _, m := range heads {
		if m["status"] != float64(400) || m["body"] != float64(0) {
			t.Errorf("access log: %v, want status 400 and body 0", m)
		}
	}
}
