//go:build linux

package server

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/internal/lifo"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"github.com/epfs/epfs/transmit"
	"github.com/rs/zerolog"
)

// worker is one loop and everything only that loop touches: its
// connections, its buffer pool, its timers, its response writer and its
// access-log buffer. No field is shared with another loop, so nothing here
// takes a lock.
type worker struct {
	srv       *Server
	idx       int
	loop      *poller.Loop
	sc        *syscount.Counters
	tw        *transmit.Writer
	acceptors []poller.ID
	own       []*poller.Listener // this loop's SO_REUSEPORT sockets, closed when it drains

	requests  lifo.Pool[*request] // free requests, at most maxFree
	freeConns lifo.Pool[*conn]    // closed connection structs, reused by accept, at most maxFree

	headerQ, idleQ, writeQ, lingerQ *poller.TimerQueue
	retryQ                          *poller.TimerQueue // re-probe a cold range the full I/O queue did not take

	// The Date responses carry (see freshDate, onTick). An idle loop arms
	// no timer for it: the tick is armed by the first request after it
	// lapsed, and lapses after a second in which nothing began.
	secQ     *poller.TimerQueue // one second: the tick and the log flush
	tick     poller.Timer       // one-shot: refresh the Date a second after the last refresh
	tickSeen uint64             // activity() when tick was armed
	flushT   poller.Timer       // one-shot: armed when the access-log buffer becomes non-empty

	// Trimming the pools after a quiet interval (see markBusy, onQuiet).
	trimQ    *poller.TimerQueue
	trim     poller.Timer // one-shot, armed by the first use of a pool after it fired; never armed on an idle loop
	trimSeen uint64       // activity() when trim was armed: unchanged when it fires means the loop was quiet
	trimmed  bool         // the pools are trimmed and unused since: this loop counts in srv.quietLoops

	conns    connSet // every open connection, for draining; refused ones too
	maxConns int     // this loop's share of --max-conns
	// maxRefusing is how many refused connections may be lingering on
	// this loop at once (see refuse): min(maxRefusingPerLoop, maxConns),
	// so that descriptors stay bounded by twice the limit under a flood.
	maxRefusing int
	nextID      uint64
	draining    bool
	// drainingAccept is set while a shutdown accepts what waits in the
	// accept queues: those connections are served once, not closed as idle.
	drainingAccept bool

	access  *zerolog.Logger // nil when the access log is off
	lines   *lineBuffer
	scratch transmit.Response // for the 503 sent to connections over the limit, planned and sent within one call
	// dropBuf receives what lingering and refused connections send: bytes
	// read only to be dropped, so one buffer per loop serves them all and
	// such a connection holds no request (a request is ~17 KiB; a burst of
	// aborts and refusals can keep hundreds lingering for lingerTime).
	dropBuf []byte

	stats loopStats
}

// loopStats are the server's own tallies for one loop, beside the syscall
// counters: written by the loop only (an atomic load and store, no lock
// prefix), read by anyone.
type loopStats struct {
	requests     atomic.Uint64                  // request heads parsed or refused
	responses    [6]atomic.Uint64               // by status class: [2] is 2xx; [0] unused
	closed       [numCloseReasons]atomic.Uint64 // connections closed, by reason
	rejected     atomic.Uint64                  // connections refused with 503 at --max-conns or while draining
	rejectedNow  atomic.Uint64                  // of those, refused with maxRefusing already lingering: 503 written, closed at once
	refusing     atomic.Int64                   // refused connections registered now (waiting for their request, or lingering after the 503)
	resumes      atomic.Uint64                  // responses resumed on EPOLLOUT after EAGAIN
	continued    atomic.Uint64                  // send budgets a response went on with at once (see conn.write)
	ioHanded     atomic.Uint64                  // cold ranges handed to the I/O pool
	ioFull       atomic.Uint64                  // cold ranges the full I/O queue refused: re-probed after retryDelay
	lookupHanded atomic.Uint64                  // cache misses looked up on the I/O pool
	lookupFull   atomic.Uint64                  // cache misses looked up on the loop because the I/O queue was full
	ioWait       histogram                      // time connections waited for the pool, from hand-over to sending again (ioWaitBounds)
	reqDur       histogram                      // request head parsed (or refused) to response done, on the batch clock (requestBounds)
	open         atomic.Int64                   // connections open now
	saved        atomic.Uint64                  // body bytes content codings kept off the wire (transmit.Response.Saved)
	forced       atomic.Bool                    // the shutdown timeout closed responses in flight
}

// inc adds one to a counter that only the calling loop writes.
func inc(a *atomic.Uint64) { a.Store(a.Load() + 1) }

// lingerTime and lingerBytes bound a lingering close (RFC 9112 §9.6).
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 10
	// dropBufSize is the loop's buffer for input that is read only to be
	// dropped (see worker.dropBuf): four reads reach lingerBytes.
	dropBufSize = 16 << 10
	// maxDiscard is the largest request body read and discarded to keep a
	// connection alive; a larger one closes the connection after the
	// response instead.
	maxDiscard = 64 << 10
	// retryDelay is how long a connection whose cold range found the I/O
	// queue full waits before it probes again. No goroutine is started for
	// it: the pool is the bound on blocking reads.
	retryDelay = 5 * time.Millisecond
	// maxRefusingPerLoop caps the refused connections one loop keeps
	// registered at once (waiting for the request to answer, then a
	// lingering close, each bounded by lingerTime). Beyond it a refused
	// connection gets its 503 and an immediate close, which the client may
	// lose to a reset: a flood costs at most this many descriptors more
	// per loop than --max-conns allows.
	maxRefusingPerLoop = 64
)

// ioWaitBounds are the upper bounds of the I/O wait histogram's buckets.
var ioWaitBounds = []time.Duration{100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second}

// requestBounds are the upper bounds of the request duration histogram's
// buckets: fixed, from the 100 µs a small file takes on loopback to the
// minute a large one may take to a slow client, 1-2.5-5 per decade.
var requestBounds = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
}

// maxBuckets bounds a histogram's buckets, the +Inf one included.
const maxBuckets = 20

// histogram counts durations in fixed buckets for one loop: the loop
// writes it (an atomic load and store, no lock prefix, no allocation), the
// exporter reads it. Bucket i counts durations of at most bounds[i], the
// last one those longer than every bound. The exporter derives the count
// from the buckets, so count and buckets always agree; the sum, read
// after them, may hold an observation or two more.
type histogram struct {
	bounds []time.Duration // fixed at the worker's start; at most maxBuckets-1
	sumNs  atomic.Uint64
	counts [maxBuckets]atomic.Uint64
}

// observe records one duration.
func (h *histogram) observe(d time.Duration) {
	h.sumNs.Store(h.sumNs.Load() + uint64(max(d, 0)))
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	inc(&h.counts[i])
}

func newWorker(s *Server, idx int, tcfg transmit.Config, maxConns int) (*worker, error) {
	w := &worker{srv: s, idx: idx, sc: new(syscount.Counters), maxConns: maxConns, maxRefusing: min(maxRefusingPerLoop, maxConns)}
	w.requests.Max, w.freeConns.Max = maxFree, maxFree
	w.stats.ioWait.bounds, w.stats.reqDur.bounds = ioWaitBounds, requestBounds
	loop, err := poller.New(poller.Options{Counters: w.sc})
	if err != nil {
		return nil, err
	}
	w.loop = loop
	if tcfg.Probe {
		tcfg.Cachestat = s.useCachestat(w.sc)
	}
	w.tw = transmit.NewWriter(tcfg, w.sc)
	w.tw.SetNow(time.Now())
	w.dropBuf = make([]byte, dropBufSize)
	cfg := &s.cfg
	w.headerQ = loop.NewTimerQueue(cfg.HeaderTimeout)
	w.idleQ = loop.NewTimerQueue(cfg.IdleTimeout)
	w.writeQ = loop.NewTimerQueue(cfg.WriteTimeout)
	w.lingerQ = loop.NewTimerQueue(lingerTime)
	w.retryQ = loop.NewTimerQueue(retryDelay)
	w.secQ = loop.NewTimerQueue(time.Second)
	w.tick.Func = w.onTick
	if s.sink != nil {
		w.flushT.Func = func() { w.lines.flush() }
		w.lines = &lineBuffer{sink: s.sink, b: make([]byte, 0, logBufSize+4096), filled: w.armFlush}
		l := zerolog.New(w.lines).With().Timestamp().Int("loop", idx).Logger()
		w.access = &l
	}
	w.trimQ = loop.NewTimerQueue(quietTrim)
	w.trim.Func = w.onQuiet
	// A new loop's pools are empty: it counts as trimmed, so that a loop
	// no connection ever reaches does not hold the others' return back.
	w.trimmed = true
	s.quietLoops.Add(1)
	return w, nil
}

// quietTrim is how long a loop must go without a new connection or request
// before it trims its pools, and poolReserve what each pool keeps then.
// The pools (requests, connection structs, transmit's slabs and pipes)
// grow to the most connections ever in progress at once, and would hold
// that peak for ever: a burst of 1,000 slow clients leaves 1,000 requests
// (17 KiB each, see TestRequestSize) behind. Once every loop has trimmed,
// the server hands the freed memory back to the kernel
// (Server.returnMemory).
// (quietTrim is a variable only so that a test can shorten it, before
// the server starts.)
var quietTrim = 5 * time.Second

const (
	poolReserve = 8
	// maxFree bounds the server's free lists (requests, connection
	// structs) between trims: beyond it what comes back goes to the
	// garbage collector.
	maxFree = 1024
)

// activity counts what uses the pools: connections accepted and requests.
func (w *worker) activity() uint64 { return w.nextID + w.stats.requests.Load() }

// markBusy notes that a pool is in use. It arms the one-shot trim timer if
// it is not armed; so an idle loop has no timer of its own, and a busy one
// re-arms it at most once per quietTrim (in onQuiet).
func (w *worker) markBusy() {
	if w.trim.Armed() {
		return
	}
	if w.trimmed {
		w.trimmed = false
		w.srv.quietLoops.Add(-1)
	}
	w.trimSeen = w.activity()
	w.trimQ.Arm(&w.trim)
}

// onQuiet runs quietTrim after markBusy armed it. If anything happened
// since, it looks again a quietTrim later; otherwise it trims the pools to
// poolReserve, and the last loop to go quiet has the server return memory.
func (w *worker) onQuiet() {
	if a := w.activity(); a != w.trimSeen {
		w.trimSeen = a
		w.trimQ.Arm(&w.trim)
		return
	}
	// The pools know no clock (see package lifo): the trim is this
	// loop's, on its own one-shot timer.
	w.requests.Trim(poolReserve, nil)
	w.freeConns.Trim(poolReserve, nil)
	w.tw.Trim(poolReserve)
	w.conns.trim()
	w.trimmed = true
	if int(w.srv.quietLoops.Add(1)) == len(w.srv.workers) && !w.draining {
		go w.srv.returnMemory()
	}
}

// freshDate makes sure the Date the next response carries is current: if
// the tick has lapsed (a second passed in which no request began), it reads
// the clock now and arms the tick again. getRequest calls it as a request's
// first byte arrives, and serve as each request is answered (a pipelined
// one may follow a response that took longer than a second); while the
// tick is armed it costs one branch. RFC 9110 §6.6.1 asks for the time the
// message was generated, to the second: a Date up to a second old is
// within that.
func (w *worker) freshDate() {
	if w.tick.Armed() {
		return
	}
	w.tw.SetNow(time.Now())
	w.tickSeen = w.activity()
	w.secQ.Arm(&w.tick)
}

// onTick refreshes the Date a second after the last refresh. If nothing
// began in that second (no connection, no request), the loop lets the tick
// lapse instead: an idle server makes no wakeup of its own, and freshDate
// reads the clock when the next request comes.
func (w *worker) onTick() {
	if a := w.activity(); a != w.tickSeen {
		w.tw.SetNow(time.Now())
		w.tickSeen = a
		w.secQ.Arm(&w.tick)
	}
}

// armFlush runs when the access-log buffer receives its first line: the
// buffer goes to the writer within a second, by a one-shot timer, or sooner
// when it fills. An empty buffer arms nothing.
func (w *worker) armFlush() {
	if !w.flushT.Armed() {
		w.secQ.Arm(&w.flushT)
	}
}

// newConn takes a connection struct from the loop's free list, or makes
// one. Reusing them keeps a server under a stream of short connections from
// allocating per connection, and so its heap (and resident size) steady.
func (w *worker) newConn() *conn {
	w.markBusy()
	if c, ok := w.freeConns.Get(); ok {
		return c
	}
	c := &conn{w: w}
	c.timer.Func = c.onTimeout // made once per struct: a method value allocates
	return c
}

// freeConn puts a closed connection on the free list. An orphan never
// comes here (see conn.close): the pool's done still reaches it.
func (w *worker) freeConn(c *conn) {
	w.freeConns.Put(c)
}

// accept takes one new connection: registered once, idle timer armed. Over
// this loop's share of --max-conns, or while draining, the connection is
// refused: answered 503 and closed.
func (w *worker) accept(fd int) {
	if int(w.stats.open.Load()) >= w.maxConns || w.draining {
		w.reject(fd)
		return
	}
	c := w.register(fd)
	if c == nil {
		return
	}
	if w.access != nil {
		if ap, err := w.sc.Getpeername(fd); err == nil && ap.IsValid() {
			c.remote = ap.String()
		} else {
			c.remote = "unix"
		}
	}
	w.stats.open.Store(w.stats.open.Load() + 1)
	if w.drainingAccept {
		c.waitLastCall()
		return
	}
	w.idleQ.Arm(&c.timer)
}

// register adds a fresh connection on fd to the loop and the list of
// connections, or closes fd if epoll will not take it (nil).
func (w *worker) register(fd int) *conn {
	w.nextID++
	c := w.newConn()
	onTimeout := c.timer.Func
	*c = conn{w: w, fd: fd, num: w.nextID}
	c.timer.Func = onTimeout
	id, err := w.loop.Add(fd, c)
	if err != nil {
		w.sc.Close(fd)
		w.freeConn(c)
		return nil
	}
	c.id = id
	w.conns.add(c)
	return c
}

// reject refuses a connection over the limit. It is registered, in
// stateRefused, to be answered once its request begins (see refuse), with
// the linger timer bounding the whole refusal; those lingering count
// against maxRefusing, not against --max-conns. With maxRefusing already
// lingering, the 503 goes out on the fresh socket, whose send buffer is
// empty so one write goes through whole, and the socket is closed at once:
// the client may then lose it to a reset, but the descriptors a flood can
// take stay bounded.
func (w *worker) reject(fd int) {
	inc(&w.stats.rejected)
	if w.stats.refusing.Load() >= int64(w.maxRefusing) {
		inc(&w.stats.rejectedNow)
		w.freshDate()
		r := &w.scratch
		r.PlanError(w.tw, nil, 503, false)
		r.Step(fd)
		r.Reset()
		w.sc.Close(fd)
		return
	}
	c := w.register(fd)
	if c == nil {
		return
	}
	c.refused = true
	c.state = stateRefused
	w.stats.refusing.Store(w.stats.refusing.Load() + 1)
	w.lingerQ.Arm(&c.timer)
}

// drain begins a graceful shutdown on this loop: stop accepting, close idle
// connections; the rest close as their responses complete.
//
// Connections already waiting in a listener's accept queue are accepted
// first and served once: closing a SO_REUSEPORT socket would reset them, and
// on an inherited socket the kernel may have woken only this loop for them
// (see poller.Loop.StopAccepting). An inherited socket is never shut down:
// the process that takes over keeps accepting from it.
func (w *worker) drain() {
	w.drainingAccept = true
	for _, id := range w.acceptors {
		w.loop.StopAccepting(id, true)
	}
	w.drainingAccept = false
	w.acceptors = nil
	// This loop's own SO_REUSEPORT sockets close now, rather than when the
	// server exits: a client connecting from here on is refused at once (or
	// lands on a sibling socket of a process still accepting) instead of
	// waiting in a queue nobody will accept from.
	for _, ln := range w.own {
		ln.Close()
	}
	w.own = nil
	w.draining = true
	// Backward, because closing a connection moves the set's last one into
	// its slot, and that one has been seen already.
	for _, c := range slices.Backward(w.conns.all) {
		switch {
		case c.state != stateIdle:
			// A request is being read or answered: it finishes, with
			// Connection: close.
		case c.served == 0:
			// Accepted but not yet heard from: its first request is most
			// likely on the wire already. Closing it would fail that
			// request with no chance of a retry, so serve it once, if it
			// begins within the header timeout.
			c.waitLastCall()
		default:
			// Idle between requests. A client may lose a request sent at
			// this very moment, and retry it (RFC 9112 §9.3.1).
			c.close(closeShutdown)
		}
	}
	w.logWaiting()
	w.stopIfDrained()
}

// logWaiting says, at debug level, which connections a shutdown still
// waits for on this loop, and for what.
func (w *worker) logWaiting() {
	log := w.srv.cfg.Log
	if log.GetLevel() > zerolog.DebugLevel {
		return
	}
	for _, c := range w.conns.all {
		ev := log.Debug().Int("loop", w.idx).Uint64("conn", c.num).Str("state", c.waitingFor()).Int("served", c.served)
		if c.remote != "" {
			ev = ev.Str("remote", c.remote)
		}
		ev.Msg("shutdown waits for connection")
	}
}

// closeAll ends every connection (the shutdown timeout has passed).
func (w *worker) closeAll() {
	w.draining = true
	log := w.srv.cfg.Log
	n := 0
	for _, c := range slices.Backward(w.conns.all) { // backward: see drain
		w.stats.forced.Store(true)
		log.Debug().Int("loop", w.idx).Uint64("conn", c.num).Str("state", c.waitingFor()).
			Int("served", c.served).Msg("forced shutdown closes connection")
		if c.state.answering() {
			c.logResponse(endShutdown)
		}
		c.close(closeShutdown)
		n++
	}
	if n > 0 {
		log.Warn().Int("loop", w.idx).Int("connections", n).Msg("forced shutdown closed connections still open")
	}
	w.stopIfDrained()
}

// stopIfDrained stops the loop once draining has closed every connection.
func (w *worker) stopIfDrained() {
	if w.draining && len(w.conns.all) == 0 {
		w.tick.Stop()
		w.trim.Stop()
		w.flushT.Stop()
		if w.lines != nil {
			w.lines.flush()
		}
		w.loop.Stop()
	}
}

// connSet is the loop's open connections, in no order: a slice in which
// each connection knows its slot, so that add and remove are O(1) and
// allocate nothing once the slice has grown to the loop's peak (8 bytes a
// connection).
type connSet struct{ all []*conn }

func (s *connSet) add(c *conn) {
	c.slot = len(s.all)
	s.all = append(s.all, c)
}

// trim hands back the slice's room when a past peak left it mostly empty.
func (s *connSet) trim() {
	if cap(s.all) > 2*len(s.all)+poolReserve {
		s.all = slices.Clone(s.all)
	}
}

// remove moves the last connection into c's slot.
func (s *connSet) remove(c *conn) {
	last := len(s.all) - 1
	moved := s.all[last]
	s.all[c.slot], moved.slot = moved, c.slot
	s.all[last] = nil
	s.all = s.all[:last]
}
