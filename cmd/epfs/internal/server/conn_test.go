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

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
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

// An idle keep-alive connection holds no read buffer and no response
// resources, whatever it was last asked (a file in memory, a file sent with
// sendfile, an error), and its idle timer is armed.
func TestIdleConnectionHoldsNoBuffer(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false)})
	const k = 8
	for i := 0; i < k; i++ {
		c := dialRaw(t, r.addr)
		c.roundTrip(t, get("/small.bin"), 200)
		c.roundTrip(t, get("/large.bin"), 200)
		c.roundTrip(t, get("/missing"), 404)
	}
	var pooled int
	waitFor(t, "every connection idle", func() bool {
		cs := r.conns(t)
		for _, c := range cs {
			if c.state != stateIdle {
				return false
			}
		}
		return len(cs) == k
	})
	for i, c := range r.conns(t) {
		if c.holdBuf || c.pending || !c.armed {
			t.Errorf("idle connection %d: holds buffer %v, response pending %v, idle timer armed %v; want false, false, true",
				i, c.holdBuf, c.pending, c.armed)
		}
	}
	r.onLoop(t, 0, func(w *worker) { pooled = w.requests.Len() })
	if pooled == 0 || pooled > k {
		t.Errorf("%d buffers in the pool after %d connections went idle; want 1 to %d", pooled, k, k)
	}
}

// After a request body has been read and discarded, the connection is idle:
// it holds no buffer, its idle timer (not the header timer) runs, and a
// graceful shutdown closes it at once. Before the fix it stayed in the head
// state with a buffer, and the header timeout closed a healthy keep-alive
// connection.
func TestDiscardedBodyLeavesConnectionIdle(t *testing.T) {
	for _, tc := range []struct {
		name string
		send []string // written one after another, each its own segment
	}{
		{"body with head", []string{"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"}},
		{"body after head", []string{"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n", "hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const headerTimeout = 100 * time.Millisecond
			r := start(t, Config{Root: testRoot(t, false), HeaderTimeout: headerTimeout, IdleTimeout: time.Minute})
			c := dialRaw(t, r.addr)
			for i, s := range tc.send {
				if i > 0 {
					waitFor(t, "the response", func() bool { return r.Stats().Requests == 1 })
				}
				if err := c.send([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			if status, _, err := c.response(); err != nil || status != 405 {
				t.Fatalf("POST: status %d, %v; want 405", status, err)
			}
			waitFor(t, "the body discarded", func() bool {
				cs := r.conns(t)
				return len(cs) == 1 && !cs[0].state.answering()
			})
			if cs := r.conns(t); cs[0].state != stateIdle || cs[0].holdBuf {
				t.Errorf("after the body: state %d, holds buffer %v; want idle (%d) without a buffer", cs[0].state, cs[0].holdBuf, stateIdle)
			}
			// Ten header timeouts later the connection must still serve.
			time.Sleep(10 * headerTimeout)
			c.roundTrip(t, get("/hello.txt"), 200)
			if n := r.Stats().Timeouts; n != 0 {
				t.Errorf("%d connections closed by a timeout, want 0", n)
			}
		})
	}
}

// An idle server is silent: a loop with no connection makes no wakeup of its
// own, neither when it has never served nor once the timers a request arms
// (the Date tick, the access-log flush, the pool trim) have run out. Over
// idlePeriod, several times the tick's second, the loop makes no epoll_wait
// and fires no timer: counted, not timed. The Date of the first response
// after the quiet is read fresh.
func TestIdleLoopMakesNoWakeups(t *testing.T) {
	defer func(d time.Duration) { quietTrim = d }(quietTrim)
	quietTrim = 200 * time.Millisecond
	const idlePeriod = 2500 * time.Millisecond
	log := &syncBuffer{}
	r := start(t, Config{Root: testRoot(t, false), AccessLog: log})
	sc := r.workers[0].sc
	// asleep waits until the loop sleeps again after a wakeup that began
	// when it had slept n times: it then stays asleep until something
	// wakes it, so its counters hold still from here.
	asleep := func(n uint64) syscount.Snapshot {
		waitFor(t, "the loop asleep", func() bool { return sc.Tally(syscount.Sleeps) > n })
		return sc.Snapshot()
	}
	silent := func(what string, before syscount.Snapshot) {
		t.Helper()
		time.Sleep(idlePeriod)
		d := sc.Snapshot().Sub(before)
		if w, f := d.Total(syscount.EpollWait), d.Events[syscount.TimersFired]; w != 0 || f != 0 {
			t.Errorf("%s: %d epoll_wait and %d timers fired over %v with no connection, want 0 and 0", what, w, f, idlePeriod)
		}
	}
	silent("a loop that never served", asleep(0))

	c := dialRaw(t, r.addr)
	c.roundTrip(t, get("/small.bin"), 200)
	c.close()
	var settled bool
	var sleeps uint64
	waitFor(t, "the timers of the request run out", func() bool {
		sleeps = sc.Tally(syscount.Sleeps)
		r.onLoop(t, 0, func(w *worker) {
			settled = len(w.conns.all) == 0 && w.trimmed && !w.tick.Armed() && !w.flushT.Armed() && !w.trim.Armed()
		})
		return settled
	})
	if n := strings.Count(log.String(), "\n"); n != 1 {
		t.Errorf("%d access-log lines before any shutdown, want 1 (flushed by its one-shot timer)", n)
	}
	silent("a loop whose timers ran out", asleep(sleeps))

	before := time.Now().Truncate(time.Second)
	resp, err := http.Get("http://" + r.addr.String() + "/small.bin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil || date.Before(before) {
		t.Errorf("Date %q after %v idle: %v; want the time of the response, not before %v", resp.Header.Get("Date"), idlePeriod, err, before)
	}
}

// A transfer that keeps making progress is never cut by the write timeout,
// even when its progress comes in Yields (budget spent, socket still
// writable) long after the last EAGAIN armed the timer: a fast client of a
// slow disk, or a busy loop. Before the fix the timer armed by the last
// EAGAIN stayed armed through every Yield and fired mid-transfer.
func TestWriteTimeoutSparesYieldingTransfer(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	r := start(t, Config{Root: testRoot(t, true), WriteTimeout: writeTimeout})
	// The client does not read: the server fills the socket and waits for
	// EPOLLOUT, with the write timer armed.
	c := blockHuge(t, r)
	var skip error
	r.onLoop(t, 0, func(w *worker) {
		cn := w.conns.newest()
		// Room for the rest of the file in the send buffer, so the next
		// Steps end in Yield, never EAGAIN (SO_SNDBUFFORCE needs
		// CAP_NET_ADMIN).
		if skip = unix.SetsockoptInt(cn.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, hugeSize); skip != nil {
			return
		}
		// The edge the larger buffer raises, delivered now: this Step
		// makes progress and yields.
		cn.Handle(poller.Out)
		// The loop is then busy (a page-cache miss, other connections)
		// for longer than the write timeout; the transfer resumes after.
		time.Sleep(3 * writeTimeout)
	})
	if skip != nil {
		t.Skipf("SO_SNDBUFFORCE: %v", skip)
	}
	status, n, err := c.response()
	if err != nil || status != 200 || n != hugeSize {
		t.Fatalf("transfer: status %d, %d bytes, %v; want 200, %d bytes, no error", status, n, err, hugeSize)
	}
	if n := r.Stats().Timeouts; n != 0 {
		t.Errorf("%d connections closed by a timeout, want 0", n)
	}
}

// Each state a client can hold a connection in is bounded by its timer.
func TestTimeoutInEveryState(t *testing.T) {
	const d = 150 * time.Millisecond
	r := start(t, Config{Root: testRoot(t, true), HeaderTimeout: d, IdleTimeout: d, WriteTimeout: d})
	// Each timer may close its connection only after its full duration:
	// begin is read before the request that arms it is sent, so the time
	// the client measures is at least the server's. How long after is not
	// asserted; the client's receive timeout (hangGuard) is the hang guard.
	closedAfter := func(t *testing.T, c *rawClient, begin time.Time) {
		t.Helper()
		for {
			err := c.fill()
			c.n = 0
			if err == errTimeout {
				t.Fatalf("hang guard: not closed within the client's %v receive timeout", hangGuard)
			}
			if err != nil {
				break
			}
		}
		if el := time.Since(begin); el < d {
			t.Errorf("closed after %v, before the %v timeout", el, d)
		}
	}
	t.Run("idle", func(t *testing.T) {
		c := dialRaw(t, r.addr)
		begin := time.Now()
		c.roundTrip(t, get("/hello.txt"), 200)
		closedAfter(t, c, begin)
	})
	t.Run("header", func(t *testing.T) {
		before := r.Stats().Timeouts
		c := dialRaw(t, r.addr)
		begin := time.Now()
		c.send([]byte("GET /hello.txt HTTP/1.1\r\nHo"))
		closedAfter(t, c, begin)
		waitFor(t, "the timeout counted", func() bool { return r.Stats().Timeouts == before+1 })
	})
	t.Run("write", func(t *testing.T) {
		before := r.Stats().Timeouts
		c := dialRawBuf(t, r.addr, 4096)
		c.send(get("/huge.bin"))
		waitFor(t, "the timeout counted", func() bool { return r.Stats().Timeouts == before+1 })
		waitFor(t, "the connection closed", func() bool { return len(r.conns(t)) == 0 })
	})
	t.Run("linger", func(t *testing.T) {
		// A malformed request is answered 400, then the server lingers
		// (reads and drops) until the client closes or lingerTime passes.
		c := dialRaw(t, r.addr)
		c.send([]byte("BAD\x00 / HTTP/1.1\r\n\r\n"))
		out, err := c.readAll() // EOF: the server shut its write side
		if err != nil || !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Fatalf("%q, %v; want a 400 and EOF", out, err)
		}
		// We never close: the server must give up lingering on its own.
		if cs := r.conns(t); len(cs) != 1 || cs[0].state != stateLinger {
			t.Fatalf("after the 400: %+v, want one lingering connection", cs)
		}
		waitFor(t, "the lingering connection closed", func() bool { return len(r.conns(t)) == 0 })
	})
}
