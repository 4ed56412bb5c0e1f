//go:build linux

package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Pipelined requests with a body between them, then a half-close: every
// complete request is answered, in order, and then the server closes.
func TestPipelinedBodyThenHalfClose(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false)})
	c, err := net.Dial("tcp", r.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	reqs := "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" +
		"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\n\r\nGET /smuggled HTTP/1.1\r\nX: 1\r\n" +
		"HEAD /large.bin HTTP/1.1\r\nHost: t\r\n\r\n" +
		"GET /small.bin HTTP/1.1\r\nHost: t\r\n\r\n" +
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\n" // incomplete: never answered
	io.WriteString(c, reqs)
	c.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(c)
	for i, want := range []struct {
		method string
		status int
		body   int
	}{{"GET", 200, 13}, {"POST", 405, -1}, {"HEAD", 200, 0}, {"GET", 200, smallSize}} {
		resp, err := http.ReadResponse(br, &http.Request{Method: want.method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != want.status || want.body >= 0 && len(b) != want.body {
			t.Fatalf("response %d: %d, %d bytes, %v; want %d, %d bytes", i, resp.StatusCode, len(b), err, want.status, want.body)
		}
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the last complete request: %d bytes, %v; want EOF", n, err)
	}
}

// Over --max-conns a connection gets a 503 it can read, and is closed.
func TestMaxConnsAnswers503(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false), MaxConns: 1})
	first := dialRaw(t, r.addr)
	first.roundTrip(t, get("/hello.txt"), 200)
	second := dialRaw(t, r.addr)
	second.send(get("/hello.txt"))
	out, err := second.readAll()
	if !strings.HasPrefix(out, "HTTP/1.1 503 ") {
		t.Fatalf("over the limit: %q, %v; want a 503", out, err)
	}
	if st := r.Stats(); st.Rejected != 1 || st.Open != 1 {
		t.Errorf("rejected %d, open %d; want 1, 1", st.Rejected, st.Open)
	}
	first.roundTrip(t, get("/hello.txt"), 200)
}

// Shutdown closes idle connections at once, lets a transfer in flight
// finish with Connection: close, and Run returns once it has.
func TestShutdownDrains(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, true), ShutdownTimeout: time.Minute})
	idle := dialRaw(t, r.addr)
	idle.roundTrip(t, get("/hello.txt"), 200)
	busy := dialRawBuf(t, r.addr, 4096)
	busy.send(get("/huge.bin"))
	waitFor(t, "the transfer to block", func() bool {
		for _, c := range r.conns(t) {
			if c.state.planned() {
				return true
			}
		}
		return false
	})
	r.Shutdown()
	if out, err := idle.readAll(); out != "" || err != nil {
		t.Errorf("idle connection on shutdown: %q, %v; want EOF at once", out, err)
	}
	status, n, err := busy.response()
	if err != nil || status != 200 || n != hugeSize {
		t.Fatalf("transfer in flight: %d, %d bytes, %v", status, n, err)
	}
	if _, err := busy.readAll(); err != nil {
		t.Errorf("after the last response: %v, want EOF", err)
	}
	select {
	case err := <-r.done:
		r.done = nil
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hangGuard):
		t.Fatal("hang guard: Run did not return after the last connection closed")
	}
	if r.Stats().ShutdownForce {
		t.Error("graceful shutdown reported as forced")
	}
}

// The shutdown timeout closes what is still in flight.
func TestShutdownForcesAfterTimeout(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, true), ShutdownTimeout: 100 * time.Millisecond})
	c := dialRawBuf(t, r.addr, 4096)
	c.send(get("/huge.bin")) // never read: stays blocked
	waitFor(t, "the transfer to block", func() bool {
		cs := r.conns(t)
		return len(cs) == 1 && cs[0].state.planned()
	})
	r.Shutdown()
	select {
	case err := <-r.done:
		r.done = nil
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(100*time.Millisecond + hangGuard):
		t.Fatal("hang guard: Run did not return after the shutdown timeout")
	}
	if !r.Stats().ShutdownForce {
		t.Error("forced shutdown not reported")
	}
}
