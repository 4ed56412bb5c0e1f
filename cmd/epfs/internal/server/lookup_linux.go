//go:build linux

package server

import (
	"github.com/epfs/epfs/fsindex"
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

// lookupOnPool hands the lookup of the request's decoded path to the I/O
// pool and leaves the connection in stateLookup until lookedUp. It returns
// false, having changed nothing but a counter, when the queue is full.
// Nothing is copied: the path, the parsed head and the keep-alive decision
// are the request's own, and stay as they are while the pool works (the
// connection reads nothing meanwhile). The write timer runs while the
// lookup is out, as it does for a cold range: a disk that never answers
// must not hold the connection for ever.
func (c *conn) lookupOnPool() bool {
	w, rq := c.w, c.rq
	if !w.srv.pool.Submit(w.loop, rq.lookRun, rq.lookDone) {
		inc(&w.stats.lookupFull)
		return false
	}
	inc(&w.stats.lookupHanded)
	c.state = stateLookup
	w.writeQ.Arm(&c.timer)
	return true
}

// runLookup runs on an I/O pool thread, with that thread's counters. It
// reads rq.path and writes the answer into rq.entry, rq.res and rq.err,
// nothing else; the connection does not touch either until lookedUp.
func (rq *request) runLookup(s *Server, t *iopool.Thread) {
	rq.entry, rq.res, rq.err = s.lookup(t.Counters, bytesToString(rq.path))
}

// lookedUp runs on the loop when the pool has looked the path up (or, if
// the loop has stopped, on the pool's thread after it; the connection is
// then orphaned). An orphan releases the entry the lookup took; an open
// connection plans its response and runs on.
func (c *conn) lookedUp() {
	rq := c.rq
	e, res, err := rq.entry, rq.res, rq.err
	rq.entry, rq.err = nil, nil
	if c.state == stateOrphan {
		if e != nil {
			e.Release(c.w.sc)
		}
		c.dropOrphan()
		return
	}
	c.state = stateSend
	c.timer.Stop()
	c.plan(e, res, err)
	c.run()
}
