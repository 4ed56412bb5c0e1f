//go:build linux

package syscount

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// span carries what a traced call needs between its start and its end. With
// no hook installed it is the zero value and costs nothing but the branch in
// begin.
type span struct {
	fn    *TraceFunc
	start time.Time
}

func (c *Counters) begin() span {
	if c == nil {
		return span{}
	}
	fn := c.trace.Load()
	if fn == nil {
		return span{}
	}
	return span{fn: fn, start: time.Now()}
}

// end counts the call and, when tracing, reports it.
func (c *Counters) end(sp span, s Syscall, fd int, off int64, count, ret int, err error) {
	if c == nil {
		return
	}
	bump(&c.calls[s][Classify(err)], 1)
	if sp.fn == nil {
		return
	}
	r := Record{Syscall: s, Fd: fd, Offset: off, Count: count, Ret: ret, Start: sp.start, Dur: time.Since(sp.start)}
	if errno, ok := err.(unix.Errno); ok {
		r.Errno = errno
		r.Ret = -1
	}
	(*sp.fn)(r)
}

// retry makes the call do and, only after EINTR, makes it again: the one
// place an interrupted call is retried (Go's runtime interrupts threads with
// SIGURG to preempt goroutines, and SA_RESTART does not cover every call;
// see signal(7)). Each attempt is counted and traced on its own, so an
// EINTR shows in the counters even though the caller never sees it. do
// returns the call's count, 0 when it failed.
func (c *Counters) retry(s Syscall, fd int, off int64, count int, do func() (int, error)) (int, error) {
	for {
		sp := c.begin()
		n, err := do()
		c.end(sp, s, fd, off, count, n, err)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// moved adds n to the byte tally e when a call moved bytes.
func (c *Counters) moved(e Event, n int) {
	if n > 0 {
		c.Add(e, uint64(n))
	}
}

// rawResult turns what unix.Syscall returns into a count and an error.
func rawResult(r, _ uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// Sendfile copies up to count bytes from infd, starting at *off, to outfd,
// and advances *off by the bytes copied. The offset is always explicit: a
// cached file descriptor is shared by every connection that sends it, so its
// file position must never be used or moved.
func (c *Counters) Sendfile(outfd, infd int, off *int64, count int) (int, error) {
	// An interrupted sendfile moved nothing (it returns the count
	// instead when it made progress), so *off is the start of every attempt.
	n, err := c.retry(Sendfile, outfd, *off, count, func() (int, error) { return unix.Sendfile(outfd, infd, off, count) })
	c.moved(BytesSent, n)
	return n, err
}

// Splice moves up to count bytes between rfd and wfd, one of which must be a
// pipe. roff and woff are explicit offsets (nil for a pipe or a socket).
func (c *Counters) Splice(rfd int, roff *int64, wfd int, woff *int64, count int, flags int) (int, error) {
	var start int64
	if roff != nil {
		start = *roff
	}
	n, err := c.retry(Splice, wfd, start, count, func() (int, error) {
		n, err := unix.Splice(rfd, roff, wfd, woff, count, flags)
		return int(n), err
	})
	c.moved(BytesSent, n)
	return n, err
}

// Pread reads from fd at offset off into p, leaving the file position alone.
func (c *Counters) Pread(fd int, p []byte, off int64) (int, error) {
	return c.retry(Pread, fd, off, len(p), func() (int, error) { return unix.Pread(fd, p, off) })
}

// Preadv2 reads from fd at offset off into p with preadv2(2) flags, such as
// unix.RWF_NOWAIT, which returns EAGAIN instead of waiting for the disk when
// the range is not in the page cache (Linux 4.14+).
func (c *Counters) Preadv2(fd int, p []byte, off int64, flags int) (int, error) {
	iov := unix.Iovec{Len: uint64(len(p))}
	if len(p) > 0 {
		iov.Base = &p[0]
	}
	return c.retry(Preadv2, fd, off, len(p), func() (int, error) {
		// preadv2 takes the offset split into low and high words; on a
		// 64-bit kernel the low word carries all of it and the high word is 0.
		return rawResult(unix.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, uintptr(off), 0, uintptr(flags)))
	})
}

// Openat2 opens path relative to dirfd under the rules in how (see
// openat2(2): RESOLVE_BENEATH and friends).
func (c *Counters) Openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	return c.retry(Openat2, dirfd, 0, 0, func() (int, error) { return unix.Openat2(dirfd, path, how) })
}

// Openat opens path relative to dirfd (the fallback when openat2 is missing).
func (c *Counters) Openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	return c.retry(Openat, dirfd, 0, 0, func() (int, error) { return unix.Openat(dirfd, path, flags, mode) })
}

// Fstat fills st with the status of the open file fd.
func (c *Counters) Fstat(fd int, st *unix.Stat_t) error {
	sp := c.begin()
	err := unix.Fstat(fd, st)
	c.end(sp, Fstat, fd, 0, 0, 0, err)
	return err
}

// Fstatat fills st with the status of path relative to dirfd.
func (c *Counters) Fstatat(dirfd int, path string, st *unix.Stat_t, flags int) error {
	sp := c.begin()
	err := unix.Fstatat(dirfd, path, st, flags)
	c.end(sp, Fstatat, dirfd, 0, 0, 0, err)
	return err
}

// Getdents reads directory entries from the directory fd into buf.
func (c *Counters) Getdents(fd int, buf []byte) (int, error) {
	return c.retry(Getdents, fd, 0, len(buf), func() (int, error) { return unix.Getdents(fd, buf) })
}

// Readlinkat reads the target of the symbolic link path relative to dirfd.
func (c *Counters) Readlinkat(dirfd int, path string, buf []byte) (int, error) {
	sp := c.begin()
	n, err := unix.Readlinkat(dirfd, path, buf)
	c.end(sp, Readlinkat, dirfd, 0, len(buf), n, err)
	return n, err
}

// Close closes fd, through the scheduler's syscall path even for a socket:
// closing the last reference to a file runs its release on the way back to
// user space (fput's task work), which may wait (a network file system
// flushing). It is never retried, even on EINTR: Linux releases the
// descriptor before close(2) can be interrupted, so a retry could close a
// descriptor that another thread has just been given.
func (c *Counters) Close(fd int) error {
	sp := c.begin()
	err := unix.Close(fd)
	c.end(sp, Close, fd, 0, 0, 0, err)
	return err
}

// Pipe2 creates a pipe with flags (unix.O_NONBLOCK|unix.O_CLOEXEC) and
// returns its read and write ends.
func (c *Counters) Pipe2(flags int) (r, w int, err error) {
	var p [2]int
	sp := c.begin()
	err = unix.Pipe2(p[:], flags)
	c.end(sp, Pipe2, -1, 0, 0, 0, err)
	return p[0], p[1], err
}

// Fadvise gives the kernel advice about the access pattern of a file range
// (posix_fadvise(2), for instance unix.FADV_WILLNEED to start readahead).
func (c *Counters) Fadvise(fd int, off, length int64, advice int) error {
	sp := c.begin()
	err := unix.Fadvise(fd, off, length, advice)
	c.end(sp, Fadvise, fd, off, int(length), 0, err)
	return err
}

// errnoErr turns a raw errno into an error without allocating: common values
// are pre-boxed by x/sys, and the rest are below 256, which Go boxes into an
// interface without allocating.
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
