//go:build linux

package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
)

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
