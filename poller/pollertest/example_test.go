//go:build linux

package pollertest_test

import (
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/pollertest"
)

// A test arms a timer on the loop's goroutine and waits for it to fire.
// (Start needs the test's testing.TB, so this example is compiled, and run
// as TestStartOn below, rather than run as an example.)
func Example() {
	_ = func(t *testing.T) {
		l := pollertest.Start(t)
		fired := make(chan struct{})
		pollertest.On(t, l, func() {
			tm := &poller.Timer{Func: func() { close(fired) }}
			l.NewTimerQueue(10 * time.Millisecond).Arm(tm)
		})
		<-fired
	}
}

func TestStartOn(t *testing.T) {
	var l *poller.Loop
	t.Run("loop", func(t *testing.T) {
		l = pollertest.Start(t)
		fired := make(chan struct{})
		pollertest.On(t, l, func() {
			tm := &poller.Timer{Func: func() { close(fired) }}
			l.NewTimerQueue(10 * time.Millisecond).Arm(tm)
		})
		select {
		case <-fired:
		case <-time.After(10 * time.Second):
			t.Fatal("hang guard: timer armed through On never fired")
		}
	})
	// Start's cleanup stopped the loop when the subtest ended.
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("hang guard: loop still running after its test ended")
	}
}
