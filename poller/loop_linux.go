//go:build linux

package poller

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Handler receives the readiness of one registered descriptor. Handle runs on
// the loop's goroutine, one call at a time; it must not block, and under edge
// triggering it owns the duty to drain (see the package documentation).
type Handler interface {
	Handle(ev Events)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ev Events)

// Handle calls f(ev).
func (f HandlerFunc) Handle(ev Events) { f(ev) }

// StopHandler is implemented by handlers that want to hear that their loop
// is stopping while they are still registered. OnStop runs on the loop's
// goroutine just before the loop closes the descriptor.
type StopHandler interface {
	OnStop()
}

// ID names one registration in one loop: a slot index and the generation of
// that slot. A slot is reused after its registration ends, with its
// generation bumped, so an ID (and the epoll token made from it) of an ended
// registration never matches the new one.
type ID uint64

func makeID(idx int32, gen uint32) ID { return ID(uint64(gen)<<32 | uint64(uint32(idx))) }
func (id ID) index() int32            { return int32(uint32(id)) }
func (id ID) gen() uint32             { return uint32(id >> 32) }

// ErrStopped is returned by calls made on a loop that has stopped or is
// stopping.
var ErrStopped = errors.New("poller: loop stopped")

// errUnknownID is returned for an ID that names no live registration.
var errUnknownID = errors.New("poller: no such registration")

// wakeIndex is the slot index carried by the eventfd's epoll token; it never
// names a real slot.
const wakeIndex = -1

// slot is one entry of the registration table.
type slot struct {
	h     Handler
	fd    int32
	gen   uint32 // bumped every time the slot is freed: stale tokens fail the check
	live  bool   // a registration occupies the slot
	owned bool   // the loop closes fd when the registration ends or the loop stops
}

// Loop states, in the only order they move through.
const (
	stateNew      int32 = iota // created; Run not yet called
	stateRunning               // Run is dispatching events
	stateStopping              // Stop was called; Run finishes the current pass
	stateStopped               // descriptors closed; Run has returned
)

// Options configure a Loop.
type Options struct {
	// MaxEvents is the capacity of the epoll_wait batch (default 256).
	MaxEvents int
	// Counters receives the loop's syscall counts; nil makes a fresh one.
	Counters *syscount.Counters
}

// Loop is one epoll instance driven by one goroutine locked to its OS
// thread. Methods other than Submit, Stop, Done and Counters must be
// called on the loop's goroutine (from a Handler, a timer or a submitted
// function) or before Run starts.
type Loop struct {
	epfd   int
	wakefd int
	sc     *syscount.Counters
	events []unix.EpollEvent

	slots []slot
	free  []int32 // indices of free slots, reused last-in first-out

	ready, readyNext []readyItem // handlers to call again on the next pass

	// What is left of the pass being run, for Waiting: events[evNext:evEnd]
	// of the epoll_wait batch are not yet dispatched, and ready[rdNext:]
	// not yet called again.
	evNext, evEnd, rdNext int

	timers []*TimerQueue
	epoch  time.Time // the loop's clock counts nanoseconds since epoch
	batch  int64     // the loop's clock when the current pass's epoll_wait returned (see BatchNow)

	// paused are this loop's acceptors stopped by descriptor exhaustion
	// (EMFILE, ENFILE): Close resumes them, since it has just freed one.
	paused []*acceptor

	mu      sync.Mutex // guards queue
	queue   []func()   // submitted functions, run in order on the next pass
	running []func()   // the batch being run; swapped with queue to avoid allocating
	woken   atomic.Bool
	wakes   atomic.Uint64 // eventfd writes made by Submit and Stop, from any goroutine

	state atomic.Int32
	tid   atomic.Int32 // gettid(2) of the thread Run is locked to; 0 before Run
	done  chan struct{}
}

type readyItem struct {
	id ID
	ev Events
}

// New creates a loop: an epoll instance (EPOLL_CLOEXEC) and an eventfd for
// wakeups, registered once, edge-triggered.
func New(opts Options) (*Loop, error) {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 256
	}
	l := &Loop{
		sc:     opts.Counters,
		events: make([]unix.EpollEvent, opts.MaxEvents),
		epoch:  time.Now(),
		done:   make(chan struct{}),
	}
	if l.sc == nil {
		l.sc = new(syscount.Counters)
	}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		unix.Close(l.epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: wakeIndex}
	if err = l.sc.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		unix.Close(l.wakefd)
		unix.Close(l.epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// Counters returns the loop's syscall counters. Only the loop writes them;
// any goroutine may read them.
func (l *Loop) Counters() *syscount.Counters { return l.sc }

// WakeWrites returns how many eventfd writes other goroutines made to wake
// this loop. They are counted here, with an atomic add, because those
// writers are not the loop and may not touch its single-writer counters.
func (l *Loop) WakeWrites() uint64 { return l.wakes.Load() }

// ThreadID returns the kernel thread id (gettid(2)) of the OS thread Run
// is locked to, or 0 before Run has started. The Go runtime makes syscalls
// of its own on other threads (futex, madvise, its own epoll); the loop's
// thread makes only the loop's, so tools that watch the kernel per thread
// (perf stat -t, strace -p) can check the loop's counters against it. The
// value stays after Run returns, when the thread may run other goroutines.
func (l *Loop) ThreadID() int { return int(l.tid.Load()) }

// Done is closed once Run has returned and every descriptor the loop owned
// is closed.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Add registers fd with handler h, once, for EPOLLIN|EPOLLOUT|EPOLLRDHUP in
// edge-triggered mode, and hands fd to the loop: the loop closes it when the
// registration ends through Close or when the loop stops. Readiness is then
// remembered by the handler, so no epoll_ctl is needed per request.
func (l *Loop) Add(fd int, h Handler) (ID, error) {
	return l.register(fd, h, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP|unix.EPOLLET, true)
}

func (l *Loop) register(fd int, h Handler, events uint32, owned bool) (ID, error) {
	if l.state.Load() >= stateStopping {
		return 0, ErrStopped
	}
	var idx int32
	if n := len(l.free); n > 0 {
		idx = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		idx = int32(len(l.slots))
		l.slots = append(l.slots, slot{})
	}
	s := &l.slots[idx]
	ev := unix.EpollEvent{Events: events, Fd: idx, Pad: int32(s.gen)}
	if err := l.sc.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.free = append(l.free, idx)
		return 0, os.NewSyscallError("epoll_ctl", err)
	}
	s.h, s.fd, s.live, s.owned = h, int32(fd), true, owned
	return makeID(idx, s.gen), nil
}

func (l *Loop) lookup(id ID) *slot {
	idx := id.index()
	if idx < 0 || int(idx) >= len(l.slots) {
		return nil
	}
	s := &l.slots[idx]
	if !s.live || s.gen != id.gen() {
		return nil
	}
	return s
}

// release ends a registration: the slot's generation moves on, so any event
// for it still in this epoll_wait batch is recognised as stale and dropped.
func (l *Loop) release(s *slot, idx int32) {
	if a, ok := s.h.(*acceptor); ok {
		l.unpause(a) // removed while paused: neither its timer nor a Close may accept again
	}
	s.h, s.live, s.fd, s.owned = nil, false, -1, false
	s.gen++
	l.free = append(l.free, idx)
}

// end releases id's slot and returns the descriptor it held, for Close and
// Remove to dispose of.
func (l *Loop) end(id ID) (int, error) {
	s := l.lookup(id)
	if s == nil {
		return -1, errUnknownID
	}
	fd := int(s.fd)
	l.release(s, id.index())
	return fd, nil
}

// Close ends the registration and closes its descriptor. No event reaches the
// handler after Close returns, even one already fetched in the current batch.
//
// There is deliberately no EPOLL_CTL_DEL first: closing the last descriptor
// that refers to an open file description removes it from every epoll set,
// which saves one syscall per connection. If the descriptor was duplicated
// (dup, fork, SCM_RIGHTS) the description lives on and epoll may keep
// reporting it; those events carry the old generation and are dropped as
// stale. Use Remove for descriptors shared that way.
func (l *Loop) Close(id ID) error {
	fd, err := l.end(id)
	if err != nil {
		return err
	}
	err = l.sc.Close(fd)
	l.resumeAccepting()
	return err
}

// Remove deletes the registration from the epoll set (EPOLL_CTL_DEL) and
// hands the descriptor back to the caller, open.
func (l *Loop) Remove(id ID) error {
	fd, err := l.end(id)
	if err != nil {
		return err
	}
	if err := l.sc.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Requeue asks the loop to call id's handler again with ev on its next pass,
// without waiting for an edge. A handler uses it when it stops early on
// purpose (a fairness budget spent, a backpressure limit lifted): edge
// triggering will not report readiness it has already reported. While any
// handler is requeued, the loop polls with a zero timeout.
func (l *Loop) Requeue(id ID, ev Events) {
	l.readyNext = append(l.readyNext, readyItem{id, ev})
}

// Waiting reports whether other work waits for the loop while a handler
// runs: events of the current epoll_wait batch not yet handed to their
// handlers, handlers requeued (Requeue) and not yet called again, or
// functions submitted from other goroutines (a wakeup is pending). A
// handler that stopped early on purpose, a fairness budget spent with its
// descriptor still ready, may go on at once when it reports false instead
// of requeueing itself: nothing would run in between but another
// epoll_wait. Timers that fall due meanwhile are not counted: they run
// after the pass, later by as long as the handler goes on, so a handler
// that continues must bound how often it does. Call it only on the loop's
// goroutine; it makes no system call.
func (l *Loop) Waiting() bool {
	return l.evNext < l.evEnd || l.rdNext < len(l.ready) || len(l.readyNext) > 0 || l.woken.Load()
}

// Submit queues fn to run on the loop's goroutine and wakes the loop. It is
// safe from any goroutine, and functions run in the order submitted. Every
// function Submit accepted runs, even when Stop follows at once; after Stop
// it returns ErrStopped and fn never runs.
func (l *Loop) Submit(fn func()) error {
	l.mu.Lock()
	if l.state.Load() >= stateStopping {
		l.mu.Unlock()
		return ErrStopped
	}
	l.queue = append(l.queue, fn)
	l.mu.Unlock()
	l.wake()
	return nil
}

// wake writes the eventfd unless a wakeup is already pending: one write
// suffices for any number of submissions made before the loop drains it.
func (l *Loop) wake() {
	if !l.woken.CompareAndSwap(false, true) {
		return
	}
	var one = [8]byte{1}
	l.wakes.Add(1)
	for {
		// Raw: the eventfd is nonblocking, so the write cannot sleep, and a
		// pool thread handing work back need not pass through the scheduler.
		_, err := syscount.WriteNonblock(l.wakefd, one[:])
		if err != unix.EINTR {
			// EAGAIN means the counter is saturated: the loop is woken anyway.
			return
		}
	}
}

// Stop asks the loop to stop. It returns at once; Run returns after the
// current pass, once every handler still registered has had OnStop and every
// descriptor the loop owns is closed (then Done is closed). Stop may be
// called from any goroutine, including the loop's own, and more than once.
func (l *Loop) Stop() {
	l.mu.Lock()
	switch l.state.Load() {
	case stateNew:
		// Run was never called: nothing is dispatching, clean up here.
		l.state.Store(stateStopping)
		l.mu.Unlock()
		l.shutdown()
		return
	case stateRunning:
		l.state.Store(stateStopping)
	}
	l.mu.Unlock()
	l.wake()
}

// Run dispatches events on the calling goroutine, locked to its OS thread,
// until Stop. It returns nil after a Stop, or the error that made epoll_wait
// fail.
func (l *Loop) Run() error {
	if !l.state.CompareAndSwap(stateNew, stateRunning) {
		return ErrStopped
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.tid.Store(int32(unix.Gettid()))
	defer l.shutdown()
	for {
		n, err := l.wait()
		if err != nil {
			return fmt.Errorf("poller: epoll_wait: %w", err)
		}
		l.batch = l.now()
		l.dispatch(n)
		l.runReady()
		l.runTimers()
		if l.state.Load() >= stateStopping {
			return nil
		}
	}
}

// wait fetches the next batch of events. It polls first, with a zero
// timeout, which cannot sleep and so is made without the scheduler's
// syscall path (see syscount.Counters.EpollWait); only when that finds
// nothing and the loop has nothing to run does it make the blocking wait,
// through the scheduler, so that the Go runtime knows the thread is asleep
// and lends its P to other goroutines meanwhile. Under load the poll nearly
// always finds events, and the loop keeps its P from one batch to the next;
// when it goes idle, each sleep costs one empty poll more.
func (l *Loop) wait() (int, error) {
	n, err := l.sc.EpollWait(l.epfd, l.events, 0)
	if n != 0 || err != nil {
		return n, err
	}
	timeout := l.timeout()
	if timeout == 0 {
		return 0, nil
	}
	l.sc.Add(syscount.Sleeps, 1)
	return l.sc.EpollWait(l.epfd, l.events, timeout)
}

// dispatch hands the batch's events to their handlers. Each event's token is
// checked against the slot's current generation first: a handler may close
// another registration (or its own) earlier in the same batch, and the slot
// may even have been reused by an accept since.
func (l *Loop) dispatch(n int) {
	l.evEnd = n
	for i := 0; i < n; i++ {
		l.evNext = i + 1
		ev := &l.events[i]
		if ev.Fd == wakeIndex {
			l.drainWake()
			continue
		}
		id := makeID(ev.Fd, uint32(ev.Pad))
		s := l.lookup(id)
		if s == nil {
			l.sc.Add(syscount.StaleEvents, 1)
			continue
		}
		s.h.Handle(Events(ev.Events))
	}
}

// drainWake consumes the eventfd and runs the submitted functions. The
// pending flag is cleared before the queue is taken: a submitter that
// appends after the swap sees the flag clear and writes the eventfd again,
// so no submission is left waiting for a wakeup that never comes.
func (l *Loop) drainWake() {
	var buf [8]byte
	l.sc.Read(l.wakefd, buf[:])
	l.sc.Add(syscount.Wakeups, 1)
	l.woken.Store(false)
	l.mu.Lock()
	l.queue, l.running = l.running[:0], l.queue
	l.mu.Unlock()
	for i, fn := range l.running {
		l.running[i] = nil
		fn()
		l.sc.Add(syscount.Submitted, 1)
	}
}

func (l *Loop) runReady() {
	if len(l.readyNext) == 0 {
		return
	}
	l.ready, l.readyNext = l.readyNext, l.ready[:0]
	for i, it := range l.ready {
		l.rdNext = i + 1
		if s := l.lookup(it.id); s != nil {
			s.h.Handle(it.ev)
		}
	}
}

// timeout returns the epoll_wait timeout in milliseconds: 0 while handlers
// are requeued, -1 with no timer armed, or the time to the earliest deadline
// rounded up, so that a wait never ends before a deadline it serves.
func (l *Loop) timeout() int {
	if len(l.readyNext) > 0 || l.state.Load() >= stateStopping {
		return 0
	}
	next := int64(-1)
	for _, q := range l.timers {
		if q.head != nil && (next < 0 || q.head.when < next) {
			next = q.head.when
		}
	}
	if next < 0 {
		return -1
	}
	d := next - l.now()
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// now returns the loop's monotonic clock in nanoseconds.
func (l *Loop) now() int64 { return int64(time.Since(l.epoch)) }

// BatchNow returns the loop's monotonic clock, in nanoseconds since the
// loop was created, as read once when the current pass's epoll_wait
// returned: every handler, submitted function and timer of one pass sees
// the same value. It is for measurements that want one clock read per
// batch rather than one per event (epfs's request durations): their
// resolution is the length of a pass, microseconds on a light load, up to
// the work of a whole batch of events under a heavy one. Before the first
// pass it is 0. Call it on the loop's goroutine only.
func (l *Loop) BatchNow() int64 { return l.batch }

// shutdown closes what the loop owns. Functions submitted before Stop still
// run (Submit accepted them); then handlers still registered hear OnStop, so
// a connection can release what it holds.
func (l *Loop) shutdown() {
	l.mu.Lock()
	l.state.Store(stateStopping)
	pending := l.queue
	l.queue = nil
	l.mu.Unlock()
	for _, fn := range pending {
		fn()
		l.sc.Add(syscount.Submitted, 1)
	}
	for i := range l.slots {
		s := &l.slots[i]
		if !s.live {
			continue
		}
		if sh, ok := s.h.(StopHandler); ok {
			sh.OnStop()
		}
		if s.live && s.owned {
			l.sc.Close(int(s.fd))
		}
		if s.live {
			l.release(s, int32(i))
		}
	}
	for _, q := range l.timers {
		q.head, q.tail = nil, nil
	}
	l.sc.Close(l.wakefd)
	l.sc.Close(l.epfd)
	l.state.Store(stateStopped)
	close(l.done)
}
