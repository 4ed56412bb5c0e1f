//go:build linux

package poller

import "golang.org/x/sys/unix"

// Events is the readiness epoll reported for one registration: a set of
// EPOLL* bits.
type Events uint32

// Readable reports whether a read may make progress. EPOLLERR and EPOLLHUP
// count as readable so that the handler meets the error (or EOF) through its
// next read instead of waiting for an edge that will never come.
func (e Events) Readable() bool {
	return e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
}

// Writable reports whether a write may make progress. EPOLLERR and EPOLLHUP
// count as writable for the same reason they count as readable.
func (e Events) Writable() bool {
	return e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
}

// PeerClosed reports that the peer shut down its writing side (EPOLLRDHUP) or
// the connection is fully closed (EPOLLHUP). Data may still be buffered
// before the end of stream, and after EPOLLRDHUP no further edge will be
// raised for it: a handler that sees PeerClosed must read until EOF or
// EAGAIN, not stop at a short read.
func (e Events) PeerClosed() bool {
	return e&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0
}

// Err reports EPOLLERR: a pending socket error, which the next read or write
// returns.
//
// Deprecated: Readable and Writable already include EPOLLERR,
// so the handler meets the error through its next read or write, the one
// place it must handle it anyway. It will be removed before v1.
func (e Events) Err() bool {
	return e&unix.EPOLLERR != 0
}

// In and Out are the readiness sets a handler may pass to [Loop.Requeue] to
// ask to be called again as if the descriptor had become readable or
// writable.
const (
	In  Events = unix.EPOLLIN
	Out Events = unix.EPOLLOUT
)
