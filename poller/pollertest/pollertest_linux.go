//go:build linux

package pollertest

import (
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
)

// Start creates a loop, runs it on its own goroutine, and stops it when the
// test ends, failing the test if Run returns an error or the loop does not
// stop within 10 s.
func Start(t testing.TB) *poller.Loop {
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

// On runs fn on l's goroutine and waits for it to return (at most 20 s).
func On(t testing.TB, l *poller.Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Submit(func() { fn(); close(done) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("submitted function did not run within 20s")
	}
}
