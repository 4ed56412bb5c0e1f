//go:build linux

package syscount

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sendto sends p on the connected socket fd with flags, as send(2) does (no
// destination address). It exists for the flags write(2) cannot carry:
// unix.MSG_MORE, which holds a response head back until the body that
// follows fills the segment (tcp(7)), and unix.MSG_NOSIGNAL. x/sys's Sendto
// returns no byte count, so the call is made directly, and raw: fd is a
// nonblocking socket, and the call cannot sleep (see nonblock_linux.go).
func (c *Counters) Sendto(fd int, p []byte, flags int) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if raceEnabled {
		raceReleaseIO()
		raceReadRange(unsafe.Pointer(&p[0]), len(p))
	}
	n, err := c.retry(Sendto, fd, 0, len(p), func() (int, error) {
		return rawResult(unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), 0, 0))
	})
	c.moved(BytesWritten, n)
	return n, err
}
