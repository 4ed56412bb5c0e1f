// Package lifo is a bounded last-in-first-out free list, the one pool type
// epfs's per-loop free lists share (read buffers and connection structs in
// the server, header slabs and pipes in transmit).
//
// A free list here belongs to one goroutine (an event loop), so it takes no
// lock and is not safe for concurrent use: that is why it is a slice and not
// a sync.Pool, whose per-P caches and collection-time clearing buy nothing
// for a value that never leaves its loop and would make reuse depend on
// the garbage collector. Last in, first out, because the value put back last
// is the one most likely still in the CPU's caches.
//
// A Pool never allocates on Get or Put once its backing array has grown to
// its bound, never holds more than its bound, and knows no clock: a user
// that wants its peak handed back after a quiet spell (the server does, see
// its worker's onQuiet) calls Trim from its own timer.
package lifo

// Pool is a free list of at most Max values. The zero value holds nothing:
// set Max before use (Put refuses every value while Max is 0).
type Pool[T any] struct {
	// Max is the most values the pool keeps; Put refuses more.
	Max  int
	free []T
}

// Get takes the value put back last. ok is false when the pool is empty:
// the caller makes a new value.
func (p *Pool[T]) Get() (v T, ok bool) {
	n := len(p.free)
	if n == 0 {
		return v, false
	}
	v = p.free[n-1]
	var zero T
	p.free[n-1] = zero // the slot must not keep v reachable once v is out
	p.free = p.free[:n-1]
	return v, true
}

// Put keeps v for a later Get. It reports false, keeping nothing, when the
// pool already holds Max values: the caller lets v go (to the garbage
// collector, or closes what v holds).
func (p *Pool[T]) Put(v T) bool {
	if len(p.free) >= p.Max {
		return false
	}
	p.free = append(p.free, v)
	return true
}

// Len reports how many values the pool holds now.
func (p *Pool[T]) Len() int { return len(p.free) }

// Trim lets go of the values beyond the keep put back first, newest first,
// calling drop (if not nil) with each. The backing array stays (a slot
// each), so the pool refills to its peak without allocating again.
func (p *Pool[T]) Trim(keep int, drop func(T)) {
	var zero T
	for n := len(p.free); n > max(keep, 0); n-- {
		if drop != nil {
			drop(p.free[n-1])
		}
		p.free[n-1] = zero
		p.free = p.free[:n-1]
	}
}
