//go:build linux

package fsindex

import (
	"strings"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// clean checks a request path and turns it into a root-relative one. The
// HTTP layer has already normalised it; this is defence in depth, and the
// dotfile policy. dir reports a trailing slash. ok is false for anything
// that is not a plain absolute path of plain names.
func (x *Index) clean(p string) (rel string, dir, ok bool) {
	if p == "" || p[0] != '/' || len(p) > unix.PathMax || strings.IndexByte(p, 0) >= 0 {
		return "", false, false
	}
	rel = p[1:]
	if rel == "" {
		return "", true, true
	}
	if rel[len(rel)-1] == '/' {
		dir = true
		rel = rel[:len(rel)-1]
	}
	for seg := range strings.SplitSeq(rel, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", false, false
		case seg[0] == '.' && !x.opts.AllowDotfiles:
			return "", false, false
		}
	}
	return rel, dir, true
}

// build resolves key from scratch into a new entry. Found and Listing
// entries carry one reference, the caller's. The entry's key is set when
// it may be cached. err is non-nil only for Failed.
func (x *Index) build(c *syscount.Counters, key string, now int64) (*Entry, error) {
	rel, dir, ok := x.clean(key)
	if !ok {
		return &Entry{Fd: -1, result: NotFound}, nil // not cached: cheap to refuse again
	}
	var st unix.Stat_t
	fd, err := x.openRead(c, rel, true, &st)
	if err != nil {
		// errSpecial: a FIFO, socket or device, Forbidden without ever
		// having been opened.
		return x.miss(key, classify(err), now), errIfFailed(err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if dir {
			// "/file/": the kernel answers ENOTDIR for a trailing slash
			// on a non-directory, and so do we.
			c.Close(fd)
			return x.miss(key, NotFound, now), nil
		}
		return x.fileEntry(c, key, rel, fd, &st, now), nil
	case unix.S_IFDIR:
		if !dir {
			c.Close(fd)
			e := &Entry{Fd: -1, result: RedirectSlash, key: strings.Clone(key), openPath: rel, id: idOf(&st)}
			e.checked.Store(now)
			return e, nil
		}
		return x.dirEntry(c, key, rel, fd, &st, now)
	}
	// openRead opens nothing else.
	c.Close(fd)
	return x.miss(key, Forbidden, now), nil
}

func errIfFailed(err error) error {
	if classify(err) == Failed {
		return err
	}
	return nil
}

// miss returns a negative entry, cacheable for NegativeValid.
func (x *Index) miss(key string, r Result, now int64) *Entry {
	e := &Entry{Fd: -1, result: r}
	if r != Failed && x.opts.NegativeValid > 0 {
		e.key = strings.Clone(key)
		e.expires = now + int64(x.opts.NegativeValid)
	}
	return e
}

// fileEntry makes the entry for the regular file open on fd, which it
// takes over, with its variants.
func (x *Index) fileEntry(c *syscount.Counters, key, openPath string, fd int, st *unix.Stat_t, now int64) *Entry {
	e := x.fill(c, fd, st)
	e.key = strings.Clone(key)
	e.openPath = openPath
	e.result = Found
	e.ContentType = lookupType(x.opts.ContentTypes, openPath)
	e.Header = x.header("/" + openPath)
	e.refs.Store(1)
	e.checked.Store(now)
	if x.opts.Precompressed {
		x.addVariants(c, e)
	}
	if z := x.opts.Compressor; z != nil && z.Compressible(e.ContentType, e.Size) {
		// Computed only where no sidecar serves the coding (Job.Wants).
		e.compressible = e.variants[Brotli] == nil || e.variants[Zstd] == nil || e.variants[Gzip] == nil
	}
	return e
}

// fill makes a file entry from fd and st: it keeps the bytes and closes fd
// when the file is small, and keeps fd otherwise.
func (x *Index) fill(c *syscount.Counters, fd int, st *unix.Stat_t) *Entry {
	e := &Entry{Fd: fd}
	if st.Size <= x.opts.SmallFileMax && st.Size <= x.shards[0].maxBytes {
		if body, ok := readBody(c, fd, st, x.opts.SmallFileMax); ok {
			c.Close(fd)
			e.Fd = -1
			e.Body = body
			e.bytes = int64(len(body))
		}
	}
	if e.Fd >= 0 {
		e.fds = 1
	}
	e.Size = st.Size
	e.ModTime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
	e.Inode = st.Ino
	e.id = idOf(st)
	e.ETag = formatETag(st.Ino, st.Size, e.ModTime)
	e.LastModified = string(appendHTTPDate(nil, e.ModTime))
	return e
}

// maxReadTries bounds how often readBody starts again when the file changes
// under it.
const maxReadTries = 3

// readBody reads the whole file with pread and proves the bytes belong to
// the version st describes: fstat before and after must agree, and the read
// must end exactly at st.Size. A write that lands during the read moves
// mtime/ctime (or the size), and the read starts again; after maxReadTries
// it gives up and the file is served from its descriptor. On return st
// describes the file as last seen.
func readBody(c *syscount.Counters, fd int, st *unix.Stat_t, limit int64) ([]byte, bool) {
	for range maxReadTries {
		body := make([]byte, st.Size)
		n := 0
		for n < len(body) {
			m, err := c.Pread(fd, body[n:], int64(n))
			if err != nil {
				return nil, false
			}
			if m == 0 {
				break // truncated under us
			}
			n += m
		}
		var after unix.Stat_t
		if c.Fstat(fd, &after) != nil {
			return nil, false
		}
		if n == len(body) && idOf(&after) == idOf(st) {
			return body, true
		}
		*st = after
		if st.Size > limit {
			return nil, false
		}
	}
	return nil, false
}

// addVariants attaches the precompressed files beside e's that may be
// served, and records what was there for revalidation.
func (x *Index) addVariants(c *syscount.Counters, e *Entry) {
	for enc := Brotli; enc < numEncodings; enc++ {
		var st unix.Stat_t
		fd, err := x.openRead(c, e.openPath+encodingSuffixes[enc], false, &st)
		if err != nil && err != errSpecial {
			continue
		}
		// Recorded for revalidation even when it is not a regular file
		// (then never opened), so that its replacement by one is seen.
		e.varIDs[enc] = idOf(&st)
		if err != nil {
			continue
		}
		// A variant older than the original was made from an older
		// version of it; serving it would contradict the original's ETag.
		if timespecLess(st.Mtim, e.id.mtime) {
			c.Close(fd)
			continue
		}
		v := x.fill(c, fd, &st)
		v.Encoding = enc
		v.ContentType = e.ContentType
		v.Header = e.Header
		v.result = Found
		e.variants[enc] = v
		e.fds += v.fds
		e.bytes += v.bytes
	}
}

// header returns the fields Options.Header gives the file at path.
func (x *Index) header(path string) []byte {
	if x.opts.Header == nil {
		return nil
	}
	return x.opts.Header(path)
}

// listingPath is the path header rules see for the listing of the
// directory rel: the directory URL, with its trailing "/".
func listingPath(rel string) string {
	if rel == "" {
		return "/"
	}
	return "/" + rel + "/"
}

func timespecLess(a, b unix.Timespec) bool {
	return a.Sec < b.Sec || a.Sec == b.Sec && a.Nsec < b.Nsec
}

// dirEntry answers a directory URL ending in "/": its index file, a
// listing, or Forbidden. It takes over dirfd.
func (x *Index) dirEntry(c *syscount.Counters, key, rel string, dirfd int, dst *unix.Stat_t, now int64) (*Entry, error) {
	ip := x.opts.Index
	if rel != "" {
		ip = rel + "/" + ip
	}
	var st unix.Stat_t
	fd, err := x.openRead(c, ip, false, &st)
	switch {
	case err == nil:
		c.Close(dirfd)
		return x.fileEntry(c, key, ip, fd, &st, now), nil
	case err == errSpecial:
		// An index that is not a regular file counts as absent (and was
		// never opened).
	case classify(err) == Failed:
		c.Close(dirfd)
		return nil, err
	}
	if !x.opts.Listing {
		c.Close(dirfd)
		return x.miss(key, Forbidden, now), nil
	}
	// Counted before the build, at the most a listing may take, so that
	// concurrent builds cannot overshoot the budget together. A new
	// listing is loose until the cache takes it.
	if x.loose.Add(x.listMax) > x.listBudget {
		x.loose.Add(-x.listMax)
		c.Close(dirfd)
		return nil, ErrMemory
	}
	x.listed.Add(x.listMax)
	body, doc, newest, err := x.listing(c, dirfd, key, rel == "")
	c.Close(dirfd)
	x.built.Add(1)
	adjust := int64(len(body)+len(doc)) - x.listMax
	if err != nil {
		adjust = -x.listMax
	}
	x.listed.Add(adjust)
	x.loose.Add(adjust)
	if err != nil {
		if classify(err) == Failed {
			return nil, err
		}
		return x.miss(key, classify(err), now), nil
	}
	// Last-Modified is the newest of the directory and what it lists: a
	// file rewritten in place changes the listing, not the directory, and
	// If-Modified-Since must not answer 304 for that.
	mt := time.Unix(dst.Mtim.Sec, dst.Mtim.Nsec)
	if newest.After(mt) {
		mt = newest
	}
	lm := string(appendHTTPDate(nil, mt))
	e := &Entry{
		Fd:           -1,
		Size:         int64(len(body)),
		ModTime:      mt,
		Inode:        dst.Ino,
		ETag:         bodyETag('L', body),
		LastModified: lm,
		ContentType:  contentTypes["html"],
		Header:       x.header(listingPath(rel)),
		Body:         body,
		key:          strings.Clone(key),
		openPath:     rel,
		result:       Listing,
		id:           idOf(dst),
		bytes:        int64(len(body) + len(doc)),
		owner:        x,
	}
	// The JSON form shares the entry's reference and its accounting: one
	// directory read, one cache slot, one body budget for both forms.
	e.json = &Entry{
		Fd:           -1,
		Size:         int64(len(doc)),
		ModTime:      mt,
		Inode:        dst.Ino,
		ETag:         bodyETag('J', doc),
		LastModified: lm,
		ContentType:  contentTypes["json"],
		Body:         doc,
		result:       Listing,
		form:         true,
	}
	e.loose.Store(true)
	e.refs.Store(1)
	e.checked.Store(now)
	return e, nil
}
