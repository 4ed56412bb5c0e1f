//go:build linux

package server

import (
	"errors"
	"time"
	"unsafe"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/iopool"
	"github.com/epfs/epfs/transmit"
	"golang.org/x/sys/unix"
)

// connState is where a connection is in its life, named for what it waits
// for. Each state arms at most one of the connection's timers (c.timer, in
// the queue named below), and the retry state also the request's retry
// timer. The transitions, each with the function that makes it:
//
//	from      event                                              to        by
//	idle      first bytes of a request read                      head      fill
//	idle      EOF or a read error                                closed    fill
//	idle      idle timeout                                       closed    onTimeout
//	idle      shutdown, served before                            closed    drain, idle
//	idle      shutdown, never served                             lastcall  drain (waitLastCall)
//	lastcall  first bytes of its one request read                head      fill
//	lastcall  header timeout, EOF or a read error                closed    onTimeout, fill
//	head      complete head, looked up on the loop (a cache hit,
//	          no pool, or the pool's queue full)                 send      serve, plan
//	head      complete head, the cache missed, pool took it      lookup    serve, lookupOnPool
//	head      malformed head or refused target: error planned    send      fail, serve
//	head      nothing buffered and the socket drained            idle      fill (idle)
//	head      header timeout, EOF or a read error                closed    onTimeout, fill
//	body      the body's last byte dropped                       head      readHead
//	body      header timeout, EOF or a read error                closed    onTimeout, fill
//	lookup    the pool has looked the path up: response planned  send      lookedUp
//	send      Step: EAGAIN                                       blocked   write
//	send      Step: Yield (the loop requeues it)                 send      write
//	send      Step: Yield, nothing else waits (4 budgets at most) send      write (steps on)
//	send      Step: Cold, the pool took the Fetch                fetch     write, park
//	send      Step: Cold, the pool's queue full                  retry     write, park
//	send      Step: Done, a request body to drop                 body      finish
//	send      Step: Done, bytes of the next request buffered     head      finish
//	send      Step: Done, nothing buffered                       idle      finish (idle)
//	send      Step: Done, must close, input may be unread        linger    finish, closeAfterResponse
//	send      Step: Done, must close, nothing unread             closed    finish, closeAfterResponse
//	send      Step: Failed                                       closed    write
//	blocked   EPOLLOUT                                           send      run
//	fetch     the pool has read the range                        send      fetched
//	retry     the retry timer                                    send      onRetry
//	lookup, send, blocked, fetch, retry: the write timeout       closed    onTimeout
//	linger    EOF, lingerBytes read, a read error, linger timer  closed    drainLinger, onTimeout
//	refused   first bytes of its request: 503 sent, SHUT_WR      linger    refuse
//	refused   EOF, error, 503 not sent whole, linger timer       closed    refuse, onTimeout
//	lookup, fetch: closed meanwhile (timeout, shutdown, stop)    orphan    close, OnStop
//	orphan    the pool's done for its request                    closed    lookedUp, fetched
//	any other: closed by shutdown, its timeout, a loop's stop   closed    drain, closeAll, OnStop
//
// Readiness (readable, writable, rdhup, peerEOF) is not a state: it is
// what epoll reported last, remembered because an edge is reported once,
// and any state may have any of it. refused is not a state either: it
// says which count the connection is in (refusing, not open) through its
// refused and linger states.
type connState uint8

const (
	stateIdle     connState = iota // keep-alive, no request begun; holds no request. Timer: idle
	stateLastCall                  // shutting down, never served: waits for its one request. Timer: header
	stateHead                      // reading a request head. Timer: header
	stateBody                      // dropping the body of a request already answered. Timer: header (then runs on into the next head)
	stateLookup                    // the cache missed: the lookup is out on the I/O pool, nothing planned. Timer: write
	stateSend                      // a response is planned and is stepped as far as the socket takes (or, after a Yield, waits for the loop's requeue). Timer: write, only while the EAGAIN that armed it has seen no progress
	stateBlocked                   // the response waits for EPOLLOUT after EAGAIN. Timer: write
	stateFetch                     // the response's next range is cold: its Fetch is out on the I/O pool. Timer: write
	stateRetry                     // the range is cold and the pool's queue was full: waits to probe again. Timers: retry, and write
	stateLinger                    // write side shut; reading and dropping input before close. Timer: linger
	stateRefused                   // refused over --max-conns: waits for its request to begin, to answer 503. Timer: linger
	stateOrphan                    // closed while the I/O pool works for its request: the struct and request wait for the pool's done. No timer
	stateClosed                    // the registration has ended; nothing refers to the connection
)

// stateNames are what a shutdown's debug lines say a connection waits for.
var stateNames = [...]string{"idle", "first_request", "request_head", "request_body", "lookup", "response",
	"writable", "cold_range_fetch", "cold_range_retry", "linger", "refused", "closed", "closed"}

// planned reports whether a response is planned in state s.
func (s connState) planned() bool { return s >= stateSend && s <= stateRetry }

// answering reports whether a request is being answered in state s: its
// response planned, or its lookup out. The write timer bounds these.
func (s connState) answering() bool { return s == stateLookup || s.planned() }

// waitingFor names what the connection is waiting for, for the debug
// lines a shutdown logs.
func (c *conn) waitingFor() string { return stateNames[c.state] }

// end says how a response ended: the access log's "end" field.
type end uint8

const (
	endComplete end = iota
	endAborted      // the client went away mid-response (EPIPE, ECONNRESET)
	endTimeout      // the write timeout: no progress for --write-timeout
	endError        // a failure on our side (truncated file, unexpected errno)
	endShutdown     // cut by the shutdown timeout
)

var endNames = [...]string{"complete", "aborted", "timeout", "error", "shutdown"}

// closeReason says why a connection closed, for the closed-connections
// counters.
type closeReason uint8

const (
	closeDone          closeReason = iota // after a response that ended the connection (Connection: close, an error)
	closeEOF                              // the client closed between requests
	closeHeaderTimeout                    // a request head did not arrive within --header-timeout
	closeIdleTimeout                      // no request within --idle-timeout
	closeWriteTimeout                     // a response made no progress within --write-timeout
	closeAborted                          // the client reset or left mid-response
	closeError                            // a failure on our side
	closeShutdown                         // graceful shutdown
	closeRefused                          // refused over --max-conns or while draining, after its 503 (or without one: no request came)
	numCloseReasons
)

var closeReasonNames = [numCloseReasons]string{
	"done", "eof", "header_timeout", "idle_timeout", "write_timeout", "aborted", "error", "shutdown", "refused",
}

// conn is one client connection: its state (what it waits for), the
// request in flight if any, and the facts the transitions read.
type conn struct {
	w      *worker
	fd     int
	id     poller.ID
	num    uint64 // connection number in logs, counted per loop
	remote string // peer address for the access log ("" when the log is off)

	state connState
	rq    *request // the request in flight, with its bytes; nil in idle and lastcall (linger and refused hold one only as a read buffer)

	// Readiness, remembered because edge triggering reports each change
	// once. These are facts about the socket, not states.
	readable bool // cleared by EAGAIN or a short read
	writable bool // cleared by EAGAIN
	rdhup    bool // the peer shut down its side: read on to EOF, ignore short reads
	peerEOF  bool // read returned 0: no more requests will come

	discard int64 // request body bytes to drop before the next request: set by serve, dropped in stateBody
	linger  bool  // unread input may follow: close with a lingering close
	lingerN int   // stateLinger: bytes discarded while lingering

	refused bool // accepted over the limit, to be answered 503 and closed: counted in refusing, not in open
	served  int  // responses completed on this connection

	timer poller.Timer // header, idle, write or linger timeout: the one connState names
	slot  int          // index in the worker's set of open connections
}

// Handle records the readiness epoll reported and runs the state machine as
// far as it can go.
func (c *conn) Handle(ev poller.Events) {
	if ev.Readable() {
		c.readable = true
	}
	if ev.Writable() {
		c.writable = true
	}
	if ev.PeerClosed() {
		c.rdhup = true
	}
	c.run()
}

// OnStop releases what the connection holds if its loop stops under it. A
// fetch or lookup still out completes later on the pool's thread (see
// iopool) and must find the connection orphaned.
func (c *conn) OnStop() {
	c.end()
}

// run steps the machine until it must wait for an event or a timer.
func (c *conn) run() {
	for {
		var progress bool
		switch c.state {
		case stateIdle, stateLastCall, stateHead, stateBody:
			progress = c.readHead()
		case stateSend:
			progress = c.write()
		case stateBlocked:
			if !c.writable {
				return
			}
			// The loop reported EPOLLOUT after EAGAIN: the transfer
			// resumes from where it stopped.
			c.state = stateSend
			inc(&c.w.stats.resumes)
			progress = true
		case stateLinger:
			c.drainLinger()
			return
		case stateRefused:
			c.refuse()
			return
		default: // stateLookup, stateFetch, stateRetry: the pool or a timer moves it on
			return
		}
		if !progress {
			return
		}
	}
}

// readHead parses what is buffered and reads more while the socket is
// readable. It returns true when the state moved on and run should go again.
func (c *conn) readHead() bool {
	if c.state == stateBody {
		if !c.skipBody() {
			return c.fill()
		}
		// The header timer armed when the body began runs on: a body
		// and the head after it share one header timeout.
		c.state = stateHead
	}
	if rq := c.rq; rq != nil && rq.n > 0 {
		consumed, err := rq.p.Parse(rq.b[:rq.n], &rq.head)
		switch {
		case err == nil:
			c.serve(consumed)
			return true
		case err != httpparse.ErrNeedMore:
			status := 400
			if pe, ok := err.(*httpparse.Error); ok {
				status = pe.Status
			}
			c.fail(status)
			return true
		case rq.n == len(rq.b):
			// A full buffer with no complete head: the head is over the
			// limit (the parser reports 431 itself when it can tell).
			c.fail(431)
			return true
		}
	}
	return c.fill()
}

// fill reads into the buffer. It returns true if bytes arrived.
func (c *conn) fill() bool {
	if c.peerEOF {
		// No more bytes will come; a partial request can never complete.
		c.close(closeEOF)
		return false
	}
	if !c.readable {
		if c.state == stateHead && c.rq.n == 0 {
			// The last bytes buffered were a request body, now dropped,
			// and nothing of another request has come: the connection
			// is idle (no request held, idle timer), not reading a head.
			c.idle()
		}
		return false
	}
	if c.rq == nil {
		c.takeRequest()
	}
	n, err := c.w.sc.Read(c.fd, c.rq.b[c.rq.n:])
	switch {
	case n > 0:
		if c.state == stateIdle || c.state == stateLastCall {
			c.state = stateHead
			c.markStart()
			c.w.headerQ.Arm(&c.timer)
		}
		if n < len(c.rq.b)-c.rq.n && !c.rdhup {
			// A short read emptied the receive queue: the next arrival
			// raises a new edge.
			c.readable = false
		}
		c.rq.n += n
		return true
	case err == unix.EAGAIN:
		c.readable = false
		if c.rq.n == 0 && c.state != stateBody {
			c.idle()
		}
		return false
	case err == nil:
		// End of stream with no complete request buffered (readHead serves
		// every complete one before it reads): nothing more can be
		// answered. Requests sent before a half-close were answered first.
		c.peerEOF = true
		c.close(closeEOF)
		return false
	default:
		c.close(closeAborted)
		return false
	}
}

// skipBody drops request body bytes from the buffer. It returns true when
// the whole body has been dropped.
func (c *conn) skipBody() bool {
	k := int64(c.rq.n)
	if k > c.discard {
		k = c.discard
	}
	c.consume(int(k))
	c.discard -= k
	return c.discard == 0
}

// idle parks a connection between requests: no request held, idle timer on.
// The timer is armed when the connection becomes idle, not again on a
// wakeup that finds nothing to read: the idle timeout (and a last call's
// header timeout, see waitLastCall) counts from the last request.
func (c *conn) idle() {
	if c.rq != nil {
		c.w.putRequest(c.rq)
		c.rq = nil
	}
	if c.state == stateLastCall {
		return
	}
	if c.state != stateIdle {
		c.state = stateIdle
		c.w.idleQ.Arm(&c.timer)
	}
	if c.w.draining {
		c.close(closeShutdown)
	}
}

// waitLastCall gives a connection that has sent nothing while the server
// shuts down the header timeout, from now, for its one request: a client
// that connected just before the signal most likely has its request on the
// wire, but one that stays silent must not hold the shutdown for the whole
// --shutdown-timeout (or its own idle timeout).
func (c *conn) waitLastCall() {
	c.state = stateLastCall
	c.w.headerQ.Arm(&c.timer)
}

// serve plans the response to the request whose head is the first consumed
// bytes of the buffer, now parsed into rq.head. The head stays in the
// buffer until the response is done, so the parsed head, and the access
// log's method and target, are slices of it, never copies.
func (c *conn) serve(consumed int) {
	w, rq := c.w, c.rq
	h := &rq.head
	inc(&w.stats.requests)
	rq.parsed = w.loop.BatchNow()
	w.freshDate()
	rq.used = consumed
	rq.keepAlive = h.KeepAlive && !w.draining
	switch h.Framing {
	case httpparse.BodyLength:
		if h.ContentLength > maxDiscard || h.Expect100 {
			// Not worth reading (or the client waits for a 100 we will
			// not send): answer, then close without reading it.
			rq.keepAlive, c.linger = false, true
		} else {
			c.discard = h.ContentLength
		}
	case httpparse.BodyChunked:
		rq.keepAlive, c.linger = false, true
	}
	c.timer.Stop()
	c.state = stateSend
	rq.page, rq.refused = 0, false

	if h.MethodID == httpparse.MethodOPTIONS && string(h.Target) == "*" {
		// The asterisk-form names the server, not a resource (RFC 9112
		// §3.2.4): there is no path to decode or look up.
		rq.resp.Plan(w.tw, transmit.Request{Head: h, Path: h.Target, KeepAlive: rq.keepAlive}, nil, fsindex.NotFound)
		return
	}
	var err error
	rq.path, rq.query, err = httpparse.DecodePath(rq.pathRoom, h.Target)
	if err != nil {
		// A target refused (encoded '/' or NUL, a '..' that climbs above
		// the root) is a refused request: answered, then closed, like a
		// head the parser refused. A body it may have is not read: a
		// lingering close keeps its bytes from resetting the answer.
		c.discard, c.linger = 0, true
		rq.keepAlive = false
		c.answerError(400)
		return
	}
	switch h.MethodID {
	case httpparse.MethodGET, httpparse.MethodHEAD:
		c.find(bytesToString(rq.path))
	case httpparse.MethodOPTIONS:
		c.plan(nil, fsindex.NotFound, 0, nil)
	case httpparse.MethodUnknown:
		c.answerError(501)
	default:
		// A method a file server does not allow (RFC 9110 §15.5.6).
		c.answerError(405)
	}
}

// answerError plans status, decided before any lookup, as the answer to
// the request: from its --error-page when there is one, looked up as any
// path is (from the cache on the loop, else off it), else with the
// built-in text.
func (c *conn) answerError(status int) {
	c.rq.page = status
	if c.w.srv.cfg.ErrorPages[status] == "" {
		c.plan(nil, fsindex.NotFound, 0, nil)
		return
	}
	c.find("")
}

// find looks up what answers the request, path or rq.page's page (see
// Server.lookup), and plans the response: at once when the cache has it
// fresh or there is no I/O pool, else once the pool has looked it up
// (lookedUp); when the pool's queue is full, on the loop.
func (c *conn) find(path string) {
	w, rq := c.w, c.rq
	var e *fsindex.Entry
	var res fsindex.Result
	var served int
	var err error
	if w.srv.pool == nil {
		e, res, served, err = w.srv.lookup(w.sc, path, rq.page)
	} else {
		var hit bool
		e, res, served, hit = w.srv.lookupCached(path, rq.page)
		if !hit {
			if c.lookupOnPool() {
				return
			}
			e, res, served, err = w.srv.lookup(w.sc, path, rq.page)
		}
	}
	c.plan(e, res, served, err)
}

// plan plans the response to the request from what the lookup of its
// decoded path returned: on the loop in serve, or in lookedUp when the
// pool hands the request back.
//
// served is the status of the error page e is (see Server.lookup), 0 for
// none. A status decided before the lookup (rq.page) with no page to
// serve gets its built-in text. A head the parser refused (rq.refused)
// is no request to frame the answer by: it is framed as for a GET.
func (c *conn) plan(e *fsindex.Entry, res fsindex.Result, served int, err error) {
	w, rq := c.w, c.rq
	keepAlive := rq.keepAlive && !w.draining
	req := &rq.head
	if rq.refused {
		req = nil
	}
	switch {
	case served != 0:
		rq.resp.PlanPage(w.tw, req, served, e, keepAlive)
		return
	case rq.page != 0:
		rq.resp.PlanError(w.tw, req, rq.page, keepAlive)
		return
	}
	if res == fsindex.Failed {
		if exhausted(err) {
			// Out of descriptors, or of the memory listings may hold:
			// the file may well exist, and a retry may succeed once
			// connections close (503, as fsindex documents). No log
			// line per request while it lasts: the openat2
			// EMFILE/ENFILE counters and epfs_listing_bytes tell it.
			rq.resp.PlanError(w.tw, &rq.head, 503, keepAlive)
			return
		}
		w.srv.cfg.Log.Error().Err(err).Bytes("path", rq.path).Msg("lookup failed")
		rq.resp.PlanError(w.tw, &rq.head, 500, keepAlive)
		return
	}
	rq.resp.Plan(w.tw, transmit.Request{Head: &rq.head, Path: rq.path, Query: rq.query, KeepAlive: keepAlive}, e, res)
}

// exhausted reports whether a lookup failed for want of descriptors or of
// the memory listings may hold: the file may well exist, and a retry may
// succeed once connections close, so the answer is 503 (as fsindex
// documents), from memory.
func exhausted(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) || err == fsindex.ErrMemory
}

// fail plans the error response to a request the parser refused. The byte
// stream can no longer be trusted, so the connection closes after it, with
// a lingering close: the client may still be sending.
func (c *conn) fail(status int) {
	rq := c.rq
	inc(&c.w.stats.requests)
	rq.parsed = c.w.loop.BatchNow()
	rq.used = rq.n
	// The parsed head is not meaningful after an error (Parse may have
	// written part of it): the access log shows no method, target, host,
	// protocol or field.
	rq.head.Method, rq.head.Target, rq.head.Host, rq.head.Version = nil, nil, nil, nil
	rq.head.NumFields = 0
	c.linger = true
	c.timer.Stop()
	c.state = stateSend
	// No request to frame the answer by, so the answer is framed as for a
	// GET and the close ends it.
	rq.keepAlive, rq.refused = false, true
	c.answerError(status)
}

// maxBudgetsInRow bounds the send budgets one write may spend in a row
// when nothing else waits on the loop: 4 of the default 2 MiB are about
// 8 ms at loopback speed, the most a timer that falls due meanwhile (a
// timeout, the Date tick) or a connection whose event has not been
// collected yet waits.
const maxBudgetsInRow = 4

// write pushes the response. It returns true when the response is done and
// the connection goes on to its next request.
func (c *conn) write() bool {
	if !c.writable {
		// Not yet reported writable since the connection was accepted.
		return false
	}
	for budgets := 1; ; budgets++ {
		before := c.rq.resp.Sent()
		switch c.rq.resp.Step(c.fd) {
		case transmit.Done:
			return c.finish()
		case transmit.WouldBlock:
			c.writable = false
			c.state = stateBlocked
			// The write timeout measures a stall: re-arm it only on progress.
			if c.rq.resp.Sent() != before || !c.timer.Armed() {
				c.w.writeQ.Arm(&c.timer)
			}
			return false
		case transmit.Yield:
			// Budget spent with the socket still writable. Progress is
			// no stall: the write timer an earlier EAGAIN armed must not
			// run on through the Yields that follow it.
			if c.rq.resp.Sent() != before {
				c.timer.Stop()
			}
			if budgets < maxBudgetsInRow && !c.w.loop.Waiting() {
				// Nothing else in this pass: go on with a new Step (a
				// new budget) rather than pay an epoll_wait to be
				// called back with nobody served in between.
				inc(&c.w.stats.continued)
				continue
			}
			// Let the loop's other connections go first, then continue
			// (no edge will come).
			c.w.loop.Requeue(c.id, poller.Out)
			return false
		case transmit.Cold:
			c.park()
			return false
		default: // transmit.Failed
			how, why := endError, closeError
			if c.rq.resp.Err() == transmit.ErrAborted {
				how, why = endAborted, closeAborted
			}
			c.logResponse(how)
			c.close(why)
			return false
		}
	}
}

// park hands the response's cold range to the I/O pool and leaves the
// connection until the pool hands it back (fetched). The write timer is
// re-armed: a disk read is not a client stall, but a disk that never
// answers must not hold the connection for ever. When the queue is full,
// no goroutine is started: the connection probes again after retryDelay.
func (c *conn) park() {
	w := c.w
	c.rq.parkedAt = time.Now()
	if w.srv.pool.Submit(w.loop, c.rq.fetchRun, c.rq.fetchDone) {
		c.state = stateFetch
		inc(&w.stats.ioHanded)
		w.writeQ.Arm(&c.timer)
		return
	}
	inc(&w.stats.ioFull)
	c.rq.resp.Fetched() // never ran: the next Step probes again
	if !c.timer.Armed() {
		w.writeQ.Arm(&c.timer)
	}
	c.state = stateRetry
	w.retryQ.Arm(&c.rq.retry)
}

// runFetch runs on an I/O pool thread: the only code of a connection that
// does. It touches the response's Fetch and nothing else; the request stays
// with the connection until fetched has run (see release).
func (rq *request) runFetch(t *iopool.Thread) {
	rq.resp.Fetch().Run(t.Counters, t.Buf)
}

// fetched runs on the loop when the pool has read the range (or, if the
// loop has stopped, on the pool's thread after it; the connection is then
// orphaned). An orphan's response releases what it kept for the read; an
// open connection sends on.
func (c *conn) fetched() {
	if c.state == stateOrphan {
		// The response was not Reset at close (see release): its Fetch
		// was out. Its answer no longer matters.
		c.rq.resp.Reset()
		c.dropOrphan()
		return
	}
	c.rq.resp.Fetched()
	c.state = stateSend
	c.w.stats.ioWait.observe(time.Since(c.rq.parkedAt))
	c.run()
}

// onRetry probes again after the I/O queue was full.
func (c *conn) onRetry() {
	if c.state != stateRetry {
		return
	}
	c.state = stateSend
	c.run()
}

// finish ends a completed response: log it, then close, or move the
// request's bytes out of the buffer and go on to whatever follows them.
func (c *conn) finish() bool {
	c.served++
	c.logResponse(endComplete)
	closeAfter := c.rq.resp.Close() || c.w.draining
	c.rq.resp.Reset()
	c.timer.Stop()
	c.consume(c.rq.used)
	c.rq.used = 0
	if closeAfter {
		c.closeAfterResponse()
		return false
	}
	if c.rq.n > 0 || c.discard > 0 {
		// A body to drop, or pipelined bytes already here: edge
		// triggering will not announce them again, so parse them now.
		c.state = stateHead
		if c.discard > 0 {
			c.state = stateBody
		}
		c.markStart()
		c.w.headerQ.Arm(&c.timer)
		return true
	}
	c.idle()
	return c.state != stateClosed
}

// consume drops the first k bytes of the buffer.
func (c *conn) consume(k int) {
	if k == 0 {
		return
	}
	copy(c.rq.b, c.rq.b[k:c.rq.n])
	c.rq.n -= k
}

// closeAfterResponse closes after the last response. If the client may still
// be sending (a body we did not read, bytes after an error, requests after
// Connection: close), close lingeringly: shut our write side so the client
// sees the response end, then read and discard for a bounded time before
// close, so the kernel does not answer those bytes with a reset that could
// destroy the response in the client's receive buffer (RFC 9112 §9.6).
func (c *conn) closeAfterResponse() {
	// Close at once only when nothing can be unread: no body skipped, no
	// bytes buffered, and the last read saw the socket drained (readable
	// cleared by EAGAIN or a short read).
	if c.peerEOF || (!c.linger && c.rq.n == 0 && c.discard == 0 && !c.readable) {
		c.close(closeDone)
		return
	}
	c.w.sc.Shutdown(c.fd, unix.SHUT_WR)
	// The response is done and reset, and what follows is only dropped:
	// the request goes back to the pool now, not after lingerTime.
	c.w.putRequest(c.rq)
	c.rq = nil
	c.state = stateLinger
	c.lingerN = 0
	c.w.lingerQ.Arm(&c.timer)
	c.drainLinger()
}

// drainLinger reads and discards until EOF, the byte bound, or EAGAIN,
// into the loop's drop buffer: a lingering connection holds no request.
func (c *conn) drainLinger() {
	for c.readable || c.rdhup {
		n, err := c.w.sc.Read(c.fd, c.w.dropBuf)
		if n > 0 {
			c.lingerN += n
			if c.lingerN >= lingerBytes {
				c.close(closeDone)
				return
			}
			continue
		}
		if err == unix.EAGAIN {
			c.readable = false
			return
		}
		c.close(closeDone) // EOF or error: done lingering
		return
	}
}

// refuse answers a connection refused over the limit once its request has
// begun to arrive: 503, then the write side shut and the rest of what the
// client sends read and dropped (drainLinger), as any refused request is
// closed. Answering before the request would be an unsolicited response,
// which a client that has not yet sent its request may take for a broken
// connection (Go's Transport does), and closing with the request unread
// makes the kernel send RST, which can destroy the 503 before the client
// reads it (RFC 9112 §9.6). The socket is fresh, its send buffer empty,
// so the one write Step makes goes through whole; if it does not, the
// client is gone or stalled at once and the connection just closes.
func (c *conn) refuse() {
	if !c.readable && !c.rdhup {
		return
	}
	// What it sends is never parsed: it is read into the drop buffer,
	// and a refused connection holds no request.
	n, err := c.w.sc.Read(c.fd, c.w.dropBuf)
	switch {
	case n > 0:
		if n < len(c.w.dropBuf) && !c.rdhup {
			c.readable = false // a short read emptied the receive queue
		}
	case err == unix.EAGAIN:
		c.readable = false
		return
	default:
		// End of stream or an error before any request: no one to answer.
		c.close(closeDone)
		return
	}
	w := c.w
	r := &w.scratch
	r.PlanError(w.tw, nil, 503, false)
	out := r.Step(c.fd)
	r.Reset()
	if out != transmit.Done {
		c.close(closeDone)
		return
	}
	w.sc.Shutdown(c.fd, unix.SHUT_WR)
	c.state = stateLinger
	c.lingerN = n
	c.timer.Stop()
	w.lingerQ.Arm(&c.timer)
	c.drainLinger()
}

// onTimeout fires for whichever timer the state armed.
func (c *conn) onTimeout() {
	switch c.state {
	case stateLinger, stateRefused:
		c.close(closeDone)
	case stateLookup, stateSend, stateBlocked, stateFetch, stateRetry:
		c.logResponse(endTimeout)
		c.close(closeWriteTimeout)
	case stateIdle:
		c.close(closeIdleTimeout)
	default: // stateHead, stateBody, stateLastCall: the request head (or its body) did not arrive in time
		c.close(closeHeaderTimeout)
	}
}

// close ends the connection: release what it holds and close the
// descriptor (which removes it from epoll; see poller.Loop.Close).
func (c *conn) close(why closeReason) {
	if c.state == stateClosed || c.state == stateOrphan {
		return
	}
	c.end()
	w := c.w
	w.conns.remove(c)
	if c.refused {
		why = closeRefused
		w.stats.refusing.Store(w.stats.refusing.Load() - 1)
	} else {
		w.stats.open.Store(w.stats.open.Load() - 1)
	}
	inc(&w.stats.closed[why])
	w.loop.Close(c.id)
	w.stopIfDrained()
	// Nothing reaches c any more: its registration ended (a late event
	// carries the old generation), its timers are stopped, and the
	// callers above in this stack only read its state. An orphan is
	// reached by the pool's done: it is left to the garbage collector.
	if c.state == stateClosed {
		w.freeConn(c)
	}
}

// end moves the connection to closed, or to orphan when the I/O pool still
// works for its request, and releases what it holds.
func (c *conn) end() {
	out := c.state == stateLookup || c.state == stateFetch
	c.state = stateClosed
	if out {
		c.state = stateOrphan
	}
	c.release()
}

// release drops the response's file reference, the request and the timers.
// An orphan keeps its request, response and all: a pool thread still reads
// with its response's entry (the connection, not the response, knows a
// Fetch is out: stateFetch, then stateOrphan), or writes the lookup's
// answer into it. fetched resets the response; lookedUp releases the entry
// the lookup took.
func (c *conn) release() {
	c.timer.Stop()
	if c.rq == nil {
		return
	}
	c.rq.retry.Stop()
	if c.state == stateOrphan {
		return
	}
	c.rq.resp.Reset()
	c.w.putRequest(c.rq)
	c.rq = nil
}

// dropOrphan ends an orphan once the pool's done has released what the
// work took: release kept the request for this moment. It is not put back
// in the loop's pool, nor the connection on the free list: after a stop
// this runs on the pool's thread.
func (c *conn) dropOrphan() {
	c.rq = nil
	c.state = stateClosed
}

// markStart notes when a request began, for the access log's duration.
// Only the access log reads it, so with the log off the clock is not read.
func (c *conn) markStart() {
	if c.w.access != nil {
		c.rq.start = time.Now()
	}
}

// logResponse counts the response by status class and in the request
// duration histogram (on the batch clock: no clock read of its own), and
// writes its access-log line. Host, protocol, user agent and referer are slices of
// the request's buffer, written as zerolog writes bytes: as JSON strings,
// quotes, backslashes and control bytes escaped and bytes that are not
// UTF-8 (obs-text, RFC 9110 §5.5) replaced by U+FFFD, so a client cannot
// forge a field or a line. An absent field logs as "". Nothing is copied
// and nothing allocates.
func (c *conn) logResponse(how end) {
	a := c.w.access
	inc(&c.w.stats.responses[c.rq.resp.Status()/100%6])
	c.w.stats.reqDur.observe(time.Duration(c.w.loop.BatchNow() - c.rq.parsed))
	if n := c.rq.resp.Saved(); n > 0 {
		s := &c.w.stats.saved
		s.Store(s.Load() + uint64(n))
	}
	if a == nil {
		return
	}
	h := &c.rq.head
	a.Log().Str("remote", c.remote).Bytes("method", h.Method).Bytes("path", h.Target).
		Bytes("host", h.Host).Bytes("proto", h.Version).
		Int("status", c.rq.resp.Status()).Int64("bytes", c.rq.resp.Sent()).Int64("body", c.rq.resp.BodyBytes()).
		Dur("dur_ms", time.Since(c.rq.start)).Uint64("conn", c.num).Str("end", endNames[how]).
		Bytes("referer", h.Header("Referer")).Bytes("user_agent", h.Header("User-Agent")).Send()
}

// bytesToString views b as a string without copying. fsindex.Lookup does
// not retain its argument, and b is not modified while the call runs.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
