//go:build linux

package iopool_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/iopool"
)

func runLoop(t *testing.T) *poller.Loop {
	t.Helper()
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	t.Cleanup(func() { l.Stop(); <-l.Done() })
	return l
}

// A task runs on a pool thread with that thread's buffer, then its done on
// the loop; a full queue refuses without blocking; Close runs what is queued.
func TestSubmitRunsThenCompletesOnLoop(t *testing.T) {
	l := runLoop(t)
	p := iopool.New(iopool.Options{Threads: 1, Queue: 1, BufSize: 64})
	release := make(chan struct{})
	var ran atomic.Int32
	onLoop := make(chan bool, 3)
	var loopTID int
	l.Submit(func() { loopTID = l.ThreadID() })
	run := func(th *iopool.Thread) {
		<-release
		if len(th.Buf) != 64 || th.Counters == nil {
			t.Errorf("thread %d: buffer %d bytes, counters %v", th.Index, len(th.Buf), th.Counters)
		}
		ran.Add(1)
	}
	done := func() { onLoop <- l.ThreadID() == loopTID }
	if !p.Submit(l, run, done) {
		t.Fatal("first task refused")
	}
	// The thread takes the first task and blocks in it; the second fills
	// the queue, and the third finds it full.
	deadline := time.Now().Add(10 * time.Second)
	for p.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !p.Submit(l, run, done) {
		t.Fatal("second task refused with an empty queue")
	}
	if p.Submit(l, run, done) {
		t.Fatal("third task accepted by a full queue of one")
	}
	if p.Len() != 1 {
		t.Fatalf("queue length %d, want 1", p.Len())
	}
	close(release)
	for range 2 {
		select {
		case ok := <-onLoop:
			if !ok {
				t.Error("done did not run on the loop's thread")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("hang guard: done did not run within 10 s")
		}
	}
	p.Close()
	if ran.Load() != 2 {
		t.Fatalf("%d tasks ran, want 2", ran.Load())
	}
	if p.Submit(l, run, done) {
		t.Fatal("a closed pool accepted a task")
	}
}

// When the loop has stopped by the time a task finishes, done still runs,
// once, on the pool's thread after the loop is done.
func TestDoneRunsAfterLoopStopped(t *testing.T) {
	l, err := poller.New(poller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	p := iopool.New(iopool.Options{Threads: 1})
	release := make(chan struct{})
	var done atomic.Int32
	p.Submit(l, func(*iopool.Thread) { <-release }, func() {
		select {
		case <-l.Done():
		default:
			t.Error("done ran before the loop was done")
		}
		done.Add(1)
	})
	l.Stop()
	<-l.Done()
	close(release)
	p.Close()
	if done.Load() != 1 {
		t.Fatalf("done ran %d times, want 1", done.Load())
	}
}
