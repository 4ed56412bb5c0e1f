//go:build linux

package poller

import (
	"time"

	"github.com/epfs/epfs/poller/syscount"
)

// A TimerQueue holds the armed timers of one duration, in arming order. Since
// every timer in it waits the same duration, arming order is deadline order:
// arming appends at the tail, re-arming moves a timer to the tail, cancelling
// unlinks it, and the head is always the next to expire. All three are O(1),
// which is what lets a server re-arm an idle or write-stall timer on every
// request. A loop has one queue per distinct duration (a handful), and fires
// across them in deadline order.
//
// Resolution is coarse: the loop's epoll_wait timeout is in milliseconds and
// rounded up, so a timer fires at or after its deadline, typically within a
// millisecond or two of it, later when the loop is busy.
type TimerQueue struct {
	loop       *Loop
	d          int64 // the queue's duration in nanoseconds
	head, tail *Timer
}

// Timer is one deadline, meant to be embedded in the state it guards (a
// connection), so that arming allocates nothing. Its zero value is unarmed;
// set Func before arming. A Timer belongs to one loop and is touched only on
// that loop's goroutine.
type Timer struct {
	// Func runs on the loop's goroutine when the timer expires. The timer is
	// already unarmed when it runs, so Func may re-arm it.
	Func func()

	q          *TimerQueue
	prev, next *Timer
	when       int64 // deadline on the loop's clock, in nanoseconds
}

// NewTimerQueue returns the loop's queue for duration d, creating it on first
// use. d must be positive.
func (l *Loop) NewTimerQueue(d time.Duration) *TimerQueue {
	if d <= 0 {
		panic("poller: NewTimerQueue with a non-positive duration")
	}
	for _, q := range l.timers {
		if q.d == int64(d) {
			return q
		}
	}
	q := &TimerQueue{loop: l, d: int64(d)}
	l.timers = append(l.timers, q)
	return q
}

// Duration returns the queue's duration.
func (q *TimerQueue) Duration() time.Duration { return time.Duration(q.d) }

// Arm sets t to expire the queue's duration from now, moving it from any
// queue it was armed on. The deadline is taken from a fresh clock reading, so
// a timer never fires before its full duration has passed.
func (q *TimerQueue) Arm(t *Timer) {
	t.Stop()
	t.when = q.loop.now() + q.d
	t.q = q
	t.prev = q.tail
	if q.tail != nil {
		q.tail.next = t
	} else {
		q.head = t
	}
	q.tail = t
}

// Stop disarms t. Stopping an unarmed timer does nothing.
func (t *Timer) Stop() {
	q := t.q
	if q == nil {
		return
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		q.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		q.tail = t.prev
	}
	t.q, t.prev, t.next = nil, nil, nil
}

// Armed reports whether t is waiting to fire.
func (t *Timer) Armed() bool { return t.q != nil }

// Deadline returns how long until t fires, or 0 when it is not armed.
//
// Deprecated: nothing in epfs reads it; Armed says whether a timer is
// waiting. It will be removed before v1.
func (t *Timer) Deadline() time.Duration {
	if t.q == nil {
		return 0
	}
	return time.Duration(t.when - t.q.loop.now())
}

// runTimers fires every expired timer, earliest deadline first across all
// queues.
func (l *Loop) runTimers() {
	if len(l.timers) == 0 {
		return
	}
	now := l.now()
	for {
		var first *Timer
		for _, q := range l.timers {
			if h := q.head; h != nil && h.when <= now && (first == nil || h.when < first.when) {
				first = h
			}
		}
		if first == nil {
			return
		}
		first.Stop()
		l.sc.Add(syscount.TimersFired, 1)
		if first.Func != nil {
			first.Func()
		}
	}
}
