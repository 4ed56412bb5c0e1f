package main

import (
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// notifier tells a service manager about the service's state, the
// sd_notify(3) protocol: one datagram of newline-separated KEY=VALUE lines
// per message, sent to the AF_UNIX datagram socket that NOTIFY_SOCKET
// names (a path, or an abstract name written with a leading "@"). systemd
// sets it for Type=notify units. A nil *notifier, when the variable is
// unset, sends nothing.
type notifier struct {
	fd   int
	addr *unix.SockaddrUnix
	log  zerolog.Logger
}

// newNotifier opens the socket NOTIFY_SOCKET names, or returns nil. A
// socket that cannot be opened is logged, not fatal: the service still
// serves, and systemd reports the missing readiness itself.
func newNotifier(log zerolog.Logger) *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		log.Warn().Err(os.NewSyscallError("socket", err)).Msg("NOTIFY_SOCKET: no readiness notification")
		return nil
	}
	// x/sys writes a leading "@" as the NUL of an abstract address.
	return &notifier{fd: fd, addr: &unix.SockaddrUnix{Name: path}, log: log}
}

// send sends one message. A datagram socket delivers it whole or not at
// all; a failure is logged and otherwise ignored, as sd_notify's callers do.
func (n *notifier) send(msg string) {
	if n == nil {
		return
	}
	if err := unix.Sendto(n.fd, []byte(msg), 0, n.addr); err != nil {
		n.log.Warn().Err(os.NewSyscallError("sendto", err)).Str("socket", n.addr.Name).Msg("NOTIFY_SOCKET: notification lost")
	}
}

// monotonicMicros is CLOCK_MONOTONIC in microseconds, which RELOADING=1
// carries as MONOTONIC_USEC so systemd can tell this reload from a later one.
func monotonicMicros() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano() / 1000
}
