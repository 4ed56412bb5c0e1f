//go:build linux

package transmit

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/pollertest"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// startLoop and on are pollertest's Start and On, under the names these
// tests use.
var (
	startLoop = pollertest.Start
	on        = pollertest.On
)

// tcpPair returns a loopback TCP connection: the server side as a raw
// nonblocking descriptor the caller owns, and the client side as a net.Conn.
// sndbuf > 0 shrinks the server's send buffer (the kernel doubles it and
// applies a floor of about 4.5 KiB, socket(7)).
//
// With a small sndbuf the client also gets a small receive buffer and an
// Ethernet-sized MSS, set before connecting: loopback's MSS is about 64 KiB,
// and a receive window smaller than one MSS makes the sender wait for TCP's
// persist timer (silly window avoidance, RFC 9293 §3.8.6.2.1) instead of for
// the reader: 200 ms stalls that would hide what the test looks at.
//
// The server side uses Reno, whatever the system's congestion control: a
// paced one (BBR, the build machine's default) makes the kernel hold bytes
// with nothing in flight until the pacing timer releases them, and arms
// the probe timer as it does so (tcp_write_xmit stops at tcp_pacing_check,
// __tcp_push_pending_frames calls tcp_check_probe_timer). That is the
// state unsentTail reports as a corked tail; under pacing it is the
// kernel's, and it clears when the pacing timer fires, which a busy
// machine delays (a 45,109-byte tail seen at load 11). Reno, always built
// in and allowed to every user, does not pace, so the only bytes held
// with nothing in flight are the ones a send's flags corked. It is set on
// the listener, which the accepted socket inherits, so that BBR never
// starts on the socket (it turns pacing on when it does).
func tcpPair(t testing.TB, sndbuf int) (int, *net.TCPConn) {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(s uintptr) {
			serr = unix.SetsockoptString(int(s), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "reno")
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var d net.Dialer
	if sndbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(s uintptr) {
				unix.SetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<10)
				unix.SetsockoptInt(int(s), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 1400)
			})
		}
	}
	client, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	raw, err := sc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	raw.Control(func(s uintptr) { fd, err = unix.Dup(int(s)) })
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	if sndbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf); err != nil {
			t.Fatal(err)
		}
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return fd, client.(*net.TCPConn)
}

// ended is how one response ended on the server.
type ended struct {
	out    Outcome
	err    error
	status int
	sent   int64
	close  bool
}

// testConn is a server connection driven by a real poller loop: it plans a
// response when the test submits one and steps it on every Writable and
// every requeue, exactly as the server does.
type testConn struct {
	t     testing.TB
	l     *poller.Loop
	w     *Writer
	x     *fsindex.Index
	fd    int
	id    poller.ID
	resp  Response
	ended chan ended
	steps int // Step calls, including the one from send
	// beforeStep and onStep, if set, run around every Step on the loop
	// goroutine.
	beforeStep func()
	onStep     func(Outcome)
	maxStep    int64       // the most bytes one Step wrote
	done       atomic.Bool // the last response ended
}

func (tc *testConn) Handle(ev poller.Events) {
	if ev.Writable() {
		tc.pump()
	}
}

func (tc *testConn) pump() {
	if !tc.resp.Pending() {
		return
	}
	tc.steps++
	if tc.beforeStep != nil {
		tc.beforeStep()
	}
	before := tc.resp.Sent()
	out := tc.resp.Step(tc.fd)
	tc.maxStep = max(tc.maxStep, tc.resp.Sent()-before)
	if tc.onStep != nil {
		tc.onStep(out)
	}
	switch out {
	case WouldBlock:
	case Yield:
		tc.l.Requeue(tc.id, poller.Out)
	default:
		e := ended{out: out, err: tc.resp.Err(), status: tc.resp.Status(), sent: tc.resp.Sent(), close: tc.resp.Close()}
		tc.resp.Reset()
		tc.done.Store(true)
		if e.close {
			tc.l.Close(tc.id)
		}
		tc.ended <- e
	}
}

// env is a served root, an index over it, a Writer and a loop.
type env struct {
	t    testing.TB
	root string
	x    *fsindex.Index
	l    *poller.Loop
	w    *Writer
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	return newEnvAt(t, cfg, t.TempDir())
}

// newEnvSparse serves a root on tmpfs when /dev/shm is one: tmpfs reads a
// hole by splicing the shared zero page (about 20 GB/s here), where ext4
// allocates and zeroes a page-cache page per hole page (about 300 MB/s on
// the 2-core build machine, 14 s for 4 GiB), which would make the big
// sparse transfers too slow for the test budget.
func newEnvSparse(t testing.TB, cfg Config) *env {
	t.Helper()
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil || st.Type != unix.TMPFS_MAGIC {
		t.Log("/dev/shm is not tmpfs: the sparse file lives on the test's temp dir")
		return newEnv(t, cfg)
	}
	root, err := os.MkdirTemp("/dev/shm", "transmit-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	return newEnvAt(t, cfg, root)
}

func newEnvAt(t testing.TB, cfg Config, root string) *env {
	t.Helper()
	x, err := fsindex.Open(fsindex.Options{Root: root, Precompressed: true, Listing: true, Valid: -1, NegativeValid: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: root, x: x, l: startLoop(t)}
	e.w = NewWriter(cfg, e.l.Counters())
	t.Cleanup(func() {
		on(t, e.l, func() {
			e.w.Close()
			x.Close(e.l.Counters())
		})
	})
	return e
}

// file writes a file beneath the root.
func (e *env) file(name string, data []byte) {
	e.t.Helper()
	p := filepath.Join(e.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// conn registers a new loopback connection with the loop.
func (e *env) conn(sndbuf int) (*testConn, *net.TCPConn) {
	e.t.Helper()
	fd, client := tcpPair(e.t, sndbuf)
	tc := &testConn{t: e.t, l: e.l, w: e.w, x: e.x, fd: fd, ended: make(chan ended, 1)}
	on(e.t, e.l, func() {
		id, err := e.l.Add(fd, tc)
		if err != nil {
			e.t.Error(err)
		}
		tc.id = id
	})
	return tc, client
}

// parse parses one raw request head.
func parse(t testing.TB, raw string) *httpparse.Request {
	t.Helper()
	var p httpparse.Parser
	req := new(httpparse.Request)
	if _, err := p.Parse([]byte(raw), req); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return req
}

// send plans the response to raw on the loop (lookup included) and starts
// it; the rest is driven by the loop's events.
func (tc *testConn) send(raw string) {
	tc.t.Helper()
	req := parse(tc.t, raw)
	tc.submit(func(c *syscount.Counters) {
		path, query, err := httpparse.DecodePath(nil, req.Target)
		if err != nil {
			tc.resp.PlanError(tc.w, req, 400, false)
			return
		}
		e, res, _ := tc.x.Lookup(c, string(path))
		tc.resp.Plan(tc.w, Request{Head: req, Path: path, Query: query, KeepAlive: req.KeepAlive}, e, res)
	})
}

// submit runs plan on the loop and then steps the response it planned.
func (tc *testConn) submit(plan func(c *syscount.Counters)) {
	tc.t.Helper()
	if err := tc.l.Submit(func() {
		tc.done.Store(false)
		plan(tc.l.Counters())
		tc.pump()
	}); err != nil {
		tc.t.Fatal(err)
	}
}

// wait returns how the current response ended.
func (tc *testConn) wait() ended {
	tc.t.Helper()
	select {
	case e := <-tc.ended:
		return e
	case <-time.After(60 * time.Second):
		tc.t.Fatal("hang guard: response did not end within 60s")
		return ended{}
	}
}

// readResponse reads one response from the client side, body included.
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("ReadResponse: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	resp.Body.Close()
	return resp, body
}
