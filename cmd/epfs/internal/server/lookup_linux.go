//go:build linux

package server

import (
	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
	"github.com/epfs/epfs/poller/iopool"
	"github.com/epfs/epfs/poller/syscount"
)

// A cache miss needs the disk: openat2 and fstat, a pread of a small file,
// a directory read for a listing. On a cold disk those block like a cold
// sendfile (tests/coldmeta measured a miss at p99 0.4-2.2 ms, a 50-entry
// listing at p99 0.8-3.7 ms), so with an I/O pool a request whose path is
// not a fresh cache hit is parked and looked up on a pool thread, as a cold
// range is read there. A fresh hit never leaves the loop and makes no
// system call. When the pool's queue is full the lookup runs on the loop,
// as it does without a pool: the queue bounds the threads, and the request
// is answered at once rather than after a timer.

// lookup resolves path on the calling goroutine, counting on c, and falls
// back to --fallback for a path that does not exist.
func (s *Server) lookup(c *syscount.Counters, path string) (*fsindex.Entry, fsindex.Result, error) {
	e, res, err := s.index.Lookup(c, path)
	if res == fsindex.NotFound && s.cfg.Fallback != "" {
		e, res, err = s.index.Lookup(c, s.cfg.Fallback)
	}
	return e, res, err
}

// lookupCached answers as lookup would, from the cache alone: hit is false
// when lookup would make a system call (a miss or a stale entry, for path
// or, if path does not exist, for the fallback).
func (s *Server) lookupCached(path string) (e *fsindex.Entry, res fsindex.Result, hit bool) {
	e, res, hit = s.index.LookupCached(path)
	if hit && res == fsindex.NotFound && s.cfg.Fallback != "" {
		e, res, hit = s.index.LookupCached(s.cfg.Fallback)
	}
	return e, res, hit
}

// lookupOnPool hands the lookup of path to the I/O pool and parks the
// connection until lookedUp. It returns false, having changed nothing but
// a counter, when the queue is full. path is copied into the buffer: the
// loop's pathBuf serves other connections meanwhile. The write timer runs
// while the lookup is out, as it does for a cold range: a disk that never
// answers must not hold the connection for ever.
func (c *conn) lookupOnPool(path []byte, keepAlive bool) bool {
	w, rb := c.w, c.rb
	rb.path = append(rb.path[:0], path...)
	rb.keepAlive = keepAlive
	if !w.srv.pool.Submit(w.loop, rb.lookRun, rb.lookDone) {
		inc(&w.stats.lookupFull)
		return false
	}
	inc(&w.stats.lookupHanded)
	c.state = stateLookup
	w.writeQ.Arm(&c.timer)
	return true
}

// runLookup runs on an I/O pool thread, with that thread's counters. It
// reads rb.path and writes the answer into rb, nothing else; the
// connection does not touch either until lookedUp.
func (rb *reqBuf) runLookup(s *Server, t *iopool.Thread) {
	rb.entry, rb.res, rb.err = s.lookup(t.Counters, bytesToString(rb.path))
}

// lookedUp runs on the loop when the pool has looked the path up (or, if
// the loop has stopped, on the pool's thread after it; the connection is
// then orphaned). An orphan releases the entry the lookup took; an open
// connection plans its response and runs on.
func (c *conn) lookedUp() {
	rb := c.rb
	e, res, err := rb.entry, rb.res, rb.err
	rb.entry, rb.err = nil, nil
	if c.state == stateOrphan {
		if e != nil {
			e.Release(c.w.sc)
		}
		c.dropOrphan()
		return
	}
	w := c.w
	c.state = stateSend
	c.timer.Stop()
	// w.req and w.pathBuf belong to the loop and have carried other
	// connections' requests since serve: parse this request's head again.
	// Its bytes stay at the start of the buffer until the response is
	// done, and the parser, having accepted them, is ready for a request.
	_, perr := rb.p.Parse(rb.b[:c.used], &w.req)
	path, query, derr := httpparse.DecodePath(w.pathBuf[:0], w.req.Target)
	if perr != nil || derr != nil {
		// Cannot happen: the same bytes parsed and decoded in serve.
		if e != nil {
			e.Release(w.sc)
		}
		c.rb.resp.PlanError(w.tw, nil, 500, false)
	} else {
		c.plan(path, query, e, res, err, rb.keepAlive && !w.draining)
	}
	c.run()
}
