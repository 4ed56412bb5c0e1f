// Package boundq is the bounded queue in front of epfs's thread pools (the
// I/O pool's reads, the compression pool's jobs): a sender never blocks,
// a closed queue refuses, and the threads drain what was queued before the
// close.
//
// A sender that cannot wait is an event loop: it must go back to epoll_wait
// whatever the pool's state, so Offer reports a full or closed queue
// instead of blocking, and the loop falls back (reads inline, serves
// identity, retries on a timer). A channel alone cannot give that answer
// safely after a close: a send on a closed channel panics, and checking a
// flag first races with the close. The read lock taken by Offer and the
// write lock taken by Close make "closed" and "sent" exclusive, and
// several loops may offer at once without serialising on each other.
package boundq

import "sync"

// Queue holds at most its capacity of values for the threads that range
// over C. Offer and Close are safe for concurrent use.
type Queue[T any] struct {
	ch     chan T
	mu     sync.RWMutex // guards closed against a send on the closed channel
	closed bool
}

// New returns an open queue of capacity n (at least 1).
func New[T any](n int) *Queue[T] {
	return &Queue[T]{ch: make(chan T, max(n, 1))}
}

// Offer queues v and reports true, or reports false and queues nothing
// when the queue is full or closed. It never blocks.
func (q *Queue[T]) Offer(v T) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	select {
	case q.ch <- v:
		return true
	default:
		return false
	}
}

// C is what the pool's threads range over: it yields every value offered
// before Close, then ends.
func (q *Queue[T]) C() <-chan T { return q.ch }

// Close refuses every later Offer and lets the ranges over C end once they
// have drained what is queued. It may be called more than once.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
}

// Len returns the number of values waiting for a thread.
func (q *Queue[T]) Len() int { return len(q.ch) }

// Cap returns the queue's capacity.
func (q *Queue[T]) Cap() int { return cap(q.ch) }
