//go:build linux

package iopool

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/epfs/epfs/internal/boundq"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Defaults for the zero fields of Options.
const (
	DefaultThreads        = 2
	DefaultQueuePerThread = 16
	DefaultBufSize        = 256 << 10
)

// Options configure a Pool. Every zero field means its default.
type Options struct {
	// Threads is the number of goroutines, each locked to an OS thread
	// (default 2).
	Threads int
	// Queue is how many tasks may wait for a thread (default 16 per thread).
	Queue int
	// BufSize is the size of each thread's buffer, Thread.Buf (default
	// 256 KiB).
	BufSize int
}

// Thread is what a task's run function is given: the identity, counters and
// buffer of the pool thread it runs on. Only that thread uses them while the
// task runs.
type Thread struct {
	// Index is the thread's number in the pool, from 0.
	Index int
	// Counters counts the syscalls the thread's tasks make. The thread is
	// its only writer; anyone may read it.
	Counters *syscount.Counters
	// Buf is scratch space for the task, reused by the next one.
	Buf []byte

	tid atomic.Int32
}

// task is one queued unit of work.
type task struct {
	loop *poller.Loop
	run  func(*Thread)
	done func()
}

// Pool is a fixed set of threads with a bounded queue. See the package
// documentation for the contract.
type Pool struct {
	threads []*Thread
	queue   *boundq.Queue[task]
	wg      sync.WaitGroup
}

// New starts the pool's threads.
func New(opts Options) *Pool {
	if opts.Threads <= 0 {
		opts.Threads = DefaultThreads
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueuePerThread * opts.Threads
	}
	if opts.BufSize <= 0 {
		opts.BufSize = DefaultBufSize
	}
	p := &Pool{queue: boundq.New[task](opts.Queue)}
	for i := range opts.Threads {
		t := &Thread{Index: i, Counters: new(syscount.Counters), Buf: make([]byte, opts.BufSize)}
		p.threads = append(p.threads, t)
		p.wg.Add(1)
		go p.work(t)
	}
	return p
}

// work runs tasks on one locked thread until the queue is closed and empty.
func (p *Pool) work(t *Thread) {
	defer p.wg.Done()
	// A thread of its own, as a loop has: a blocking read then stalls this
	// thread only, and per-thread kernel tools (perf stat -t, strace -p)
	// see exactly the pool's calls.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t.tid.Store(int32(unix.Gettid()))
	for tk := range p.queue.C() {
		tk.run(t)
		if tk.loop.Submit(tk.done) != nil {
			// The loop has stopped: once its goroutine is gone, nothing
			// else touches what done touches, so run it here.
			<-tk.loop.Done()
			tk.done()
		}
	}
}

// Submit queues run for a pool thread, then done for loop l. It returns
// false, having queued nothing, when the queue is full or the pool is
// closed. It never blocks.
func (p *Pool) Submit(l *poller.Loop, run func(*Thread), done func()) bool {
	return p.queue.Offer(task{l, run, done})
}

// Len returns the number of tasks waiting for a thread.
func (p *Pool) Len() int { return p.queue.Len() }

// Cap returns the queue's capacity.
func (p *Pool) Cap() int { return p.queue.Cap() }

// Threads returns the number of threads.
func (p *Pool) Threads() int { return len(p.threads) }

// Counters returns thread i's syscall counters.
func (p *Pool) Counters(i int) *syscount.Counters { return p.threads[i].Counters }

// ThreadID returns the kernel thread id (gettid(2)) of thread i, or 0
// before it has started.
func (p *Pool) ThreadID(i int) int { return int(p.threads[i].tid.Load()) }

// Close stops accepting tasks, waits until every queued one has run (its
// done included) and the threads have exited. It may be called more than
// once.
func (p *Pool) Close() {
	p.queue.Close()
	p.wg.Wait()
}
