//go:build linux

package syscount

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Calls that cannot block.
//
// Go makes a system call in one of two ways. unix.Syscall tells the
// scheduler first (entersyscall): the goroutine's P is marked "in a
// syscall", and the monitor thread (sysmon, runtime/proc.go) may take it
// away (retake, then handoffp) and wake another thread to run it, if the
// call lasts more than one monitor tick (20 µs to 10 ms) and no other P is
// idle. On the way out (exitsyscall) the goroutine must win its P back, or
// find another, or sleep until one is free. unix.RawSyscall tells the
// scheduler nothing: the goroutine keeps its P, as if the call were a
// function call.
//
// For a call that may sleep, the first way is right: while one thread
// sleeps in the kernel its P runs other goroutines. For a call that cannot
// sleep, it is pure cost, and under load a large one: a loop that is
// nearly always in some syscall has a P sysmon nearly always finds "in a
// syscall", retakes, and hands to a thread that wakes, finds nothing to do
// and sleeps again (futex wake, futex wait), while the loop itself, on the
// way out, competes for its own P.
//
// So the wrappers in this file make their calls with RawSyscall. Each acts
// on a descriptor that never sleeps in the call: a nonblocking socket (read,
// write, writev, sendto, accept4, shutdown, setsockopt, getsockopt), a
// nonblocking eventfd or pipe (read, write), or the epoll set (epoll_ctl,
// and epoll_pwait with a zero timeout; see EpollWait). Their callers must
// keep to that: a blocking descriptor or a regular file given to one of
// them (read(2) of a file can wait for the disk whatever O_NONBLOCK says)
// holds the P for as long as the kernel takes. Calls that can wait for the
// disk stay on the scheduler path, in syscalls_linux.go: sendfile and
// splice (they read the file), pread, preadv2 (RWF_NOWAIT or not: a probe
// may still wait on a page lock), openat2, openat, fstat, fstatat,
// getdents, readlinkat, fadvise, readahead, and close (closing a file's
// last reference runs its release on the way back to user space, which a
// network file system may make wait).
//
// Counting and tracing are the same on both paths. In race builds the raw
// read and write keep the race detector's view that x/sys's Read and
// Write give it (race_linux.go).

// EpollWait waits for events on epfd for at most msec milliseconds (-1: no
// limit), with epoll_pwait(2) and no signal mask: the call x/sys makes for
// EpollWait, and the only one arm64 has. EINTR is not retried here: an
// interrupted wait returns 0 events and the loop recomputes its timeout,
// exactly as after a timeout.
//
// With msec == 0 the call cannot sleep, and it is made raw (see above):
// a loop polls that way first, and makes the blocking wait only when the
// poll found nothing. A blocking wait (msec != 0) must go through the
// scheduler: made raw, its thread would sleep holding its P, sysmon could
// never tell the thread was asleep, and the P would never go to anyone else.
func (c *Counters) EpollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	var p unsafe.Pointer // nil with no room: the kernel answers EINVAL
	if len(events) > 0 {
		p = unsafe.Pointer(&events[0])
	}
	sp := c.begin()
	var n int
	var err error
	if msec == 0 {
		n, err = rawResult(unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(p), uintptr(len(events)), 0, 0, 0))
	} else {
		n, err = rawResult(unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(p), uintptr(len(events)), uintptr(msec), 0, 0))
	}
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

// EpollCtl adds, modifies or deletes fd in the interest list of epfd. (x/sys
// makes this one raw too.)
func (c *Counters) EpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	sp := c.begin()
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	err := errnoErr(e)
	c.end(sp, EpollCtl, fd, 0, op, 0, err)
	return err
}

// Accept4 accepts one connection from the nonblocking listening socket fd
// and returns its descriptor. It asks for no peer address: x/sys's Accept4
// allocates a sockaddr on every call, and the serving path does not need one
// (getpeername(2) can fetch it where a log does).
func (c *Counters) Accept4(fd int, flags int) (int, error) {
	nfd, err := c.retry(Accept4, fd, 0, 0, func() (int, error) {
		return rawResult(unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, uintptr(flags), 0, 0))
	})
	if err != nil {
		return -1, err
	}
	c.Add(Accepted, 1)
	return nfd, nil
}

// Read reads from the nonblocking socket, pipe or eventfd fd into p.
func (c *Counters) Read(fd int, p []byte) (int, error) {
	n, err := c.retry(Read, fd, 0, len(p), func() (int, error) { return readNonblock(fd, p) })
	c.moved(BytesRead, n)
	return n, err
}

// readNonblock is read(2) made raw, with x/sys Read's race annotations.
func readNonblock(fd int, p []byte) (int, error) {
	b := unsafe.Pointer(unsafe.SliceData(p)) // nil for a nil p: the kernel takes any address with a count of 0
	n, err := rawResult(unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(b), uintptr(len(p))))
	if raceEnabled {
		if n > 0 {
			raceWriteRange(b, n)
		}
		if err == nil {
			raceAcquireIO()
		}
	}
	return n, err
}

// Write writes p to the nonblocking socket, pipe or eventfd fd. A short
// count is not an error; the caller keeps writing until it sees EAGAIN
// (edge triggering gives no new edge otherwise).
func (c *Counters) Write(fd int, p []byte) (int, error) {
	n, err := c.retry(Write, fd, 0, len(p), func() (int, error) { return WriteNonblock(fd, p) })
	c.moved(BytesWritten, n)
	return n, err
}

// WriteNonblock is write(2) made raw (see the notes on calls that cannot
// block, in this file's source), uncounted, with x/sys Write's race
// annotations: for a goroutine that does not own a Counters, such as one
// waking a loop through its nonblocking eventfd. fd must not block.
func WriteNonblock(fd int, p []byte) (int, error) {
	b := unsafe.Pointer(unsafe.SliceData(p)) // nil for a nil p: the kernel takes any address with a count of 0
	if raceEnabled {
		raceReleaseIO()
	}
	n, err := rawResult(unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(b), uintptr(len(p))))
	if raceEnabled && n > 0 {
		raceReadRange(b, n)
	}
	return n, err
}

// Writev writes the buffers described by iov to the nonblocking socket fd in
// one call. The caller builds iov (and keeps it, to avoid allocating per
// call: x/sys's Writev builds a fresh []Iovec each time). count is the sum of
// the lengths, for the trace.
func (c *Counters) Writev(fd int, iov []unix.Iovec, count int) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	if raceEnabled {
		raceReleaseIO()
		for i := range iov {
			if iov[i].Len > 0 {
				raceReadRange(unsafe.Pointer(iov[i].Base), int(iov[i].Len))
			}
		}
	}
	n, err := c.retry(Writev, fd, 0, count, func() (int, error) {
		return rawResult(unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov))))
	})
	c.moved(BytesWritten, n)
	return n, err
}

// Shutdown shuts down part of a full-duplex connection (unix.SHUT_WR, ...).
// It sends a FIN and returns; it never waits for the peer.
func (c *Counters) Shutdown(fd, how int) error {
	sp := c.begin()
	_, _, e := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	err := errnoErr(e)
	c.end(sp, Shutdown, fd, 0, how, 0, err)
	return err
}

// SetsockoptInt sets an integer socket option.
func (c *Counters) SetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	sp := c.begin()
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	err := errnoErr(e)
	c.end(sp, Setsockopt, fd, 0, opt, 0, err)
	return err
}

// GetsockoptInt reads an integer socket option.
func (c *Counters) GetsockoptInt(fd, level, opt int) (int, error) {
	var v int32
	n := uint32(4)
	sp := c.begin()
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&n)), 0)
	err := errnoErr(e)
	c.end(sp, Getsockopt, fd, 0, opt, int(v), err)
	return int(v), err
}
