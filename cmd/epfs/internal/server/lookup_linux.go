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
// back to --fallback for a path that does not exist. An answer that is an
// error with an --error-page (403, 404, 500) becomes that page: served is
// then its status and e the page's entry. With page set (a status decided
// before any lookup: a refused head or target, a method not allowed), path
// is not looked up: only that status's page is.
func (s *Server) lookup(c *syscount.Counters, path string, page int) (e *fsindex.Entry, res fsindex.Result, served int, err error) {
	if page != 0 {
		return s.lookupPage(c, page, fsindex.NotFound, nil)
	}
	e, res, err = s.index.Lookup(c, path)
	if res == fsindex.NotFound && s.cfg.Fallback != "" {
		e, res, err = s.index.Lookup(c, s.cfg.Fallback)
	}
	if status := pageStatus(res, err); status != 0 && s.cfg.ErrorPages[status] != "" {
		return s.lookupPage(c, status, res, err)
	}
	return e, res, 0, err
}

// pageStatus is the status of a lookup's answer that an error page may
// replace, or 0. Descriptors or listing memory running out is never one:
// its 503 comes from memory (see PageStatuses).
func pageStatus(res fsindex.Result, err error) int {
	switch res {
	case fsindex.NotFound:
		return 404
	case fsindex.Forbidden:
		return 403
	case fsindex.Failed:
		if !exhausted(err) {
			return 500
		}
	}
	return 0
}

// lookupPage looks up the error page of status. Without a page to serve
// (it vanished since start-up, or its own lookup failed) the answer stays
// the one given, res and err, with its built-in text. Every answer a page
// replaces comes without an entry, so there is none to release.
func (s *Server) lookupPage(c *syscount.Counters, status int, res fsindex.Result, err error) (*fsindex.Entry, fsindex.Result, int, error) {
	pe, pres, _ := s.index.Lookup(c, s.cfg.ErrorPages[status])
	if pres != fsindex.Found {
		if pe != nil {
			pe.Release(c) // a listing: the page's path is a directory now
		}
		return nil, res, 0, err
	}
	return pe, pres, status, nil
}

// lookupCached answers as lookup would, from the cache alone: hit is false
// when lookup would make a system call (a miss or a stale entry, for path,
// the fallback or the error page).
func (s *Server) lookupCached(path string, page int) (e *fsindex.Entry, res fsindex.Result, served int, hit bool) {
	if page == 0 {
		e, res, hit = s.index.LookupCached(path)
		if hit && res == fsindex.NotFound && s.cfg.Fallback != "" {
			e, res, hit = s.index.LookupCached(s.cfg.Fallback)
		}
		if page = pageStatus(res, nil); !hit || page == 0 || s.cfg.ErrorPages[page] == "" {
			return e, res, 0, hit
		}
	}
	e, res, hit = s.index.LookupCached(s.cfg.ErrorPages[page])
	if hit && res != fsindex.Found {
		// The page is gone or no longer a file: lookup decides.
		if e != nil {
			e.Release(nil)
		}
		return nil, fsindex.Failed, 0, false
	}
	return e, res, page, hit
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
	rq.entry, rq.res, rq.served, rq.err = s.lookup(t.Counters, bytesToString(rq.path), rq.page)
}

// lookedUp runs on the loop when the pool has looked the path up (or, if
// the loop has stopped, on the pool's thread after it; the connection is
// then orphaned). An orphan releases the entry the lookup took; an open
// connection plans its response and runs on.
func (c *conn) lookedUp() {
	rq := c.rq
	e, res, served, err := rq.entry, rq.res, rq.served, rq.err
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
	c.plan(e, res, served, err)
	c.run()
}
