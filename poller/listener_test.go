//go:build linux

package poller_test

import (
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// acceptInto runs fn on each accepted descriptor and then closes it.
func acceptInto(t *testing.T, l *poller.Loop, ln *poller.Listener, fn func(fd int)) {
	t.Helper()
	on(t, l, func() {
		if _, err := l.Accept(ln, func(fd int) {
			fn(fd)
			unix.Close(fd)
		}); err != nil {
			t.Error(err)
		}
	})
}

// listenLoopback returns a TCP listener on a free loopback port, closed
// when the test ends.
func listenLoopback(t *testing.T) *poller.Listener {
	t.Helper()
	ln, err := poller.Listen("127.0.0.1:0", poller.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// countAccepts registers an acceptor for ln on l that counts each
// connection in n and closes it, and returns the acceptor's ID.
func countAccepts(t *testing.T, l *poller.Loop, ln *poller.Listener, n *atomic.Int64) poller.ID {
	t.Helper()
	var id poller.ID
	var err error
	on(t, l, func() { id, err = l.Accept(ln, func(fd int) { n.Add(1); unix.Close(fd) }) })
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TCP_NODELAY is set once on the listener and inherited by accepted sockets.
func TestAcceptedSocketsInheritNoDelay(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln, err := poller.Listen(addr, poller.ListenConfig{})
			if err != nil {
				if strings.Contains(addr, "::1") {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			defer ln.Close()
			l := startLoop(t)
			nodelay := make(chan int, 1)
			acceptInto(t, l, ln, func(fd int) {
				v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
				if err != nil {
					t.Error(err)
				}
				fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
				if fl&unix.O_NONBLOCK == 0 {
					t.Error("accepted socket is blocking")
				}
				nodelay <- v
			})
			c, err := net.Dial("tcp", ln.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			select {
			case v := <-nodelay:
				if v == 0 {
					t.Fatal("accepted socket does not have TCP_NODELAY")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("hang guard: no connection accepted")
			}
			if got := l.Counters().Total(syscount.Setsockopt); got != 0 {
				t.Fatalf("%d setsockopt calls on the serving path, want 0", got)
			}
		})
	}
}

// Several loops with SO_REUSEPORT siblings on one port (port 0 asked): all
// bind the same real port and connections land on more than one loop.
func TestReusePortSpreadsAcrossLoops(t *testing.T) {
	first, err := poller.Listen("127.0.0.1:0", poller.ListenConfig{ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	lns := []*poller.Listener{first}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	const loops = 4
	var counts [loops]atomic.Int64
	for i := range loops {
		ln := first
		if i > 0 {
			if ln, err = first.Sibling(); err != nil {
				t.Fatal(err)
			}
			lns = append(lns, ln)
			if ln.Addr() != first.Addr() {
				t.Fatalf("sibling on %s, first on %s", ln.Addr(), first.Addr())
			}
		}
		l := startLoop(t)
		acceptInto(t, l, ln, func(int) { counts[i].Add(1) })
	}
	const conns = 200
	for range conns {
		c, err := net.Dial("tcp", first.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	total := func() int64 {
		var n int64
		for i := range counts {
			n += counts[i].Load()
		}
		return n
	}
	settle(t, "all connections accepted", func() bool { return total() == conns })
	used := 0
	for i := range counts {
		if counts[i].Load() > 0 {
			used++
		}
		t.Logf("loop %d accepted %d", i, counts[i].Load())
	}
	if used < 2 {
		t.Fatalf("connections landed on %d loop(s), want more than one", used)
	}
}

// A Unix socket is one listener shared by several loops (EPOLLEXCLUSIVE):
// every connection is accepted exactly once.
func TestSharedUnixListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := poller.Listen("unix:"+path, poller.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !ln.Shared() || ln.Network() != "unix" || ln.Addr() != "unix:"+path {
		t.Fatalf("listener: shared=%v network=%s addr=%s", ln.Shared(), ln.Network(), ln.Addr())
	}
	const loops = 3
	var counts [loops]atomic.Int64
	for i := range loops {
		l := startLoop(t)
		acceptInto(t, l, ln, func(int) { counts[i].Add(1) })
	}
	const conns = 300
	for range conns {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	var total int64
	settle(t, "all accepted", func() bool {
		total = 0
		for i := range counts {
			total += counts[i].Load()
		}
		return total >= conns
	})
	if total != conns {
		t.Fatalf("accepted %d, want exactly %d", total, conns)
	}
	for i := range counts {
		t.Logf("loop %d accepted %d", i, counts[i].Load())
	}
	// A second Listen on a live path fails; on a stale one it succeeds.
	if _, err := poller.Listen("unix:"+path, poller.ListenConfig{}); err == nil {
		t.Fatal("second listener on a live socket path succeeded")
	}
}

func TestStaleUnixSocketIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // bound, never listened: connections are refused
	ln, err := poller.Listen("unix:"+path, poller.ListenConfig{})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
}

// A descriptor handed in from outside must be a listening stream socket.
func TestFileListener(t *testing.T) {
	a, _ := socketpair(t)
	defer unix.Close(a)
	if _, err := poller.FileListener(a); err == nil || !strings.Contains(err.Error(), "not a listening stream socket") {
		t.Fatalf("socketpair end accepted as a listener: %v", err)
	}
	ln, err := poller.Listen("127.0.0.1:0", poller.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(ln.Fd())
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	fl, err := poller.FileListener(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	if !fl.Shared() || fl.Network() != "tcp" || !strings.HasPrefix(fl.Addr(), "127.0.0.1:") {
		t.Fatalf("file listener: shared=%v network=%s addr=%s", fl.Shared(), fl.Network(), fl.Addr())
	}
}

func TestListenErrors(t *testing.T) {
	ln := listenLoopback(t)
	for _, tc := range []struct{ addr, want string }{
		{ln.Addr(), "address already in use"},
		{"127.0.0.1", "missing port"},
		{"127.0.0.1:99999", "bad port"},
		{"unix:", "empty socket path"},
		{"no.such.host.invalid:80", "cannot resolve"},
	} {
		_, err := poller.Listen(tc.addr, poller.ListenConfig{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Listen(%q) = %v, want an error containing %q", tc.addr, err, tc.want)
		}
	}
	// Every address: a dual-stack socket reachable over IPv4.
	all, err := poller.Listen(":0", poller.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	_, port, _ := net.SplitHostPort(all.Addr())
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("dual-stack listener %s not reachable over IPv4: %v", all.Addr(), err)
	}
	c.Close()
}

// Remove on an acceptor's ID stops accepting on that loop and leaves the
// listener open: connections wait in its queue for another acceptor.
func TestRemoveAcceptorStopsAccepting(t *testing.T) {
	ln := listenLoopback(t)
	l := startLoop(t)
	var accepted atomic.Int64
	id := countAccepts(t, l, ln, &accepted)
	c, _ := net.Dial("tcp", ln.Addr())
	c.Close()
	settle(t, "first accepted", func() bool { return accepted.Load() == 1 })
	on(t, l, func() {
		if err := l.Remove(id); err != nil {
			t.Error(err)
		}
	})
	c2, err := net.Dial("tcp", ln.Addr()) // completes in the kernel's queue
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for range 3 {
		on(t, l, func() {}) // several loop passes
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 1 {
		t.Fatalf("accepted %d after Remove, want 1", n)
	}
	// The listener is still open: a new loop accepts the queued connection.
	l2 := startLoop(t)
	countAccepts(t, l2, ln, &accepted)
	settle(t, "queued connection accepted by another loop", func() bool { return accepted.Load() == 2 })
}

// StopAccepting with drain serves what already waits in the queue before
// the acceptor leaves, so closing the socket afterwards resets nothing that
// had been queued.
func TestStopAcceptingDrainsQueue(t *testing.T) {
	ln := listenLoopback(t)
	l := startLoop(t)
	var accepted atomic.Int64
	// Register, then keep the loop busy so that the queue fills unseen.
	block := make(chan struct{})
	id := countAccepts(t, l, ln, &accepted)
	if err := l.Submit(func() { <-block }); err != nil {
		t.Fatal(err)
	}
	const queued = 150 // more than one accept batch
	for range queued {
		c, err := net.Dial("tcp", ln.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	var stopErr error
	done := make(chan struct{})
	if err := l.Submit(func() { stopErr = l.StopAccepting(id, true); close(done) }); err != nil {
		t.Fatal(err)
	}
	close(block)
	<-done
	if stopErr != nil {
		t.Fatal(stopErr)
	}
	// Everything queued was accepted before the acceptor left, whether the
	// stop ran before or after the pending edge in the same pass.
	if n := accepted.Load(); n != queued {
		t.Fatalf("accepted %d of %d queued connections", n, queued)
	}
	if err := l.Remove(id); err == nil {
		t.Error("acceptor still registered after StopAccepting")
	}
}

// Accepting and stopping, over and over, leaves nothing behind on the loop:
// an acceptor is reachable only while it is registered (or paused on
// EMFILE), so the heap after many cycles holds no more than before.
func TestAcceptStopLeavesNothing(t *testing.T) {
	ln := listenLoopback(t)
	l := startLoop(t)
	cycle := func(n int) {
		on(t, l, func() {
			for range n {
				id, err := l.Accept(ln, func(fd int) { unix.Close(fd) })
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.StopAccepting(id, true); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	cycle(100) // the loop's slices reach their working size
	before := live()
	const n = 20000
	cycle(n)
	after := live()
	// An acceptor with its timer is about 150 bytes: kept per cycle, the
	// heap would grow by some 3 MB. Allow 8 bytes a cycle for noise.
	t.Logf("heap after %d accept/stop cycles: %d -> %d bytes", n, before, after)
	if after > before+8*n {
		t.Errorf("heap grew from %d to %d bytes over %d accept/stop cycles: something keeps each acceptor", before, after, n)
	}
}
