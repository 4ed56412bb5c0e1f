//go:build linux

package poller_test

import (
	"sync"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
)

// Timers on several queues fire no earlier than their deadlines, in deadline
// order across queues; cancelled timers never fire; re-arming moves a timer's
// deadline.
func TestTimers(t *testing.T) {
	l := startLoop(t)
	type firing struct {
		name     string
		deadline time.Time
		at       time.Time
	}
	var mu sync.Mutex
	var fired []firing
	done := make(chan struct{})
	durations := []time.Duration{40 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 70 * time.Millisecond}
	timers := make([]*poller.Timer, 0, 16)
	var cancelled, rearmed *poller.Timer
	on(t, l, func() {
		for i, d := range durations {
			q := l.NewTimerQueue(d)
			for j := range 3 {
				name := string(rune('a'+i)) + string(rune('0'+j))
				deadline := time.Now().Add(d)
				tm := &poller.Timer{}
				tm.Func = func() {
					mu.Lock()
					fired = append(fired, firing{name, deadline, time.Now()})
					n := len(fired)
					mu.Unlock()
					if n == len(durations)*3-1 { // all but the cancelled one
						close(done)
					}
				}
				q.Arm(tm)
				timers = append(timers, tm)
			}
		}
		cancelled = timers[1] // a1 (40ms)
		cancelled.Stop()
		if cancelled.Armed() {
			t.Error("stopped timer still armed")
		}
		// Re-arm d0 (10ms) onto the 70ms queue: it must fire last-ish, after
		// its new deadline.
		rearmed = timers[3]
		q70 := l.NewTimerQueue(70 * time.Millisecond)
		if q70.Duration() != 70*time.Millisecond {
			t.Error("queue duration")
		}
		q70.Arm(rearmed)
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("hang guard: timers did not fire within 10s")
	}
	// Give a cancelled timer every chance to misfire.
	time.Sleep(100 * time.Millisecond)
	on(t, l, func() {})
	mu.Lock()
	defer mu.Unlock()
	if len(fired) != len(durations)*3-1 {
		t.Fatalf("%d timers fired, want %d", len(fired), len(durations)*3-1)
	}
	for i, f := range fired {
		if f.name == "a1" {
			t.Errorf("cancelled timer fired")
		}
		if f.at.Before(f.deadline) {
			t.Errorf("timer %s fired %v before its deadline", f.name, f.deadline.Sub(f.at))
		}
		if i > 0 && f.deadline.Before(fired[i-1].deadline) && f.name != "b0" && fired[i-1].name != "b0" {
			t.Errorf("timer %s (deadline %v) fired after %s (deadline %v)", f.name, f.deadline, fired[i-1].name, fired[i-1].deadline)
		}
	}
	// b0 was re-armed from 10ms to 70ms: it fires with the 70ms group.
	for i, f := range fired {
		if f.name == "b0" && i < len(fired)-4 {
			t.Errorf("re-armed timer fired at position %d of %d: re-arm did not move it", i, len(fired))
		}
	}
	if got := l.Counters().Tally(syscount.TimersFired); got < uint64(len(fired)) {
		t.Errorf("timers fired tally %d", got)
	}
}

// A timer function may re-arm its own timer: a periodic tick.
func TestTimerRearmFromFunc(t *testing.T) {
	l := startLoop(t)
	ticks := make(chan time.Time, 10)
	on(t, l, func() {
		q := l.NewTimerQueue(5 * time.Millisecond)
		tm := &poller.Timer{}
		n := 0
		tm.Func = func() {
			ticks <- time.Now()
			if n++; n < 5 {
				q.Arm(tm)
			}
		}
		q.Arm(tm)
	})
	var last time.Time
	for i := range 5 {
		select {
		case at := <-ticks:
			if i > 0 && at.Sub(last) < 5*time.Millisecond {
				t.Fatalf("tick %d came %v after the previous one, before the 5ms duration", i, at.Sub(last))
			}
			last = at
		case <-time.After(10 * time.Second):
			t.Fatalf("hang guard: tick %d missing", i)
		}
	}
}
