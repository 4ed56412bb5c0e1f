package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dialSmall connects with SO_RCVBUF set before the handshake, so the window
// the server sees stays small and a response larger than a few buffers
// stalls on the server's side until the client reads.
func dialSmall(t testing.TB, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// normalClients runs keep-alive clients asking for small files and ranges
// of big.bin until stop closes, and counts answers right and wrong.
func normalClients(f *fixture, base string, stop <-chan struct{}) (wait func() (ok, wrong int64, errs []string)) {
	var good, bad atomic.Int64
	var mu sync.Mutex
	var msgs []string
	note := func(format string, a ...any) {
		bad.Add(1)
		mu.Lock()
		if len(msgs) < 5 {
			msgs = append(msgs, fmt.Sprintf(format, a...))
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", base+"/hello.txt", nil)
				want, status := []byte("hello, world\n"), 200
				if n%2 == 1 {
					off := (n * 7919) % (bigSize - 4096)
					req, _ = http.NewRequest("GET", base+"/big.bin", nil)
					req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+4095))
					want, status = f.big[off:off+4096], 206
				}
				r, err := client.Do(req)
				if err != nil {
					note("%s: %v", req.URL.Path, err)
					continue
				}
				b, err := io.ReadAll(r.Body)
				r.Body.Close()
				if err != nil || r.StatusCode != status || !bytes.Equal(b, want) {
					note("%s %q: status %d, %d bytes, %v", req.URL.Path, req.Header.Get("Range"), r.StatusCode, len(b), err)
					continue
				}
				good.Add(1)
			}
		}()
	}
	return func() (int64, int64, []string) {
		wg.Wait()
		return good.Load(), bad.Load(), msgs
	}
}

// Slowloris: hundreds of connections trickle a request head one byte at a
// time, never finishing it. The header timeout counts from the first byte,
// not from the last, so each is closed at the timeout however steadily it
// trickles, while normal clients are answered throughout.
func TestSlowloris(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const headerTimeout = time.Second
	w := serveWatched(t, f, "--header-timeout", headerTimeout.String())
	const n = 300
	before := w.counter(t, "epfs_connections_closed_total", "reason", "header_timeout")

	stop := make(chan struct{})
	wait := normalClients(f, w.base, stop)
	slow := make([]net.Conn, n)
	for i := range slow {
		c, err := net.Dial("tcp", w.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		slow[i] = c
	}
	// One byte per connection every 100 ms, until a write fails: the first
	// write after the server's FIN draws a reset, the next one fails.
	start := time.Now()
	guard := headerTimeout + waitGuard // a hang guard: each is closed at the header timeout
	open := n
	var closedAt []time.Duration
	for open > 0 && time.Since(start) < guard {
		time.Sleep(100 * time.Millisecond)
		for i, c := range slow {
			if c == nil {
				continue
			}
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte{'a'}); err != nil {
				closedAt = append(closedAt, time.Since(start))
				c.Close()
				slow[i] = nil
				open--
			}
		}
	}
	close(stop)
	ok, wrong, errs := wait()
	if open > 0 {
		t.Fatalf("hang guard: %d of %d trickling connections still open after %v with a %v header timeout", open, n, guard, headerTimeout)
	}
	timeouts := w.counter(t, "epfs_connections_closed_total", "reason", "header_timeout") - before
	t.Logf("%d trickling connections closed between %v and %v; %v header timeouts counted; normal clients: %d answered right, %d wrong",
		n, closedAt[0].Round(time.Millisecond), closedAt[n-1].Round(time.Millisecond), timeouts, ok, wrong)
	if timeouts != n {
		t.Errorf("the server counted %v header timeouts, want %d", timeouts, n)
	}
	if wrong > 0 || ok == 0 {
		t.Errorf("normal clients during the attack: %d right, %d wrong: %q", ok, wrong, errs)
	}
	w.healthy(t)
}

// Slow readers of a large file: the server's sends stall on full socket
// buffers; it waits for EPOLLOUT without burning CPU, and closes each after
// --write-timeout without progress.
func TestSlowReaders(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const writeTimeout = 2 * time.Second
	w := serveWatched(t, f, "--write-timeout", writeTimeout.String())
	const n = 50
	before := w.counter(t, "epfs_connections_closed_total", "reason", "write_timeout")
	sendfiles := func() float64 { return w.counter(t, "epfs_syscalls_total", "syscall", "sendfile") }
	eagains := func() float64 { return w.counter(t, "epfs_syscalls_total", "syscall", "sendfile", "result", "eagain") }
	eagain0 := eagains()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialSmall(t, w.addr, 4096)
		io.WriteString(conns[i], "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	// Once every send has met a full socket (n EAGAINs at least), nothing
	// more can go until the readers read. Over one second of that, a loop
	// that waits for EPOLLOUT makes no sendfile at all (one each, for an
	// edge that was already on its way, is allowed); one that retried
	// after EAGAIN would make thousands. The CPU time is only logged.
	waitFor(t, "a full socket for every response", func() bool { return eagains()-eagain0 >= n })
	calls0 := sendfiles()
	cpu0 := w.cpuTime(t)
	time.Sleep(time.Second)
	cpu := w.cpuTime(t) - cpu0
	calls := sendfiles() - calls0
	// Read nothing until the server has given up on every one: reading
	// would be progress, and progress restarts the timeout.
	var timeouts float64
	for deadline := time.Now().Add(writeTimeout + waitGuard); timeouts < n && time.Now().Before(deadline); { // a hang guard
		time.Sleep(100 * time.Millisecond)
		timeouts = w.counter(t, "epfs_connections_closed_total", "reason", "write_timeout") - before
	}
	var short int
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.Copy(io.Discard, c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("reading a stalled response: %v after %d bytes (the server did not close it)", err, got)
		}
		if got < bigSize {
			short++
		}
	}
	t.Logf("%d stalled readers: over 1 s of stall %v sendfile calls, server CPU %v; %v write timeouts counted", n, calls, cpu, timeouts)
	if calls > n {
		t.Errorf("%v sendfile calls over 1 s with %d stalled readers, want at most %d: the loop retries after EAGAIN", calls, n, n)
	}
	if short != n || timeouts != n {
		t.Errorf("%d of %d responses cut short, %v write timeouts counted; want %d of each", short, n, timeouts, n)
	}
	w.healthy(t)
}

// 200 clients abort a large transfer halfway, half with a FIN (close) and
// half with a RST (close with SO_LINGER 0): every connection's descriptor
// and file reference is released.
func TestAbortMidTransfer(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	w := serveWatched(t, f)
	const n = 200
	before := w.counter(t, "epfs_connections_closed_total", "reason", "aborted")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		c := dialSmall(t, w.addr, 64<<10)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			r := bufio.NewReader(c)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				errs <- err
				return
			}
			part := make([]byte, 256<<10)
			if _, err := io.ReadFull(resp.Body, part); err != nil || !bytes.Equal(part, f.big[:len(part)]) {
				errs <- fmt.Errorf("first 256 KiB: %v", err)
				return
			}
			if i%2 == 1 {
				c.(*net.TCPConn).SetLinger(0) // close sends RST
			}
			c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	w.settle(t, &w.rest)
	aborted := w.counter(t, "epfs_connections_closed_total", "reason", "aborted") - before
	t.Logf("%d aborts (FIN and RST): %v counted as aborted; server back to %v", n, aborted, w.rest)
	if aborted != n {
		t.Errorf("%v connections closed as aborted, want %d", aborted, n)
	}
	w.healthy(t)
}

// --max-conns: at the limit a new connection gets 503 and is closed; once
// connections drop, new ones are served as usual.
func TestMaxConnsReached(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const limit, over = 20, 30
	w := serveWatched(t, f, "--max-conns", fmt.Sprint(limit), "--loops", "1")
	// keepAlive opens a connection and proves it was accepted with one
	// keep-alive request.
	keepAlive := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", w.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if rs := readResponses(t, r, "GET", 1); rs[0].StatusCode != 200 || body(t, rs[0]) != "hello, world\n" {
			t.Fatalf("below the limit: %d", rs[0].StatusCode)
		}
		return c, r
	}
	var held []net.Conn
	for i := 0; i < limit; i++ {
		c, _ := keepAlive()
		held = append(held, c)
	}
	rejected0 := w.counter(t, "epfs_connections_rejected_total")
	for i := 0; i < over; i++ {
		out := raw(t, w.addr, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 503 ") || !strings.Contains(out, "Connection: close") {
			t.Fatalf("over the limit: %q, want 503 with Connection: close", firstLine(out))
		}
	}
	if got := w.counter(t, "epfs_connections_rejected_total") - rejected0; got != over {
		t.Errorf("%v connections rejected, want %d", got, over)
	}
	for _, c := range held {
		c.Close()
	}
	w.settle(t, &w.rest)
	// The same number again, all served, and kept alive for a second request.
	for i := 0; i < limit; i++ {
		c, r := keepAlive()
		io.WriteString(c, "GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if rs := readResponses(t, r, "GET", 1); rs[0].StatusCode != 200 {
			t.Fatalf("after the connections dropped: %d", rs[0].StatusCode)
		}
		c.Close()
	}
	w.healthy(t)
}
