package tests

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Finding 8 of issue 17: a higher minor version of HTTP/1 is answered as
// HTTP/1.1 (RFC 9110 §2.5, RFC 9112 §2.3), with 1.1's persistence, and the
// answer carries the server's own version; another major version is 505.
func TestHigherMinorVersion(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f)
	addr := strings.Split(p.addr, ",")[0]
	for _, v := range []string{"HTTP/1.2", "HTTP/1.9"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang guard
		// Two requests on one connection: the first kept it open, as an
		// HTTP/1.1 request without Connection: close does.
		io.WriteString(c, "GET /hello.txt "+v+"\r\nHost: x\r\n\r\nGET /style.css "+v+"\r\nHost: x\r\nConnection: close\r\n\r\n")
		rs := readResponses(t, bufio.NewReader(c), "GET", 2)
		c.Close()
		for i, want := range []string{"hello, world\n", "body{}\n"} {
			if rs[i].StatusCode != 200 || rs[i].Proto != "HTTP/1.1" || body(t, rs[i]) != want {
				t.Errorf("%s request %d: %s %d, want HTTP/1.1 200 with %q", v, i, rs[i].Proto, rs[i].StatusCode, want)
			}
		}
		if rs[0].Close {
			t.Errorf("%s: the first answer closes the connection", v)
		}
		// An HTTP/1.1 rule applies: no Host, 400.
		if out := raw(t, addr, "GET /hello.txt "+v+"\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Errorf("%s without Host: %q, want 400", v, firstLine(out))
		}
	}
	for _, v := range []string{"HTTP/2.0", "HTTP/3.1", "HTTP/0.9"} {
		if out := raw(t, addr, "GET /hello.txt "+v+"\r\nHost: x\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 505 ") {
			t.Errorf("%s: %q, want 505", v, firstLine(out))
		}
	}
}
