//go:build linux

package poller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// ListenConfig configures Listen.
type ListenConfig struct {
	// Backlog is the accept queue length passed to listen(2) (default 4096;
	// the kernel caps it at net.core.somaxconn).
	Backlog int
	// ReusePort sets SO_REUSEPORT on a TCP socket so that each loop can own a
	// listener of its own on the same address (see Listener.Sibling) and the
	// kernel spreads connections across them. It has no effect on Unix
	// sockets, which cannot share a path.
	ReusePort bool
}

// Listener is a nonblocking listening socket: TCP over IPv4 or IPv6, or a
// Unix stream socket. Accepting happens on a loop (Loop.Accept).
type Listener struct {
	fd      int
	network string // "tcp" or "unix"
	addr    string // the bound address, with the real port for TCP
	family  int
	reuse   bool
	backlog int
	shared  bool   // one socket accepted on by several loops (EPOLLEXCLUSIVE)
	unlink  string // Unix socket path to remove on Close, if we created it
	closed  atomic.Bool
}

// Listen opens a listening socket. address is "host:port", "[v6addr]:port",
// ":port" (every address: a dual-stack IPv6 socket, or IPv4 where IPv6 is
// unavailable), or "unix:/path". Port 0 asks the kernel for a free port;
// Addr reports the real one.
//
// TCP_NODELAY is set once here: Linux copies it from the listening socket to
// every socket accept4 returns, so no setsockopt is needed per connection,
// and a response head followed by a short body never waits on Nagle's
// algorithm and the peer's delayed ACK.
func Listen(address string, cfg ListenConfig) (*Listener, error) {
	if cfg.Backlog <= 0 {
		cfg.Backlog = 4096
	}
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		return listenUnix(path, cfg)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("listen %q: bad port %q", address, portStr)
	}
	var ip netip.Addr
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			ips, lerr := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
			if lerr != nil || len(ips) == 0 {
				return nil, fmt.Errorf("listen %q: cannot resolve host %q", address, host)
			}
			ip = ips[0]
		}
	}
	ln, err := listenTCP(ip, uint16(port), host == "", cfg)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", address, err)
	}
	return ln, nil
}

func listenTCP(ip netip.Addr, port uint16, any bool, cfg ListenConfig) (*Listener, error) {
	family := unix.AF_INET6
	if ip.IsValid() && ip.Unmap().Is4() {
		family = unix.AF_INET
		ip = ip.Unmap()
	}
	ln := &Listener{network: "tcp", family: family, reuse: cfg.ReusePort, backlog: cfg.Backlog}
	err := ln.bindTCP(ip, port, any)
	if err != nil && any && family == unix.AF_INET6 && errors.Is(err, unix.EAFNOSUPPORT) {
		// No IPv6 on this host: every address means every IPv4 address.
		ln.family = unix.AF_INET
		err = ln.bindTCP(ip, port, any)
	}
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// bindTCP creates, configures, binds and listens a TCP socket.
func (ln *Listener) bindTCP(ip netip.Addr, port uint16, any bool) error {
	fd, err := unix.Socket(ln.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) error {
		unix.Close(fd)
		return os.NewSyscallError(op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt SO_REUSEADDR", err)
	}
	if ln.reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt SO_REUSEPORT", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt TCP_NODELAY", err)
	}
	var sa unix.Sockaddr
	if ln.family == unix.AF_INET6 {
		// An unspecified host means every address, IPv4 included: clear
		// IPV6_V6ONLY rather than trusting the net.ipv6.bindv6only default.
		v6only := 1
		if any {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fail("setsockopt IPV6_V6ONLY", err)
		}
		s := &unix.SockaddrInet6{Port: int(port)}
		if ip.IsValid() {
			s.Addr = ip.As16()
		}
		sa = s
	} else {
		s := &unix.SockaddrInet4{Port: int(port)}
		if ip.IsValid() {
			s.Addr = ip.As4()
		}
		sa = s
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, ln.backlog); err != nil {
		return fail("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	ln.fd = fd
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		ln.addr = netip.AddrPortFrom(netip.AddrFrom4(b.Addr), uint16(b.Port)).String()
	case *unix.SockaddrInet6:
		ln.addr = netip.AddrPortFrom(netip.AddrFrom16(b.Addr), uint16(b.Port)).String()
	}
	return nil
}

func listenUnix(path string, cfg ListenConfig) (*Listener, error) {
	if path == "" {
		return nil, errors.New("listen unix: empty socket path")
	}
	ln := &Listener{network: "unix", family: unix.AF_UNIX, backlog: cfg.Backlog, addr: "unix:" + path, shared: true}
	err := ln.bindUnix(path)
	if errors.Is(err, unix.EADDRINUSE) && staleUnixSocket(path) {
		// A socket file left by a process that died: nobody accepts on it,
		// so it is safe to replace.
		os.Remove(path)
		err = ln.bindUnix(path)
	}
	if err != nil {
		return nil, fmt.Errorf("listen unix:%s: %w", path, err)
	}
	ln.unlink = path
	return ln, nil
}

func (ln *Listener) bindUnix(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, ln.backlog); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("listen", err)
	}
	ln.fd = fd
	return nil
}

// staleUnixSocket reports whether path is a socket that refuses connections.
func staleUnixSocket(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return false
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, unix.ECONNREFUSED)
}

// FileListener wraps a listening stream socket that was handed in from
// outside (by a service manager, say), taking ownership of fd. It checks that
// fd is a listening stream socket and makes it nonblocking. The socket exists
// once, so it is shared by every loop that accepts on it.
//
// O_NONBLOCK is a flag of the open file description, which every process
// holding the socket shares. If another holder clears it (Go's os.File.Fd
// does, for a file it wrapped as nonblocking), accept4 becomes blocking and
// a loop woken for a connection that another holder took first would block
// in it. Holders must leave the flag set; a service manager does.
func FileListener(fd int) (*Listener, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("descriptor %d is not a socket: %w", fd, err)
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil || typ != unix.SOCK_STREAM || acc != 1 {
		return nil, fmt.Errorf("descriptor %d is not a listening stream socket", fd)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	unix.CloseOnExec(fd)
	ln := &Listener{fd: fd, shared: true}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch b := sa.(type) {
	case *unix.SockaddrInet4:
		ln.network, ln.family = "tcp", unix.AF_INET
		ln.addr = netip.AddrPortFrom(netip.AddrFrom4(b.Addr), uint16(b.Port)).String()
	case *unix.SockaddrInet6:
		ln.network, ln.family = "tcp", unix.AF_INET6
		ln.addr = netip.AddrPortFrom(netip.AddrFrom16(b.Addr), uint16(b.Port)).String()
	case *unix.SockaddrUnix:
		ln.network, ln.family = "unix", unix.AF_UNIX
		ln.addr = "unix:" + b.Name
	default:
		ln.network = "unknown"
	}
	return ln, nil
}

// Sibling opens another TCP listener with SO_REUSEPORT on this listener's
// real address, so each loop can own one and the kernel spreads connections
// across them. When the first listener asked for port 0, the siblings land on
// the port the kernel chose for it.
func (ln *Listener) Sibling() (*Listener, error) {
	if ln.network != "tcp" || !ln.reuse {
		return nil, errors.New("poller: Sibling needs a TCP listener with ReusePort")
	}
	ap, err := netip.ParseAddrPort(ln.addr)
	if err != nil {
		return nil, err
	}
	sib := &Listener{network: "tcp", family: ln.family, reuse: true, backlog: ln.backlog}
	any := ap.Addr().IsUnspecified()
	ip := ap.Addr()
	if any {
		ip = netip.Addr{}
	}
	if err := sib.bindTCP(ip, ap.Port(), any); err != nil {
		return nil, fmt.Errorf("listen %s (sibling): %w", ln.addr, err)
	}
	return sib, nil
}

// Addr returns the bound address: "ip:port" with the real port for TCP
// ("[::]:8080" for every address), "unix:/path" for a Unix socket.
func (ln *Listener) Addr() string { return ln.addr }

// Network returns "tcp" or "unix".
func (ln *Listener) Network() string { return ln.network }

// Fd returns the listening descriptor.
func (ln *Listener) Fd() int { return ln.fd }

// Shared reports whether several loops accept on this one socket (a Unix
// socket or one handed in from outside) rather than each owning a sibling.
func (ln *Listener) Shared() bool { return ln.shared }

// Close closes the listening socket, and removes the socket file of a Unix
// listener that Listen created. Stop the loops accepting on it first.
//
// Close is idempotent: a second call does nothing (closing the number again
// could close a descriptor opened since by someone else).
func (ln *Listener) Close() error {
	if !ln.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := unix.Close(ln.fd)
	if ln.unlink != "" {
		os.Remove(ln.unlink)
	}
	return err
}

// acceptor drains a listener on one loop.
type acceptor struct {
	loop   *Loop
	ln     *Listener
	id     ID
	fn     func(fd int)
	paused bool  // accepting stopped on EMFILE/ENFILE until a close or the retry timer
	retry  Timer // resumes a paused acceptor if no descriptor is freed meanwhile
}

// acceptBatch bounds the connections taken per pass, so a flood of new
// connections cannot starve the loop's established ones. The acceptor
// requeues itself when it stops at the bound, since no new edge would come.
const acceptBatch = 64

// acceptRetry is how long a paused acceptor waits for a descriptor to be
// freed before it tries again anyway.
const acceptRetry = 100 * time.Millisecond

// Accept registers ln on the loop and calls fn, on the loop's goroutine, with
// each accepted descriptor: nonblocking, close-on-exec, TCP_NODELAY inherited
// from the listener, and owned by fn from then on (Add hands it to the loop).
//
// A listener that is Shared is registered with EPOLLEXCLUSIVE, so a new
// connection wakes one of the loops waiting on it rather than all of them.
// The loop never closes ln; close it after stopping the loops. To stop
// accepting while the loop goes on (a graceful shutdown), pass the returned
// ID to Remove: the listener leaves this loop's epoll set and stays open.
func (l *Loop) Accept(ln *Listener, fn func(fd int)) (ID, error) {
	a := &acceptor{loop: l, ln: ln, fn: fn}
	a.retry.Func = a.resume
	events := uint32(unix.EPOLLIN | unix.EPOLLET)
	if ln.shared {
		events |= unix.EPOLLEXCLUSIVE
	}
	id, err := l.register(ln.fd, a, events, false)
	if err != nil {
		return 0, err
	}
	a.id = id
	return id, nil
}

// StopAccepting ends the acceptor registered by Accept under id. With
// drain set it first accepts, and hands to its function, every connection
// already waiting in the listener's queue.
//
// Why drain: when a SO_REUSEPORT socket closes, the kernel resets the
// connections in its queue (unless net.ipv4.tcp_migrate_req moves them to a
// sibling, Linux 5.14+), so a server about to close its socket serves them
// instead. A connection that arrives between the drain and the close is
// still lost that way; only a socket held by another process too (an
// inherited one) closes that window.
//
// A shared socket is drained as well, for another reason: with
// EPOLLEXCLUSIVE the kernel wakes one waiting epoll instance per new
// connection, and an edge-triggered registration hears of it once. If the
// woken loop left without accepting, the connection would sit in the queue
// and the other holders, never woken, would not accept it until the next
// connection arrived. After the drain the loop is running, not waiting, so a
// connection arriving before its EPOLL_CTL_DEL wakes another holder.
func (l *Loop) StopAccepting(id ID, drain bool) error {
	s := l.lookup(id)
	if s == nil {
		return errUnknownID
	}
	a, ok := s.h.(*acceptor)
	if !ok {
		return errors.New("poller: StopAccepting on a registration that is not an acceptor")
	}
	if drain {
		l.unpause(a)
		for a.acceptSome() {
		}
	}
	return l.Remove(id) // unpauses a, if the drain met EMFILE (see release)
}

// Handle drains the accept queue until EAGAIN, the batch bound, or
// descriptor exhaustion.
func (a *acceptor) Handle(Events) {
	if a.paused {
		return
	}
	if a.acceptSome() {
		a.loop.Requeue(a.id, In)
	}
}

// acceptSome accepts up to acceptBatch connections. It returns true if it
// stopped at the bound with more perhaps waiting, false on EAGAIN or when it
// paused.
func (a *acceptor) acceptSome() bool {
	sc := a.loop.sc
	for i := 0; i < acceptBatch; i++ {
		fd, err := sc.Accept4(a.ln.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
			a.fn(fd)
			continue
		case unix.EAGAIN:
			return false
		case unix.ECONNABORTED, unix.EPROTO, unix.EPERM:
			// The connection died in the queue (or a firewall refused it):
			// it is gone, the next one may be fine.
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			a.pause()
			return false
		default:
			// Unexpected: do not spin on it; try again after the retry delay.
			a.pause()
			return false
		}
	}
	return true
}

// pause stops accepting. The listening socket stays readable, and under edge
// triggering no new edge will arrive for connections already queued, so
// something must resume it: the next descriptor a registration of this loop
// frees (Loop.Close calls resumeAccepting), or the retry timer, whichever
// comes first. Retrying at once would spin the loop.
func (a *acceptor) pause() {
	l := a.loop
	a.paused = true
	l.paused = append(l.paused, a)
	l.sc.Add(syscount.AcceptPauses, 1)
	l.NewTimerQueue(acceptRetry).Arm(&a.retry)
}

// resume is the retry timer's function: accept again.
func (a *acceptor) resume() {
	if a.paused {
		a.loop.unpause(a)
		a.Handle(In)
	}
}

// unpause takes a off the loop's paused acceptors and stops its retry
// timer; it does nothing to an acceptor that is not paused.
func (l *Loop) unpause(a *acceptor) {
	if !a.paused {
		return
	}
	a.paused = false
	a.retry.Stop()
	for i, p := range l.paused {
		if p == a {
			l.paused = append(l.paused[:i], l.paused[i+1:]...)
			break
		}
	}
}

// resumeAccepting gives every paused acceptor the descriptor just freed:
// each is requeued to accept on the loop's next pass (not here: Close runs
// inside a handler that may not expect a new connection under it).
func (l *Loop) resumeAccepting() {
	for _, a := range l.paused {
		a.paused = false
		a.retry.Stop()
		l.Requeue(a.id, In)
	}
	l.paused = l.paused[:0]
}
