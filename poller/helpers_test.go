//go:build linux

package poller_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/pollertest"
	"golang.org/x/sys/unix"
)

// socketpair returns two connected nonblocking stream sockets. The test
// closes b; a is usually handed to a loop, which then owns it.
func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// startLoop and on are pollertest's Start and On, under the names these
// tests use.
var (
	startLoop = pollertest.Start
	on        = pollertest.On
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
}

// settle waits, with a generous bound, until cond holds.
func settle(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("hang guard: %s: not reached within 10s", what)
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}
