package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// adminIdle is the admin idle timeout the admin tests run with; every
// wait for the server to act on it is derived from it.
const adminIdle = 500 * time.Millisecond

// adminRequest sends a keep-alive GET /metrics on c and reads the answer.
func adminRequest(c net.Conn, r *bufio.Reader, extra string) (*http.Response, error) {
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"+extra+"\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// Finding 4 of issue 17: the admin listener bounds its connections. An
// idle keep-alive connection is closed by the server after
// --admin-idle-timeout; no more than --admin-max-conns are open at once
// (one more is closed at once, unanswered, and a slot freed serves again);
// a request head over its limit is refused with 431.
func TestAdminListenerBounds(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const maxConns = 4
	// Two servers: one whose short idle timeout the first check waits
	// for, and one for the cap, whose held connections must not idle out
	// however slowly a busy machine runs the test.
	const capIdle = time.Minute
	start := func(idle time.Duration) (p *proc, port int, dial func() (net.Conn, *bufio.Reader)) {
		p, _ = serve(t, f, "--admin-listen", "127.0.0.1:0", "--admin-idle-timeout", idle.String(),
			"--admin-max-conns", strconv.Itoa(maxConns))
		u, err := url.Parse(adminURL(t, p))
		if err != nil {
			t.Fatal(err)
		}
		port, _ = strconv.Atoi(u.Port())
		return p, port, func() (net.Conn, *bufio.Reader) {
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			// A hang guard, ten times any wait the server should need.
			c.SetDeadline(time.Now().Add(20 * adminIdle))
			t.Cleanup(func() { c.Close() })
			return c, bufio.NewReader(c)
		}
	}
	_, _, dial := start(adminIdle)

	// Idle: one request, then nothing; the server closes within the
	// idle timeout (the guard gives it 20 times that).
	c, r := dial()
	if resp, err := adminRequest(c, r, ""); err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /metrics: %v %v", resp, err)
	}
	n, err := r.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("an idle admin connection still open %v after its request (idle timeout %v)", 20*adminIdle, adminIdle)
	}
	if n != 0 || err != io.EOF {
		t.Errorf("idle admin connection: read %d bytes, %v; want the server's close (EOF)", n, err)
	}
	c.Close()

	// The cap: maxConns held, each answered; one more is closed unanswered.
	p, port, dial := start(capIdle)
	var held []net.Conn
	for i := 0; i < maxConns; i++ {
		c, r := dial()
		if resp, err := adminRequest(c, r, ""); err != nil || resp.StatusCode != 200 {
			t.Fatalf("admin connection %d below the cap: %v %v", i, resp, err)
		}
		held = append(held, c)
	}
	if got := heldSockets(t, p.cmd.Process.Pid, port); got > maxConns {
		t.Errorf("%d admin connections held by the server, want at most %d", got, maxConns)
	}
	over, ro := dial()
	if resp, err := adminRequest(over, ro, ""); err == nil {
		t.Errorf("admin connection over the cap of %d answered %d, want it closed", maxConns, resp.StatusCode)
	} else if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("admin connection over the cap: neither answered nor closed within %v", 20*adminIdle)
	}
	if got := heldSockets(t, p.cmd.Process.Pid, port); got > maxConns {
		t.Errorf("%d admin connections held by the server, want at most %d", got, maxConns)
	}
	// Freeing one slot serves again: the server notices the close and a
	// new connection is answered. answered retries connections the cap
	// still closes until one is answered (or the guard passes).
	answered := func(extra string) (*http.Response, error) {
		var resp *http.Response
		var err error
		for deadline := time.Now().Add(20 * adminIdle); time.Now().Before(deadline); time.Sleep(adminIdle / 10) {
			c, r := dial()
			resp, err = adminRequest(c, r, extra)
			c.Close()
			if resp != nil {
				return resp, err
			}
		}
		return resp, err
	}
	held[0].Close()
	if resp, err := answered("Connection: close\r\n"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after a slot was freed: %v %v, want 200", resp, err)
	}

	// A head over the limit is refused.
	for _, h := range held[1:] {
		h.Close()
	}
	if resp, _ := answered("X-Big: " + strings.Repeat("a", 64<<10) + "\r\n"); resp == nil || resp.StatusCode != 431 {
		t.Errorf("a 64 KiB head to the admin listener: %v, want 431", resp)
	}
}

// The health probes on the admin listener: /healthz answers 200 while the
// process runs; /readyz answers 200 while the server accepts and 503 from
// the moment a shutdown begins, while a response in flight still drains,
// so that a balancer stops sending new clients before the process exits.
func TestAdminHealth(t *testing.T) {
	f := newFixture(t)
	const drain = time.Minute // long enough that only the test's reader ends the drain
	p, _ := serve(t, f, "--admin-listen", "127.0.0.1:0", "--shutdown-timeout", drain.String())
	admin := strings.TrimSuffix(adminURL(t, p), "/metrics")
	probe := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, nil)
		r, err := adminClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode < 400 && (r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8") {
			t.Errorf("%s %s: Cache-Control %q, Content-Type %q", method, path, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
		}
		return r.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"GET", "/readyz", 200, "ok\n"},
		{"HEAD", "/readyz", 200, ""},
		{"POST", "/readyz", 405, ""},
	} {
		code, body := probe(c.method, c.path)
		if code != c.code || c.code == 200 && body != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, code, body, c.code, c.body)
		}
	}

	// A response in flight, stalled by a small receive buffer: it holds
	// the shutdown open until it is read.
	c := dialSmall(t, strings.Split(p.addr, ",")[0], 16<<10)
	c.SetDeadline(time.Now().Add(drain))
	io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /big.bin: %v %v", err, resp)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "503 from /readyz after SIGTERM", func() bool {
		code, body := probe("GET", "/readyz")
		return code == 503 && body == "draining\n"
	})
	if code, body := probe("GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while draining: %d %q, want 200", code, body)
	}
	if p.hasExited() {
		t.Fatal("epfs exited with a response in flight")
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(b, f.big) {
		t.Errorf("the response in flight: %d of %d bytes, %v", len(b), len(f.big), err)
	}
	c.Close()
	// The drain is over: epfs exits on its own, without a second signal
	// (which would force the close).
	select {
	case <-p.exited:
		if p.code != 0 {
			t.Errorf("exit %d after the drain", p.code)
		}
	case <-time.After(stopGuard):
		t.Fatalf("hang guard: epfs did not exit within %v of its last response", stopGuard)
	}
}

// /metrics says what built the process and what the access log lost: the
// build_info labels match the start-up line and the toolchain, and writes
// that fail (here to /dev/full, which fails every write with ENOSPC) are
// counted rather than passed over.
func TestMetricsBuildInfoAndLogErrors(t *testing.T) {
	f := newFixture(t)
	p, base := serve(t, f, "--admin-listen", "127.0.0.1:0", "--access-log", "/dev/full")
	admin := adminURL(t, p)
	version := logField(p, "listening", "version")
	fams := scrape(t, admin)
	if got := metric(fams, "epfs_build_info", "version", fmt.Sprint(version), "goversion", runtime.Version()); got != 1 {
		t.Errorf("epfs_build_info{version=%q,goversion=%q} = %v, want 1; have %v", version, runtime.Version(), got, fams["epfs_build_info"])
	}
	for range 3 {
		if code, _, _ := get(t, base, "/hello.txt"); code != 200 {
			t.Fatalf("GET /hello.txt: %d", code)
		}
	}
	// The loop hands its buffer to the log writer after the response;
	// the write fails a moment later.
	waitFor(t, "a counted access-log write error", func() bool {
		return metric(scrape(t, admin), "epfs_access_log_write_errors_total") >= 1
	})
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}
