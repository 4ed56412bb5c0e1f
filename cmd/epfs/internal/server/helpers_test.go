//go:build linux

package server

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Sizes of the test root's files. small is kept in memory by fsindex (at
// most 16 KiB) and goes out in one writev; large is sent with sendfile.
const (
	smallSize = 1 << 10
	largeSize = 1 << 20
	hugeSize  = 64 << 20
)

// testRoot makes a served root: hello.txt, small.bin (in memory), large.bin
// (sendfile) and, when huge is set, huge.bin (64 MiB, for transfers that
// must outlast a timer).
func testRoot(t testing.TB, huge bool) string {
	t.Helper()
	dir := t.TempDir()
	writeRoot(t, dir, huge)
	return dir
}

// writeRoot writes testRoot's files into dir, which must exist.
func writeRoot(t testing.TB, dir string, huge bool) {
	t.Helper()
	files := map[string]int{"small.bin": smallSize, "large.bin": largeSize}
	if huge {
		files["huge.bin"] = hugeSize
	}
	for name, size := range files {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i*7 + i>>8)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// running is a Server started in the test process.
type running struct {
	*Server
	addr netip.AddrPort
	done chan error // Run's result
}

// start serves cfg (Listen defaults to 127.0.0.1:0, Loops to 1) until the
// test ends, and checks that Run returned cleanly.
func start(t testing.TB, cfg Config) *running {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	if cfg.Loops == 0 {
		cfg.Loops = 1
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{Server: s, done: make(chan error, 1)}
	if r.addr, err = netip.ParseAddrPort(s.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- s.Run() }()
	t.Cleanup(func() { r.stop(t) })
	// Wait until every loop runs. This also orders Run's write of
	// Server.started before the test's calls to Stats: Stats reads it
	// without synchronisation, a data race when a caller asks for Stats
	// while Run is starting (reported, not yet fixed in server_linux.go).
	for i := range s.workers {
		r.onLoop(t, i, func(*worker) {})
	}
	return r
}

// stop shuts the server down, at once if graceful draining takes longer
// than the shutdown timeout plus hangGuard (the hang guard: the tests'
// in-flight work takes milliseconds).
func (r *running) stop(t testing.TB) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.Shutdown()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(r.cfg.ShutdownTimeout + hangGuard):
		r.Shutdown()
		t.Errorf("hang guard: Run did not return within %v of Shutdown", r.cfg.ShutdownTimeout+hangGuard)
		<-r.done
	}
	r.done = nil
}

// onLoop runs fn on loop i's goroutine and waits for it: the only safe way
// for a test to look at a worker's connections.
func (r *running) onLoop(t testing.TB, i int, fn func(w *worker)) {
	t.Helper()
	w := r.workers[i]
	ran := make(chan struct{})
	if err := w.loop.Submit(func() { fn(w); close(ran) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(hangGuard):
		t.Fatalf("hang guard: loop did not run a submitted function within %v", hangGuard)
	}
}

// conns returns a description of every connection on loop 0, taken on the loop.
type connInfo struct {
	state   connState
	holdBuf bool
	pending bool
	armed   bool
	fd      int
}

func (r *running) conns(t testing.TB) []connInfo {
	var out []connInfo
	r.onLoop(t, 0, func(w *worker) {
		for _, c := range w.conns.all {
			pending := c.rq != nil && c.rq.resp.Pending()
			out = append(out, connInfo{c.state, c.rq != nil, pending, c.timer.Armed(), c.fd})
		}
	})
	return out
}

// hangGuard bounds every wait in these tests for something that takes
// milliseconds (a submitted function, a response, a counted event): room
// for the race detector on a busy machine, and a clear failure instead of
// a test hung until the go test timeout. It is never an assertion on time.
const hangGuard = 30 * time.Second

// waitFor polls cond every few milliseconds until it holds, for at most
// hangGuard.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("hang guard: gave up after %v waiting for %s", hangGuard, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rawClient is a blocking socket driven with bare syscalls and fixed
// buffers, so that it allocates nothing: in an allocation measurement every
// malloc counted is the server's. Its receive timeout (hangGuard) turns a
// hung server into an error instead of a hung test.
type rawClient struct {
	fd  int
	buf []byte
	n   int // bytes of buf holding unread response bytes
}

var errTimeout = errors.New("client: timed out waiting for the server")

func dialRaw(t testing.TB, addr netip.AddrPort) *rawClient { return dialRawBuf(t, addr, 0) }

// dialRawBuf is dialRaw with SO_RCVBUF set before connecting (0: the
// default), so that a client that does not read blocks the server soon.
func dialRawBuf(t testing.TB, addr netip.AddrPort, rcvbuf int) *rawClient {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rcvbuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
	tv := unix.NsecToTimeval(hangGuard.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	err = unix.Connect(fd, sa)
	for err == unix.EINTR || err == unix.EALREADY {
		// A blocking connect with a send timeout is interruptible (the
		// runtime preempts with SIGURG); the handshake goes on in the
		// kernel: wait until the socket is writable, then ask again,
		// which says how it ended (EISCONN: connected).
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, int(hangGuard.Milliseconds()))
		err = unix.Connect(fd, sa)
	}
	if err == unix.EISCONN {
		err = nil
	}
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	c := &rawClient{fd: fd, buf: make([]byte, 64<<10)}
	t.Cleanup(c.close)
	return c
}

func (c *rawClient) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

func (c *rawClient) send(p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(c.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (c *rawClient) fill() error {
	for {
		n, err := unix.Read(c.fd, c.buf[c.n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return errTimeout
		case err != nil:
			return err
		case n == 0:
			return errEOF
		}
		c.n += n
		return nil
	}
}

var errEOF = errors.New("client: connection closed by the server")

var (
	crlf2   = []byte("\r\n\r\n")
	clField = []byte("\r\ncontent-length:")
)

// response reads one response to a GET and returns its status and body
// length, discarding the body. Only Content-Length framing is understood,
// which is all epfs sends.
func (c *rawClient) response() (status int, body int64, err error) {
	for {
		if i := bytes.Index(c.buf[:c.n], crlf2); i >= 0 {
			head := c.buf[:i+2]
			status = int(head[9]-'0')*100 + int(head[10]-'0')*10 + int(head[11]-'0')
			body = contentLength(head)
			c.consume(i + 4)
			break
		}
		if c.n == len(c.buf) {
			return 0, 0, errors.New("client: response head too large")
		}
		if err := c.fill(); err != nil {
			return 0, 0, err
		}
	}
	left := body
	for left > 0 {
		if c.n == 0 {
			if err := c.fill(); err != nil {
				return status, body, err
			}
		}
		k := int(min(left, int64(c.n)))
		c.consume(k)
		left -= int64(k)
	}
	return status, body, nil
}

func (c *rawClient) consume(k int) {
	copy(c.buf, c.buf[k:c.n])
	c.n -= k
}

// contentLength finds Content-Length in a response head without
// allocating (the field name compared case-insensitively).
func contentLength(head []byte) int64 {
	for i := 0; i+len(clField) <= len(head); i++ {
		match := true
		for j, b := range clField {
			h := head[i+j]
			if 'A' <= h && h <= 'Z' {
				h += 'a' - 'A'
			}
			if h != b {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		var v int64
		for _, b := range head[i+len(clField):] {
			switch {
			case b == ' ':
			case '0' <= b && b <= '9':
				v = v*10 + int64(b-'0')
			default:
				return v
			}
		}
		return v
	}
	return 0
}

// roundTrip sends req and reads one response, failing the test on error or
// on a status other than want.
func (c *rawClient) roundTrip(t testing.TB, req []byte, want int) int64 {
	if err := c.send(req); err != nil {
		t.Fatal(err)
	}
	status, n, err := c.response()
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("status %d, want %d", status, want)
	}
	return n
}

// get is a keep-alive request for path.
func get(path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")
}

// readAll reads until EOF, a reset, or the receive timeout.
func (c *rawClient) readAll() (string, error) {
	var out strings.Builder
	for {
		err := c.fill()
		out.Write(c.buf[:c.n])
		c.n = 0
		if err == errEOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

// newest returns the connection accepted last.
func (s *connSet) newest() *conn { return s.all[len(s.all)-1] }
