package tests

import (
	"bufio"
	"bytes"
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

// 5,000 connections open at once, each making keep-alive requests in
// turn: all held by the server together (its open-connections gauge says
// so), every answer right, and every descriptor returned afterwards.
// (10,000 pipelined requests on one connection: TestServeTenThousandPipelined.)
//
// The client is cheap under -race: ten goroutines, each writing a request
// on each of its 500 connections and then reading the answers, so no
// goroutine per connection and no per-byte work.
func TestFiveThousandConnections(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	w := serveWatched(t, f)
	const n, workers, rounds = 5000, 10, 3
	type client struct {
		c net.Conn
		r *bufio.Reader
	}
	clients := make([]client, n)
	for i := range clients {
		c, err := net.Dial("tcp", w.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		clients[i] = client{c, bufio.NewReaderSize(c, 2048)}
	}
	requests := []struct {
		method, path, hdr string
		status            int
		body              []byte
	}{
		{"GET", "/hello.txt", "", 200, []byte("hello, world\n")},
		{"GET", "/big.bin", "Range: bytes=4096-5119\r\n", 206, f.big[4096:5120]},
		{"HEAD", "/big.bin", "", 200, nil},
		{"GET", "/style.css", "", 200, []byte("body{}\n")},
	}
	var open float64
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for k := 0; k < workers; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := clients[k*n/workers : (k+1)*n/workers]
				for i, cl := range mine {
					rq := requests[(i+round)%len(requests)]
					if _, err := fmt.Fprintf(cl.c, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", rq.method, rq.path, rq.hdr); err != nil {
						errs <- err
						return
					}
				}
				for i, cl := range mine {
					rq := requests[(i+round)%len(requests)]
					resp, err := http.ReadResponse(cl.r, &http.Request{Method: rq.method})
					if err != nil {
						errs <- fmt.Errorf("round %d, %s %s: %v", round, rq.method, rq.path, err)
						return
					}
					b, err := io.ReadAll(resp.Body)
					if err != nil || resp.StatusCode != rq.status || !bytes.Equal(b, rq.body) {
						errs <- fmt.Errorf("round %d, %s %s: %d, %d bytes, %v", round, rq.method, rq.path, resp.StatusCode, len(b), err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if round == 0 {
			open = w.counter(t, "epfs_connections_open")
		}
	}
	t.Logf("%d connections, %d requests each: %v open on the server at once", n, rounds, open)
	if open != n {
		t.Errorf("the server held %v connections, want %d", open, n)
	}
	for _, cl := range clients {
		cl.c.Close()
	}
	w.healthy(t)
}

// Graceful shutdown under load: SIGTERM while dozens of clients are in the
// middle of large and small responses. Every response that had begun
// before the signal (its head had reached the client) completes, whole and
// right, within --shutdown-timeout: the server exits 0 without having to
// cut anything off.
//
// One client is held so that the test cannot prove nothing on a fast or a
// slow machine: it reads the head and the first 64 KiB of an 8 MiB body
// through a 64 KiB receive buffer, so the server cannot have sent the rest
// (the loopback send buffer tops out at tcp_wmem's 4 MiB), and reads on
// only once the server has said, at debug level, that its shutdown waits
// for a connection in the middle of a response.
func TestShutdownUnderLoad(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const shutdownTimeout = 60 * time.Second // far more than the responses in flight need, even under -race
	p, base := serve(t, f, "--shutdown-timeout", shutdownTimeout.String(), "--log-level", "debug")
	addr := base[len("http://"):]
	const clients = 16
	var signalled atomic.Int64          // UnixNano of the signal; 0 before
	var spanned, cut, done atomic.Int64 // responses that spanned the signal; requests it left unanswered; responses completed
	held, resume := make(chan struct{}), make(chan struct{})
	hold := func() { close(held); <-resume }
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{}
			var pause func()
			if i == 1 {
				d.Control = smallReceiveBuffer
				pause = hold
			}
			for {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					return // the listener is gone: shutting down
				}
				err = shutdownClient(c, f, i, pause, &signalled, &spanned, &cut, &done)
				pause = nil
				c.Close()
				if err != nil {
					errs <- err
					return
				}
				if signalled.Load() != 0 {
					return
				}
			}
		}()
	}
	// Signal once every client has had a few responses, whatever the
	// machine's speed, and the held one is in the middle of its body.
	waitFor(t, "responses before the signal", func() bool { return done.Load() >= 4*(clients-1) })
	waitFor(t, "the held response", func() bool {
		select {
		case <-held:
			return true
		default:
			return false
		}
	})
	signalled.Store(time.Now().UnixNano())
	p.cmd.Process.Signal(syscall.SIGTERM)
	inFlight := func() bool {
		for _, m := range p.logLines() {
			if m["message"] == "shutdown waits for connection" && (m["state"] == "response" || m["state"] == "writable") {
				return true
			}
		}
		return false
	}
	waitFor(t, "a shutdown waiting for a response in flight", func() bool { return inFlight() || p.hasExited() })
	close(resume)
	exit := p.exitWithin(t, syscall.SIGTERM, shutdownTimeout)
	took := time.Since(time.Unix(0, signalled.Load()))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	logs := p.logLines()
	last := logs[len(logs)-1]
	t.Logf("exit %d, %v after the signal; responses begun before it and completed after it: %d; requests left unanswered: %d; summary %v",
		exit, took.Round(time.Millisecond), spanned.Load(), cut.Load(), last)
	if exit != 0 || last["message"] != "stopped" || last["forced"] != false {
		t.Errorf("exit %d, last line %v: want 0 and a summary with forced false", exit, last)
	}
	if !inFlight() {
		t.Error("the shutdown logged no connection in the middle of a response: the held one was not in flight")
	}
	if spanned.Load() == 0 {
		t.Error("no response begun before the signal completed after it")
	}
}

// smallReceiveBuffer sets a 64 KiB SO_RCVBUF before connecting (after, the
// window scale is already agreed), so a client that stops reading stops the
// server's sendfile within a few MiB.
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var err error
	rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	return err
}

// shutdownClient makes keep-alive requests on c until the connection ends.
// Odd clients ask for big.bin, so that transfers are in flight at the
// signal; even ones ask for a small file. A non-nil pause runs once the
// head and the first read of the body have arrived.
// A response whose head arrived before the signal must complete right; one
// asked for later may find the connection closed, which is allowed.
func shutdownClient(c net.Conn, f *fixture, i int, pause func(), signalled, spanned, cut, done *atomic.Int64) error {
	c.SetDeadline(time.Now().Add(2 * stopGuard)) // a hang guard: the server cuts nothing, and each response takes milliseconds
	r := bufio.NewReaderSize(c, 64<<10)
	path, want := "/hello.txt", []byte("hello, world\n")
	if i%2 == 1 {
		path, want = "/big.bin", f.big
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
			cut.Add(1)
			return nil
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			cut.Add(1) // no head: the request was not begun
			return nil
		}
		before := signalled.Load() == 0
		var got bytes.Buffer
		for {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if pause != nil {
				pause()
				pause = nil
				c.SetDeadline(time.Now().Add(2 * stopGuard))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				if before {
					return fmt.Errorf("GET %s begun before the signal was cut after %d bytes: %v", path, got.Len(), err)
				}
				return nil // begun after the signal: may be cut
			}
		}
		if resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), want) {
			return fmt.Errorf("GET %s: %d, %d bytes: wrong", path, resp.StatusCode, got.Len())
		}
		done.Add(1)
		if before && signalled.Load() != 0 {
			spanned.Add(1)
		}
		if resp.Close {
			return nil
		}
	}
}

// A client that connects and sends nothing must not hold a shutdown for the
// whole --shutdown-timeout: a connection not yet heard from when the
// shutdown begins gets the header timeout, counted from then, for its one
// request, and is then closed; the shutdown is not forced. One that does
// send within that time is answered, with Connection: close.
func TestShutdownSilentClient(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const headerTimeout = time.Second
	// Far beyond the hang guard below: a shutdown held by the silent client
	// would be killed by the guard, and fail.
	const shutdownTimeout = 10 * time.Minute
	p, base := serve(t, f, "--loops", "1", "--header-timeout", headerTimeout.String(),
		"--shutdown-timeout", shutdownTimeout.String(), "--log-level", "debug")
	addr := base[len("http://"):]
	silent, late := dial(t, addr), dial(t, addr)
	// One loop accepts in queue order: once a later connection is answered,
	// both silent ones have been accepted.
	if got := raw(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200 ") {
		t.Fatalf("probe request: %q", got)
	}
	signalled := time.Now()
	exitc := make(chan int, 1)
	go func() { exitc <- p.stopWithin(t, syscall.SIGTERM, headerTimeout) }()
	waitFor(t, "the shutdown's debug lines", func() bool {
		n := 0
		for _, l := range p.logLines() {
			if l["message"] == "shutdown waits for connection" && l["state"] == "first_request" {
				n++
			}
		}
		return n == 2
	})
	// The late client's request, sent after the shutdown began, is served.
	io.WriteString(late, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil {
		t.Fatalf("late client: %v", err)
	}
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("late client: %d, close %v: want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	// The silent one is closed cleanly (EOF, not a reset), not before the
	// header timeout has passed since the signal.
	silent.SetReadDeadline(time.Now().Add(headerTimeout + stopGuard)) // a hang guard
	n, err := silent.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Errorf("silent client: read %d, %v: want EOF", n, err)
	}
	if d := time.Since(signalled); d < headerTimeout {
		t.Errorf("silent client closed %v after the signal, before the header timeout (%v)", d, headerTimeout)
	}
	exit := <-exitc
	logs := p.logLines()
	last := logs[len(logs)-1]
	if exit != 0 || last["message"] != "stopped" || last["forced"] != false {
		t.Errorf("exit %d, last line %v: want 0 and a summary with forced false", exit, last)
	}
}
