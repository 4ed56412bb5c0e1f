// Package poller is a small edge-triggered epoll event loop for Linux, the
// engine under epfs and a library of its own for anyone who wants to watch
// epoll at work. It knows nothing of HTTP.
//
// # The pieces
//
//   - [Loop]: one epoll instance, driven by one goroutine locked to its OS
//     thread. Descriptors are registered once ([Loop.Add]) for
//     EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET with a [Handler]; the loop calls the
//     handler with the [Events] epoll reported.
//   - [Loop.Submit]: hands a function to the loop from any goroutine, through
//     an eventfd registered with the loop. [Loop.Stop] uses the same wakeup:
//     the loop never polls with a timeout just to notice shutdown.
//   - [TimerQueue] and [Timer]: coarse deadlines (millisecond resolution)
//     with O(1) arm, re-arm and cancel, driven by the epoll_wait timeout.
//     [Loop.BatchNow] is the clock as read once per pass, for measuring
//     without a clock read per event.
//   - [Listener] and [Loop.Accept]: nonblocking TCP (IPv4, IPv6) and Unix
//     listening sockets, accepted with accept4(SOCK_NONBLOCK|SOCK_CLOEXEC)
//     until EAGAIN. TCP listeners can have SO_REUSEPORT siblings, one per
//     loop ([Listener.Sibling]); a Unix socket, or one handed in from outside,
//     is one socket shared by every loop with EPOLLEXCLUSIVE.
//   - [github.com/epfs/epfs/poller/syscount]: every syscall the loop makes
//     goes through its wrappers and is counted per loop by syscall and
//     outcome; a trace hook can report each one.
//
// # The contract
//
// Who does what, under edge triggering:
//
//   - The kernel reports a transition (an edge), not a level. After the loop
//     calls a handler with Readable, it will not do so again for the same
//     descriptor until new data arrives. So the handler reads until read
//     returns EAGAIN, or returns fewer bytes than asked (a short read on a
//     stream socket means its receive queue is empty now, and the next arrival
//     raises a new edge). Exception: when the event carries PeerClosed
//     (EPOLLRDHUP or EPOLLHUP), no edge follows the end of stream, so the
//     handler must read on until EOF (0) or EAGAIN, not stop at a short read.
//   - Likewise, after Writable the handler writes until it is done or write
//     returns EAGAIN; a short write is not "would block". After EAGAIN the
//     next Writable arrives when the socket's send buffer has room again.
//   - A handler that stops early on purpose (it spent a fairness budget, or
//     it stopped reading while its output drains) must call [Loop.Requeue] to
//     be called again; the loop will not invent an edge for it. A handler
//     that stops early and does not requeue is not told again until new data
//     arrives: that is edge triggering, not a bug in the loop. Before it
//     stops, it may ask [Loop.Waiting] whether anything else waits in this
//     pass (events of the batch not yet dispatched, requeued handlers,
//     submitted functions); if nothing does, it may go on at once, a
//     bounded number of times, instead of paying another epoll_wait.
//   - Spurious events are possible (an EPOLLOUT when there is nothing to
//     write, an EPOLLIN consumed by an earlier read): a handler must treat
//     Readable and Writable as hints, and EAGAIN as the truth.
//   - Registration happens once. Handlers remember readiness themselves, so
//     no epoll_ctl call is made per request; [syscount.EpollCtl] counts prove it.
//   - [Loop.Close] ends a registration and closes the descriptor; no event
//     reaches the handler after Close returns, even one already fetched in the
//     current batch. Each epoll token carries a slot index and a generation,
//     never a Go pointer or a bare descriptor number, so an event for a
//     descriptor that was closed and whose number was reused by an accept in
//     the same batch is recognised as stale and dropped (and counted).
//
// Which goroutine may call what:
//
//   - Handlers, timer functions and submitted functions all run on the loop's
//     goroutine, one at a time. Add, Close, Remove, Requeue, Waiting,
//     BatchNow, Accept, NewTimerQueue, and the Timer methods must be called
//     there too (or before Run starts): the loop's tables have no locks.
//   - Submit, Stop, Done, Counters and WakeWrites are safe from any goroutine.
//   - Counters are written only by the loop (an atomic load and store, no
//     lock prefix) and may be read by anyone at any time.
//
// # Waiting
//
// Each pass begins with epoll_wait and a zero timeout, which cannot sleep and
// is made without the Go scheduler's syscall path, so a busy loop keeps its P
// from one batch to the next. Only when that poll returns nothing and no
// handler is requeued does the loop make the blocking wait (until the next
// timer, or without limit when none is armed), through the scheduler, which
// then lends the P to other goroutines. An idle loop with no timer armed
// sleeps in that one call until something happens: no tick of its own. The
// sleeps are counted ([syscount.Sleeps]); with the poll before each, a loop
// that sleeps after every batch makes two epoll_wait calls per wakeup.
//
// # Stopping
//
// Stop wakes the loop; Run finishes its current pass, runs any function that
// Submit had accepted, calls OnStop on handlers that implement
// [StopHandler], closes every descriptor the loop owns (those given to Add,
// its eventfd and its epoll descriptor), closes Done, and returns. Listeners
// are not owned by a loop, because several loops may share one: close them
// after the loops stop.
//
// # Descriptor exhaustion
//
// When accept4 fails with EMFILE or ENFILE the listening socket stays
// readable, but under edge triggering no new edge comes for connections
// already queued, and retrying at once would spin. The acceptor pauses, counts
// the pause ([syscount.AcceptPauses], and the accept4 EMFILE/ENFILE
// outcomes), and resumes when the loop next closes a registered descriptor or
// after 100 ms, whichever is first. The loop keeps its paused acceptors in
// one list: Close resumes them all (each is requeued for the next pass),
// and an acceptor leaves the list when it resumes or is removed, so nothing
// of it outlives its registration.
//
// # Spreading connections over loops
//
// For TCP each loop owns a SO_REUSEPORT listener and the kernel hashes
// connections across them. For a single shared socket (Unix, or handed in)
// every loop registers it with EPOLLEXCLUSIVE, which wakes one waiting loop
// per connection instead of all of them; the loop then drains the queue in
// batches of 64, requeueing itself, so a busy loop leaves connections for the
// others.
//
// The alternative — one loop accepts and hands each connection to the next
// loop through its Submit queue — was measured against it
// (BenchmarkSharedListenerSpread: 2 loops, 32 clients making short
// connections on a Unix socket, 3 runs each): handoff spreads connections
// exactly evenly (busiest loop 1.00× its fair share) where EPOLLEXCLUSIVE
// gives the busiest loop 1.07–1.29× its share, at the same rate within the
// noise (29–37 k against 31–37 k connections/s). The imbalance is mild and
// self-correcting (a busy loop is not waiting, so the kernel wakes another),
// while handoff costs an eventfd wakeup per connection and makes one loop
// the accept bottleneck; poller keeps EPOLLEXCLUSIVE.
package poller
