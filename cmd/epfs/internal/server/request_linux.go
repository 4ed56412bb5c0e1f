//go:build linux

package server

import (
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/iopool"
	"github.com/epfs/epfs/transmit"
)

// request is one request in flight, and everything it needs: its bytes,
// its parsed head, its decoded path, its planned response and the hand-over
// to the I/O pool. It is taken from the loop's pool when the first byte of
// a request arrives and given back when the connection goes idle, so an
// idle keep-alive connection holds none of it. What the request waits for
// is its connection's state (conn.state): one fact, one place.
//
// Nothing of it is per-loop scratch: a lookup or a cold range out on the
// I/O pool outlives the call that planned it, and every value the loop
// needs when the pool hands the request back (the head, the path, the
// decision on keep-alive) is here, unchanged, because the connection reads
// nothing from its socket while the pool works.
//
// Size: the struct is about 5.1 KiB (the parsed head's field array is
// 3 KiB of it, the parser's spans 1.2 KiB, the response 350 bytes), and
// its bytes one allocation of --max-header-bytes plus 4 KiB (12 KiB by
// default). See TestRequestSize for the figures and the pool's peak.
type request struct {
	c *conn // the connection holding this request now

	// The bytes. b and pathRoom are one allocation: b is the read buffer,
	// pathRoom the room after it where the path is decoded.
	b    []byte // bytes read: this request's head (b[:used]), then its body or the next requests
	n    int    // bytes in b
	used int    // bytes of b this request occupies (its head, then its body); 0 before its head is complete
	p    httpparse.Parser

	// The request, once its head is complete (serve): the parsed head,
	// whose slices point into b[:used] and stay valid until finish
	// consumes those bytes; the path decoded into pathRoom and the raw
	// query (a slice of b); and whether the connection may persist, as
	// decided before a shutdown that may start while the request is out.
	head      httpparse.Request
	pathRoom  []byte // len 0; cap is the longest target the parser admits, which DecodePath never outgrows
	path      []byte // the decoded path, in pathRoom; the access log shows head.Target, as sent
	query     []byte // the raw query, in b; nil without a '?'
	keepAlive bool

	resp  transmit.Response // the response in flight
	start time.Time         // when the request's first byte came, for the access log (read only with the log on)
	// parsed is the loop's batch clock (poller.Loop.BatchNow) when the
	// head was parsed or refused: where epfs_request_duration_seconds
	// starts.
	parsed int64

	// The answer decided before any lookup: page is that status (a
	// refused head or target, a method not allowed), whose error page
	// alone is looked up, or 0 when the lookup of the path decides;
	// refused says the parser refused the head, so there is no request
	// to frame the answer by. Set by serve and fail.
	page    int
	refused bool

	// A cache miss looked up on the I/O pool (stateLookup, see
	// lookupOnPool): entry, res, served and err are written by the pool
	// thread and read by the loop in lookedUp; served is the status of
	// the error page entry is, or 0.
	entry    *fsindex.Entry
	res      fsindex.Result
	served   int
	err      error
	lookRun  func(*iopool.Thread) // rq.runLookup and rq.lookedUp, made once per request
	lookDone func()

	// A cold range (stateFetch, stateRetry, see park).
	retry     poller.Timer         // stateRetry: probe again after the I/O queue was full
	parkedAt  time.Time            // when the response was handed to the I/O pool
	fetchRun  func(*iopool.Thread) // rq.runFetch and rq.fetched, made once per request
	fetchDone func()
}

// pathRoomFor is the room a request keeps for its decoded path: the longest
// target the parser admits (httpparse's default target limit, which the
// server does not change, or the whole head if that is smaller). DecodePath's output is never longer than its
// input, so it never outgrows the room and never allocates.
func pathRoomFor(maxHeaderBytes int) int {
	return min(httpparse.DefaultMaxTargetBytes, maxHeaderBytes)
}

// getRequest takes a request from the loop's pool, or makes one.
func (w *worker) getRequest() *request {
	w.markBusy()
	w.freshDate()
	if rq, ok := w.requests.Get(); ok {
		return rq
	}
	return newRequest(w.srv)
}

// newRequest makes a request for s's loops: two allocations, the struct
// and its bytes, and the callbacks it hands the I/O pool.
func newRequest(s *Server) *request {
	headMax := s.cfg.MaxHeaderBytes
	b := make([]byte, headMax+pathRoomFor(headMax))
	rq := &request{b: b[:headMax:headMax], pathRoom: b[headMax:headMax]}
	rq.p.Limits = httpparse.Limits{MaxHeaderBytes: headMax}
	// Made once per request: a method value made per use would allocate.
	rq.retry.Func = func() { rq.c.onRetry() }
	if s.pool != nil {
		rq.fetchRun = rq.runFetch
		rq.fetchDone = func() { rq.c.fetched() }
		rq.lookRun = func(t *iopool.Thread) { rq.runLookup(s, t) }
		rq.lookDone = func() { rq.c.lookedUp() }
	}
	return rq
}

// putRequest returns a request to the pool. The pool keeps at most maxFree;
// beyond that they go to the garbage collector, and a quiet loop trims it
// to poolReserve (onQuiet), so a burst does not pin its peak memory.
func (w *worker) putRequest(rq *request) {
	rq.p.Reset()
	rq.retry.Stop()
	rq.c = nil
	rq.n, rq.used = 0, 0
	rq.path, rq.query = nil, nil
	w.requests.Put(rq)
}

// takeRequest gives the connection a request from the loop's pool.
func (c *conn) takeRequest() {
	c.rq = c.w.getRequest()
	c.rq.c = c
}
