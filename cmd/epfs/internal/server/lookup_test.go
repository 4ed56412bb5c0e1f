//go:build linux

package server

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/epfs/epfs/poller/iopool"
	"github.com/epfs/epfs/poller/syscount"
)

// poolCalls sums syscall s over the pool's threads.
func (r *running) poolCalls(s syscount.Syscall) uint64 {
	var n uint64
	for i := range r.pool.Threads() {
		n += r.pool.Counters(i).Total(s)
	}
	return n
}

// lookups returns loop 0's counts of lookups handed to the pool and done
// on the loop because the queue was full.
func (r *running) lookups(t testing.TB) (handed, full uint64) {
	r.onLoop(t, 0, func(w *worker) { handed, full = w.stats.lookupHanded.Load(), w.stats.lookupFull.Load() })
	return handed, full
}

// With a pool, a cache miss is looked up on a pool thread: the loop makes
// no openat2 or fstat for it, the pool's counters show them. The repeated
// request is a hit, answered on the loop without a file system call and
// without the pool. A --fallback miss goes the same way.
func TestMissLookedUpOnPool(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false), Fallback: "/hello.txt"})
	c := dialRaw(t, r.addr)
	fileCalls := []syscount.Syscall{syscount.Openat2, syscount.Openat, syscount.Fstat, syscount.Pread, syscount.Close}
	for _, path := range []string{"/large.bin", "/small.bin", "/nothing-here"} {
		before := r.loopCounters(t)
		poolOpens := r.poolCalls(syscount.Openat2) + r.poolCalls(syscount.Openat)
		handed, _ := r.lookups(t)
		c.roundTrip(t, get(path), 200)
		d := r.loopCounters(t).Sub(before)
		for _, s := range fileCalls {
			if n := d.Total(s); n != 0 {
				t.Errorf("%s, a miss: %d %v on the loop, want 0", path, n, s)
			}
		}
		if got := r.poolCalls(syscount.Openat2) + r.poolCalls(syscount.Openat); got == poolOpens {
			t.Errorf("%s, a miss: no open on the pool's threads", path)
		}
		if h, f := r.lookups(t); h != handed+1 || f != 0 {
			t.Errorf("%s, a miss: %d lookups handed to the pool (want %d), %d done on the loop for a full queue (want 0)", path, h, handed+1, f)
		}

		// Again: a hit.
		before = r.loopCounters(t)
		poolBefore := r.poolCalls(syscount.Openat2) + r.poolCalls(syscount.Fstat)
		handed, _ = r.lookups(t)
		c.roundTrip(t, get(path), 200)
		d = r.loopCounters(t).Sub(before)
		for _, s := range fileCalls {
			if n := d.Total(s); n != 0 {
				t.Errorf("%s, a hit: %d %v on the loop, want 0", path, n, s)
			}
		}
		if h, _ := r.lookups(t); h != handed {
			t.Errorf("%s, a hit: handed to the pool", path)
		}
		if got := r.poolCalls(syscount.Openat2) + r.poolCalls(syscount.Fstat); got != poolBefore {
			t.Errorf("%s, a hit: the pool made %d file calls", path, got-poolBefore)
		}
	}
}

// With --io-threads 0 there is no pool: misses are looked up on the loop,
// as before.
func TestMissWithoutPoolOnLoop(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false), IOThreads: -1})
	c := dialRaw(t, r.addr)
	before := r.loopCounters(t)
	c.roundTrip(t, get("/large.bin"), 200)
	d := r.loopCounters(t).Sub(before)
	if d.Total(syscount.Openat2)+d.Total(syscount.Openat) == 0 || d.Total(syscount.Fstat) == 0 {
		t.Errorf("a miss without a pool: %d openat2, %d openat, %d fstat on the loop; want the lookup there",
			d.Total(syscount.Openat2), d.Total(syscount.Openat), d.Total(syscount.Fstat))
	}
	before = r.loopCounters(t)
	c.roundTrip(t, get("/large.bin"), 200)
	d = r.loopCounters(t).Sub(before)
	if n := d.Total(syscount.Openat2) + d.Total(syscount.Openat) + d.Total(syscount.Fstat); n != 0 {
		t.Errorf("a hit without a pool: %d file calls on the loop, want 0", n)
	}
}

// blockPool occupies every pool thread with a task that waits for the
// returned function, and then fills the queue when fill is set.
func blockPool(t *testing.T, r *running, fill bool) (unblock func()) {
	t.Helper()
	gate := make(chan struct{})
	started := make(chan struct{}, r.pool.Threads())
	block := func(*iopool.Thread) { started <- struct{}{}; <-gate }
	noop := func() {}
	for range r.pool.Threads() {
		if !r.pool.Submit(r.workers[0].loop, block, noop) {
			t.Fatal("pool refused a task")
		}
	}
	for range r.pool.Threads() {
		<-started
	}
	if fill {
		for r.pool.Submit(r.workers[0].loop, func(*iopool.Thread) {}, noop) {
		}
	}
	return func() { close(gate) }
}

// When the queue is full the miss is looked up on the loop at once, and
// counted.
func TestMissOnLoopWhenQueueFull(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false)})
	unblock := blockPool(t, r, true)
	defer unblock()
	c := dialRaw(t, r.addr)
	before := r.loopCounters(t)
	c.roundTrip(t, get("/large.bin"), 200)
	d := r.loopCounters(t).Sub(before)
	if d.Total(syscount.Openat2)+d.Total(syscount.Openat) == 0 {
		t.Errorf("a miss with the queue full: no open on the loop")
	}
	if h, f := r.lookups(t); h != 0 || f != 1 {
		t.Errorf("%d lookups handed, %d done on the loop for a full queue; want 0 and 1", h, f)
	}
}

// A connection closed while its lookup is out (here by the shutdown
// timeout's closeAll, on the loop) leaks nothing: the lookup's done finds
// it closed and releases the entry it took, so once the server has
// stopped every descriptor it opened is closed.
func TestClosedWhileLookupOut(t *testing.T) {
	root := testRoot(t, false)
	baseline := openFds(t)
	r := start(t, Config{Root: root})
	unblock := blockPool(t, r, false)
	c := dialRaw(t, r.addr)
	if err := c.send(get("/large.bin")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lookup handed to the pool", func() bool { h, _ := r.lookups(t); return h == 1 })
	r.onLoop(t, 0, func(w *worker) {
		var n int
		for _, k := range w.conns.all {
			if k.state != stateLookup || k.rq == nil {
				t.Errorf("connection with its lookup out: state %s, buffer %v; want lookup, true", k.waitingFor(), k.rq != nil)
			}
			n++
		}
		if n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
		w.closeAll()
	})
	if _, err := c.readAll(); err != nil {
		t.Errorf("client after the close: %v", err)
	}
	c.close()
	unblock()
	r.stop(t)
	if got := openFds(t); got != baseline {
		t.Errorf("%d descriptors open after the server stopped, want %d as before it started", got, baseline)
	}
}

// openFds counts this process's open descriptors.
func openFds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own
}

// A connection closed while its cold range is out on the pool (stateFetch;
// here by the shutdown timeout's closeAll) becomes an orphan: it keeps its
// request, whose response the I/O thread reads into, until the fetch's done
// runs, which releases the response's entry and slab. Nothing leaks: once
// the server has stopped every descriptor it opened is closed.
func TestClosedWhileFetchOut(t *testing.T) {
	root := testRoot(t, false)
	writeCold(t, root, "cold.bin", 8<<20)
	baseline := openFds(t)
	r := start(t, Config{Root: root})
	// A HEAD puts the file in the cache (so the GET's lookup stays on
	// the loop) without reading its data (so the GET's probe finds it
	// cold).
	h := dialRaw(t, r.addr)
	if err := h.send([]byte("HEAD /cold.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if out, err := h.readAll(); err != nil || !strings.HasPrefix(out, "HTTP/1.1 200 ") {
		t.Fatalf("HEAD: %q, %v", out, err)
	}
	h.close()
	waitFor(t, "the HEAD's connection closed", func() bool { return len(r.conns(t)) == 0 })
	c := dialRaw(t, r.addr)
	unblock := blockPool(t, r, false)
	if err := c.send(get("/cold.bin")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cold range handed to the pool", func() bool {
		cs := r.conns(t)
		return len(cs) == 1 && cs[0].state == stateFetch
	})
	var orphan *conn
	r.onLoop(t, 0, func(w *worker) {
		orphan = w.conns.newest()
		w.closeAll()
		if orphan.state != stateOrphan || orphan.rq == nil {
			t.Errorf("closed with its fetch out: state %s, request held %v; want orphan, true", orphan.waitingFor(), orphan.rq != nil)
		}
	})
	c.readAll()
	c.close()
	unblock()
	r.stop(t)
	if orphan.state != stateClosed || orphan.rq != nil {
		t.Errorf("after the fetch's done: state %s, request held %v; want closed, false", orphan.waitingFor(), orphan.rq != nil)
	}
	if got := openFds(t); got != baseline {
		t.Errorf("%d descriptors open after the server stopped, want %d as before it started", got, baseline)
	}
}

// syncBuffer is an io.Writer the access log's sink goroutine writes to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A request whose lookup is out on the pool is one value: while it waits,
// the loop parses and answers another connection's request (with other
// fields), and when the pool hands it back it is answered from its own head
// (its Range field), its own path, and logged with its own method and
// target, none of it parsed again.
func TestLookupOutKeepsItsRequest(t *testing.T) {
	var log syncBuffer
	r := start(t, Config{Root: testRoot(t, false), AccessLog: &log})
	other := dialRaw(t, r.addr)
	var once sync.Once
	gate := blockPool(t, r, false)
	unblock := func() { once.Do(gate) }
	defer unblock() // a failure below must not leave the pool blocked and the stop hung
	c := dialRaw(t, r.addr)
	if err := c.send([]byte("GET /large.bin?v=1 HTTP/1.1\r\nHost: t\r\nRange: bytes=10-19\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lookup handed to the pool", func() bool { h, _ := r.lookups(t); return h == 1 })
	// The asterisk-form needs no lookup: the loop parses and answers it
	// whatever the pool does (a cached path would go to the blocked pool
	// once its entry is due for revalidation).
	other.roundTrip(t, []byte("OPTIONS * HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\n\r\n"), 204)
	unblock()
	status, n, err := c.response()
	if err != nil || status != 206 || n != 10 {
		t.Fatalf("the request whose lookup was out: %d, %d body bytes, %v; want 206 and 10", status, n, err)
	}
	waitFor(t, "two access-log lines", func() bool { return strings.Count(log.String(), "\n") >= 2 })
	var found bool
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `"path":"/large.bin?v=1"`) {
			found = true
			if !strings.Contains(line, `"method":"GET"`) || !strings.Contains(line, `"status":206`) {
				t.Errorf("access-log line of the pooled lookup: %s; want GET, 206", line)
			}
		}
	}
	if !found {
		t.Errorf("no access-log line for /large.bin?v=1 in:\n%s", log.String())
	}
}
