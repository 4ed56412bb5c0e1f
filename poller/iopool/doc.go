// Package iopool runs blocking work off an event loop: a small, fixed set of
// goroutines, each locked to its own OS thread, takes work from one bounded
// queue and hands each completion back to the loop that asked, through that
// loop's wakeup queue ([poller.Loop.Submit]). It knows nothing of HTTP or of
// files; epfs uses it to read cold file ranges into the page cache.
//
// # Why
//
// Regular files ignore O_NONBLOCK (open(2): "no effect for regular files"),
// so a read that misses the page cache blocks the thread that makes it
// until the disk answers. On an event loop that thread serves every
// connection the loop owns. The pool is where such calls go instead: the
// loop parks the connection, the pool blocks, the loop serves the others.
//
// # The contract
//
//   - Bounded. The pool has Threads goroutines, fixed at New, and a queue of
//     Queue entries. [Pool.Submit] never blocks and never starts a goroutine:
//     when the queue is full it returns false and the caller decides what to
//     do (epfs waits on a timer and tries again).
//   - Two functions per task. run executes on a pool thread with that
//     thread's [Thread]: its own [syscount.Counters] (the single-writer rule:
//     one goroutine writes them) and its own buffer, reused by every task the
//     thread runs, so a task allocates no buffer of its own. done then runs
//     on the loop's goroutine, after run has returned; whatever run wrote is
//     visible to done (the loop's queue is guarded by a mutex).
//   - Every task completes. If the loop has stopped when run returns, Submit
//     to it fails; the pool then waits for the loop's Done and calls done on
//     the pool thread, which is safe because the loop's goroutine has
//     finished. So done always runs exactly once and may release what the
//     task held.
//   - Order. Tasks start in submission order; with more than one thread they
//     may finish in any order.
//   - Close stops accepting, lets the threads finish every queued task
//     (including the done calls), and waits for them.
//
// Which goroutine may call what: Submit, Len, Close, Counters and ThreadID
// are safe from any goroutine. Allocation: Submit allocates nothing; pass
// run and done as function values made once (a method value made per call
// allocates).
package iopool
