//go:build linux

package syscount

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Getpeername returns the address of the peer connected to the socket fd,
// for an access log. It reads into a caller-free stack buffer and returns a
// value (x/sys's Getpeername allocates a Sockaddr per call). A Unix-socket
// peer, which has no IP address, returns the zero AddrPort.
func (c *Counters) Getpeername(fd int) (netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	sp := c.begin()
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	err := errnoErr(e)
	c.end(sp, Getpeername, fd, 0, 0, 0, err)
	if err != nil {
		return netip.AddrPort{}, err
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1])), nil
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1])), nil
	}
	return netip.AddrPort{}, nil
}
