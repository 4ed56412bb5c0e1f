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

// EpollWait waits for events on epfd for at most msec milliseconds (-1: no
// limit). EINTR is not retried here: an interrupted wait returns 0 events and
// the loop recomputes its timeout, exactly as after a timeout.
func (c *Counters) EpollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	sp := c.begin()
	n, err := unix.EpollWait(epfd, events, msec)
	c.end(sp, EpollWait, epfd, 0, len(events), n, err)
	if err == unix.EINTR {
		c.ObserveWait(0)
		return 0, nil
	}
	if err == nil {
		c.Add(EpollEvents, uint64(n))
		c.ObserveWait(n)
	}
	return n, err
}

// EpollCtl adds, modifies or deletes fd in the interest list of epfd.
func (c *Counters) EpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	sp := c.begin()
	err := unix.EpollCtl(epfd, op, fd, ev)
	c.end(sp, EpollCtl, fd, 0, op, 0, err)
	return err
}

// Accept4 accepts one connection from the listening socket fd and returns its
// descriptor. It asks for no peer address: x/sys's Accept4 allocates a
// sockaddr on every call, and the serving path does not need one
// (getpeername(2) can fetch it where a log does).
func (c *Counters) Accept4(fd int, flags int) (int, error) {
	nfd, err := c.retry(Accept4, fd, 0, 0, func() (int, error) {
		return rawResult(unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, uintptr(flags), 0, 0))
	})
	if err != nil {
		return -1, err
	}
	c.Add(Accepted, 1)
	return nfd, nil
}

// Read reads from fd into p.
func (c *Counters) Read(fd int, p []byte) (int, error) {
	n, err := c.retry(Read, fd, 0, len(p), func() (int, error) { return unix.Read(fd, p) })
	c.moved(BytesRead, n)
	return n, err
}

// Write writes p to fd. A short count is not an error; the caller keeps
// writing until it sees EAGAIN (edge triggering gives no new edge otherwise).
func (c *Counters) Write(fd int, p []byte) (int, error) {
	n, err := c.retry(Write, fd, 0, len(p), func() (int, error) { return unix.Write(fd, p) })
	c.moved(BytesWritten, n)
	return n, err
}

// Writev writes the buffers described by iov to fd in one call. The caller
// builds iov (and keeps it, to avoid allocating per call: x/sys's Writev
// builds a fresh []Iovec each time). count is the sum of the lengths, for the
// trace.
func (c *Counters) Writev(fd int, iov []unix.Iovec, count int) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	n, err := c.retry(Writev, fd, 0, count, func() (int, error) {
		return rawResult(unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov))))
	})
	c.moved(BytesWritten, n)
	return n, err
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

// Close closes fd. It is never retried, even on EINTR: Linux releases the
// descriptor before close(2) can be interrupted, so a retry could close a
// descriptor that another thread has just been given.
func (c *Counters) Close(fd int) error {
	sp := c.begin()
	err := unix.Close(fd)
	c.end(sp, Close, fd, 0, 0, 0, err)
	return err
}

// Shutdown shuts down part of a full-duplex connection (unix.SHUT_WR, ...).
func (c *Counters) Shutdown(fd, how int) error {
	sp := c.begin()
	err := unix.Shutdown(fd, how)
	c.end(sp, Shutdown, fd, 0, how, 0, err)
	return err
}

// SetsockoptInt sets an integer socket option.
func (c *Counters) SetsockoptInt(fd, level, opt, value int) error {
	sp := c.begin()
	err := unix.SetsockoptInt(fd, level, opt, value)
	c.end(sp, Setsockopt, fd, 0, opt, 0, err)
	return err
}

// GetsockoptInt reads an integer socket option.
func (c *Counters) GetsockoptInt(fd, level, opt int) (int, error) {
	sp := c.begin()
	v, err := unix.GetsockoptInt(fd, level, opt)
	c.end(sp, Getsockopt, fd, 0, opt, v, err)
	return v, err
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
