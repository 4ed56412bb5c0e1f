package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/epfs/epfs/poller"
	"golang.org/x/sys/unix"
)

const wantAddr = "want host:port, [::]:port or unix:/path"

// checkListen checks the form of an address flag's value, and suggests
// what was probably meant: ":8080" for "8080", "127.0.0.1:8080" for
// "http://127.0.0.1:8080/". Whether the host resolves and the port is free
// is known only when binding.
func checkListen(flag, addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return badValue(flag, addr, "want unix:/path/to/socket")
		}
		return nil
	}
	if u, err := url.Parse(addr); err == nil && u.Scheme != "" && u.Host != "" {
		hint := u.Host
		if u.Port() == "" {
			hint = net.JoinHostPort(u.Hostname(), "80")
		}
		return badValue(flag, addr, wantAddr+", not a URL (did you mean "+hint+"?)")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if _, nerr := strconv.ParseUint(addr, 10, 16); nerr == nil {
			return badValue(flag, addr, wantAddr+" (did you mean :"+addr+"?)")
		}
		return badValue(flag, addr, wantAddr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return badValue(flag, addr, "want a port from 0 to 65535 after the last colon")
	}
	return nil
}

// refuseServed refuses to start on a TCP address that another process
// already listens on. epfs binds its own sockets with SO_REUSEPORT (one per
// loop), and Linux lets any socket of the same user with SO_REUSEPORT join
// such a group: a second epfs on the same port would start silently and
// the kernel would split new connections between the two, whatever each
// serves. So each address with a fixed port is first bound by a probe
// socket without SO_REUSEPORT, which bind(2) refuses with EADDRINUSE while
// any other socket listens there (SO_REUSEADDR, set as on the real
// sockets, only forgives connections left in TIME_WAIT). The probe is
// closed before the real sockets bind: a process that starts listening in
// between is not caught, and a client that connects in that instant is
// reset rather than refused. --reuse-port skips the check, for a planned
// overlap.
func refuseServed(addrs []string) error {
	for _, addr := range addrs {
		if strings.HasPrefix(addr, "unix:") {
			continue
		}
		if _, port, _ := net.SplitHostPort(addr); port == "0" {
			continue
		}
		probe, err := poller.Listen(addr, poller.ListenConfig{Backlog: 1})
		if errors.Is(err, unix.EADDRINUSE) {
			return fmt.Errorf("--listen %s: address already in use by another process (--reuse-port shares it on purpose, for a restart)", addr)
		}
		if err != nil {
			continue // the real bind reports it
		}
		probe.Close()
	}
	return nil
}

// unwrapOp drops the "listen tcp addr:" prefix of a *net.OpError, which the
// message around it already names.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}
