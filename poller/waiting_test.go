//go:build linux

package poller_test

import (
	"sync/atomic"
	"testing"

	"github.com/epfs/epfs/poller"
	"golang.org/x/sys/unix"
)

// Waiting tells a handler whether anything else waits in the pass: two
// descriptors made readable before they are registered come in one
// epoll_wait batch, so the first handler called sees the other's event
// waiting and the second sees nothing; a handler requeued by another is
// waiting until it has run.
func TestWaiting(t *testing.T) {
	l := startLoop(t)
	a1, b1 := socketpair(t)
	a2, b2 := socketpair(t)
	for _, b := range []int{b1, b2} {
		if _, err := unix.Write(b, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var calls, sawWaiting atomic.Int32
	var requeuedSaw atomic.Int32 // 1: Waiting was true after Requeue of the other; 2: false
	var ids [2]poller.ID
	h := func(i int) poller.HandlerFunc {
		return func(ev poller.Events) {
			if ev&poller.In == 0 {
				return
			}
			switch calls.Add(1) {
			case 1:
				if l.Waiting() {
					sawWaiting.Add(1)
				}
			case 2:
				if l.Waiting() {
					sawWaiting.Add(1)
				}
				// Requeue the other: it waits now.
				l.Requeue(ids[1-i], poller.In)
				if l.Waiting() {
					requeuedSaw.Store(1)
				} else {
					requeuedSaw.Store(2)
				}
			}
		}
	}
	on(t, l, func() {
		var err error
		if ids[0], err = l.Add(a1, h(0)); err != nil {
			t.Error(err)
		}
		if ids[1], err = l.Add(a2, h(1)); err != nil {
			t.Error(err)
		}
	})
	settle(t, "both handlers and the requeued one ran", func() bool { return calls.Load() >= 3 })
	if got := sawWaiting.Load(); got != 1 {
		t.Errorf("%d of the two handlers of one batch saw other work waiting, want 1 (the first)", got)
	}
	if requeuedSaw.Load() != 1 {
		t.Errorf("after Requeue of another handler, Waiting was false")
	}
	var alone bool
	on(t, l, func() { alone = l.Waiting() })
	if alone {
		// on runs from the wakeup: its own event was the batch's last,
		// and its wakeup flag is already cleared.
		t.Errorf("Waiting with nothing pending")
	}
}
