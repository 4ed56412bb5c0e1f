//go:build linux

package poller_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
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

// startLoop runs a new loop and stops it at the end of the test.
func startLoop(t *testing.T) *poller.Loop {
	t.Helper()
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("loop did not stop within 10s")
		}
	})
	return l
}

// on runs fn on the loop's goroutine and waits for it.
func on(t *testing.T, l *poller.Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Submit(func() { fn(); close(done) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("submitted function did not run within 10s")
	}
}

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
			t.Fatalf("%s: not reached within 10s", what)
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}
