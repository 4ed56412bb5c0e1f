//go:build linux

package poller_test

import (
	"bytes"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// A handler that reads one byte per event and stops (breaking the drain
// contract) is not told again until new data arrives: edge triggering
// reports arrivals, not the level of the receive queue.
func TestStoppingEarlyWaitsForNewData(t *testing.T) {
	l := startLoop(t)
	a, b := socketpair(t)
	var calls, got atomic.Int64
	one := make([]byte, 1)
	h := poller.HandlerFunc(func(ev poller.Events) {
		if !ev.Readable() {
			return
		}
		// Counted after the read, so that a test that sees the count
		// also sees what the read got.
		n, _ := unix.Read(a, one)
		if n == 1 {
			got.Add(1)
		}
		calls.Add(1)
	})
	on(t, l, func() {
		if _, err := l.Add(a, h); err != nil {
			t.Error(err)
		}
	})
	unix.Write(b, []byte("0123456789"))
	settle(t, "first edge", func() bool { return calls.Load() == 1 })
	// Let the loop pass through epoll_wait several times on a timer: the nine
	// bytes still queued raise no new edge.
	for range 3 {
		fired := make(chan struct{})
		on(t, l, func() {
			tm := &poller.Timer{Func: func() { close(fired) }}
			l.NewTimerQueue(20 * time.Millisecond).Arm(tm)
		})
		<-fired
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("handler called %d times with no new data, want 1", c)
	}
	unix.Write(b, []byte("x"))
	settle(t, "edge for new data", func() bool { return calls.Load() == 2 })
	if got.Load() != 2 {
		t.Fatalf("read %d bytes, want 2", got.Load())
	}
}

// A handler that follows the contract (read to EAGAIN) never misses data,
// however the writes are split.
func TestDrainingHandlerMissesNothing(t *testing.T) {
	l := startLoop(t)
	a, b := socketpair(t)
	var mu sync.Mutex
	var received bytes.Buffer
	buf := make([]byte, 7) // small on purpose: many reads per edge
	h := poller.HandlerFunc(func(ev poller.Events) {
		for {
			n, err := l.Counters().Read(a, buf)
			if n > 0 {
				mu.Lock()
				received.Write(buf[:n])
				mu.Unlock()
			}
			if err == unix.EAGAIN || n <= 0 {
				return
			}
		}
	})
	on(t, l, func() { l.Add(a, h) })
	var sent bytes.Buffer
	for i := range 2000 {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%13)
		sent.Write(chunk)
		for len(chunk) > 0 {
			n, err := unix.Write(b, chunk)
			if err == unix.EAGAIN {
				runtime.Gosched()
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			chunk = chunk[n:]
		}
	}
	settle(t, "all bytes received", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received.Len() == sent.Len()
	})
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(received.Bytes(), sent.Bytes()) {
		t.Fatal("received bytes differ from sent bytes")
	}
}

// Submit from 8 goroutines at once: every function runs exactly once, on the
// loop, and each goroutine's functions run in the order it submitted them.
func TestSubmitConcurrent(t *testing.T) {
	l := startLoop(t)
	const goroutines, each = 8, 2000
	var last [goroutines]int // touched only on the loop
	var ran atomic.Int64
	var outOfOrder atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				err := l.Submit(func() {
					if last[g] != i-1 {
						outOfOrder.Add(1)
					}
					last[g] = i
					ran.Add(1)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	settle(t, "all submitted functions ran", func() bool { return ran.Load() == goroutines*each })
	if n := outOfOrder.Load(); n != 0 {
		t.Fatalf("%d functions ran out of submission order", n)
	}
	c := l.Counters()
	if got := c.Tally(syscount.Submitted); got < goroutines*each {
		t.Errorf("submitted tally %d", got)
	}
	// Wakeups coalesce: many submissions share one eventfd write.
	if w := l.WakeWrites(); w == 0 || w > goroutines*each {
		t.Errorf("eventfd writes = %d for %d submissions", w, goroutines*each)
	}
	t.Logf("%d submissions, %d eventfd writes, %d wakeups", goroutines*each, l.WakeWrites(), c.Tally(syscount.Wakeups))
}

// Close during dispatch: an event already fetched in the same epoll_wait
// batch for a registration that was closed, and whose slot (and descriptor
// number) was reused at once, is dropped as stale, never delivered to the
// new registration or to the old handler.
func TestStaleEventsAreDropped(t *testing.T) {
	l := startLoop(t)
	a1, b1 := socketpair(t)
	a2, b2 := socketpair(t)
	// Data first, registration second: both events land in one batch.
	unix.Write(b1, []byte("x"))
	unix.Write(b2, []byte("y"))
	var ids [2]poller.ID
	fds := [2]int{a1, a2}
	var firstSeen = -1
	var afterClose, replacementCalls atomic.Int64
	var replacementFd int
	replacement := poller.HandlerFunc(func(ev poller.Events) {
		if ev.Readable() {
			replacementCalls.Add(1)
		}
	})
	// Register both in one submitted function, so that one epoll_wait
	// returns both events.
	handlers := [2]poller.Handler{}
	for i := range 2 {
		handlers[i] = poller.HandlerFunc(func(ev poller.Events) {
			if firstSeen >= 0 && firstSeen != i {
				afterClose.Add(1)
				return
			}
			if firstSeen == i {
				return
			}
			firstSeen = i
			other := 1 - i
			l.Close(ids[other])
			fdsNew, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			replacementFd = fdsNew[1]
			if _, err := l.Add(fdsNew[0], replacement); err != nil {
				t.Error(err)
			}
		})
	}
	before := l.Counters().Tally(syscount.StaleEvents)
	on(t, l, func() {
		for i := range 2 {
			id, err := l.Add(fds[i], handlers[i])
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}
	})
	settle(t, "stale event counted", func() bool { return l.Counters().Tally(syscount.StaleEvents) > before })
	on(t, l, func() {}) // one more pass
	if n := afterClose.Load(); n != 0 {
		t.Fatalf("closed handler called %d times after Close", n)
	}
	if n := replacementCalls.Load(); n != 0 {
		t.Fatalf("replacement registration got %d readable events meant for the old one", n)
	}
	if replacementFd != 0 {
		unix.Close(replacementFd)
	}
}

// Stop while connections are busy: Run returns, Done closes, and no
// descriptor or goroutine is left behind.
func TestStopWhileBusyLeavesNothing(t *testing.T) {
	// Warm up: the Go runtime opens its own epoll descriptor the first time
	// the net package is used. Take the baseline after that.
	if c, err := net.Dial("tcp", "127.0.0.1:1"); err == nil {
		c.Close()
	}
	baseFDs := openFDs(t)
	baseG := runtime.NumGoroutine()

	ln, err := poller.Listen("127.0.0.1:0", poller.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var stops atomic.Int64
	l.Accept(ln, func(fd int) {
		var id poller.ID
		h := &stopCounter{stops: &stops}
		h.fn = func(ev poller.Events) {
			for {
				n, err := unix.Read(fd, buf)
				if n > 0 {
					unix.Write(fd, buf[:n])
					continue
				}
				if err == unix.EAGAIN {
					return
				}
				l.Close(id)
				return
			}
		}
		id, _ = l.Add(fd, h)
	})
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run() }()

	const clients = 50
	var wg sync.WaitGroup
	stopClients := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr())
			if err != nil {
				return
			}
			defer c.Close()
			msg := []byte("busy busy busy")
			rb := make([]byte, 64)
			for {
				select {
				case <-stopClients:
					return
				default:
				}
				if _, err := c.Write(msg); err != nil {
					return
				}
				if _, err := c.Read(rb); err != nil {
					return
				}
			}
		}()
	}
	settle(t, "connections accepted", func() bool { return l.Counters().Tally(syscount.Accepted) == clients })
	l.Stop()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hang guard: Run did not return within 10s of Stop")
	}
	<-l.Done()
	if err := l.Submit(func() {}); err != poller.ErrStopped {
		t.Fatalf("Submit after Stop: %v, want ErrStopped", err)
	}
	if s := stops.Load(); s == 0 {
		t.Errorf("no handler heard OnStop")
	}
	close(stopClients)
	wg.Wait()
	ln.Close()
	settle(t, "descriptors back to baseline", func() bool { return openFDs(t) <= baseFDs })
	settle(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= baseG })
}

type stopCounter struct {
	fn    func(poller.Events)
	stops *atomic.Int64
}

func (s *stopCounter) Handle(ev poller.Events) { s.fn(ev) }
func (s *stopCounter) OnStop()                 { s.stops.Add(1) }

// Stopping a loop that never ran releases its descriptors too.
func TestStopBeforeRun(t *testing.T) {
	base := openFDs(t)
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if openFDs(t) != base+2 {
		t.Fatalf("a new loop should hold 2 descriptors (epoll, eventfd)")
	}
	l.Stop()
	<-l.Done()
	if got := openFDs(t); got != base {
		t.Fatalf("descriptors: %d, want %d", got, base)
	}
	if err := l.Run(); err != poller.ErrStopped {
		t.Fatalf("Run after Stop: %v", err)
	}
}

// Registration happens once: many requests on one connection cost no
// epoll_ctl beyond the first.
func TestRegisterOnce(t *testing.T) {
	l := startLoop(t)
	a, b := socketpair(t)
	buf := make([]byte, 64)
	h := poller.HandlerFunc(func(ev poller.Events) {
		for {
			n, err := unix.Read(a, buf)
			if n > 0 {
				unix.Write(a, buf[:n])
			}
			if err == unix.EAGAIN || n == 0 {
				return
			}
		}
	})
	ctlBefore := l.Counters().Total(syscount.EpollCtl)
	on(t, l, func() { l.Add(a, h) })
	rb := make([]byte, 64)
	for i := range 200 {
		unix.Write(b, []byte("ping"))
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for got < 4 {
			n, err := unix.Read(b, rb)
			if n > 0 {
				got += n
			}
			if err == unix.EAGAIN {
				if time.Now().After(deadline) {
					t.Fatalf("hang guard: round trip %d: no reply", i)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	if d := l.Counters().Total(syscount.EpollCtl) - ctlBefore; d != 1 {
		t.Fatalf("epoll_ctl calls for 200 round trips: %d, want 1", d)
	}
}

// The loop sleeps only after a zero-timeout poll found nothing: each wakeup
// of an idle loop costs the blocking epoll_wait that returns it and one
// empty poll before the next sleep, and a loop with a handler requeued on
// every pass never sleeps at all.
func TestLoopPollsBeforeItSleeps(t *testing.T) {
	l := startLoop(t)
	c := l.Counters()
	asleep := func(n uint64) func() bool { return func() bool { return c.Tally(syscount.Sleeps) == n } }
	// Nothing but these Submits wakes this loop: once it sleeps, it stays
	// asleep until the next one.
	settle(t, "first sleep", asleep(1))
	sleeps, waits := c.Tally(syscount.Sleeps), c.Total(syscount.EpollWait)
	const rounds = 5
	for i := range uint64(rounds) {
		l.Submit(func() {})
		settle(t, "sleep after a wakeup", asleep(sleeps+i+1))
	}
	if d := c.Total(syscount.EpollWait) - waits; d != 2*rounds {
		t.Errorf("%d wakeups made %d epoll_wait calls, want %d (the wait that woke, the poll before the next sleep)", rounds, d, 2*rounds)
	}

	// Requeued on every pass for 1000 passes: zero-timeout polls only.
	sleeps, waits = c.Tally(syscount.Sleeps), c.Total(syscount.EpollWait)
	done := make(chan struct{})
	var passes int
	var id poller.ID
	a, _ := socketpair(t)
	h := poller.HandlerFunc(func(ev poller.Events) {
		if passes++; passes == 1000 {
			close(done)
			return
		}
		l.Requeue(id, ev)
	})
	on(t, l, func() {
		var err error
		if id, err = l.Add(a, h); err != nil {
			t.Error(err)
		}
	})
	<-done
	on(t, l, func() {})
	// The Add's own event and the two Submits (on) may each wake the loop:
	// at most three sleeps, against one per pass were the loop to block.
	if d := c.Tally(syscount.Sleeps) - sleeps; d > 3 {
		t.Errorf("%d sleeps over 1000 requeued passes, want at most 3", d)
	}
	if d := c.Total(syscount.EpollWait) - waits; d < 1000 {
		t.Errorf("%d epoll_wait calls over 1000 passes, want one per pass at least", d)
	}
}

// BatchNow is read once per pass: a function sees the same value however
// long it runs, and a function it submits, which runs in a later pass,
// sees a later one.
func TestBatchNowOncePerPass(t *testing.T) {
	l := startLoop(t)
	got := make(chan [3]int64, 1)
	l.Submit(func() {
		first := l.BatchNow()
		// Run until the monotonic clock has certainly moved on.
		for start := time.Now(); time.Since(start) == 0; {
		}
		again := l.BatchNow()
		l.Submit(func() { got <- [3]int64{first, again, l.BatchNow()} })
	})
	var b [3]int64
	select {
	case b = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("hang guard: the submitted functions did not run")
	}
	if b[0] <= 0 || b[1] != b[0] || b[2] <= b[0] {
		t.Errorf("BatchNow: %d, then %d in the same pass, then %d in a later one", b[0], b[1], b[2])
	}
}

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

// ThreadID names the thread the loop's handlers run on, so a per-thread
// kernel tool pointed at it sees exactly the loop's syscalls.
func TestThreadID(t *testing.T) {
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.ThreadID(); got != 0 {
		t.Fatalf("before Run: ThreadID %d, want 0", got)
	}
	l.Stop()
	l = startLoop(t)
	for range 3 {
		var tid int
		on(t, l, func() { tid = unix.Gettid() })
		if got := l.ThreadID(); got != tid {
			t.Errorf("ThreadID %d, but handlers run on thread %d", got, tid)
		}
	}
	if l.ThreadID() == unix.Gettid() {
		t.Error("the loop reports the test's own thread")
	}
}
