//go:build linux

package poller_test

import (
	"testing"

	"github.com/epfs/epfs/poller"
	"golang.org/x/sys/unix"
)

// ThreadID names the thread the loop's handlers run on, so a per-thread
// kernel tool pointed at it sees exactly the loop's syscalls.
func TestThreadID(t *testing.T) {
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.ThreadID(); got != 0 {
		t.Fatalf("before Run: ThreadID %d, want 0", got)
	}
	l.Stop()
	l = startLoop(t)
	for range 3 {
		var tid int
		on(t, l, func() { tid = unix.Gettid() })
		if got := l.ThreadID(); got != tid {
			t.Errorf("ThreadID %d, but handlers run on thread %d", got, tid)
		}
	}
	if l.ThreadID() == unix.Gettid() {
		t.Error("the loop reports the test's own thread")
	}
}
