//go:build linux

package iopool_test

import (
	"fmt"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/iopool"
)

// A loop hands a blocking read to the pool and hears back on its own
// goroutine.
func Example() {
	loop, _ := poller.New(poller.Options{})
	go loop.Run()
	pool := iopool.New(iopool.Options{Threads: 2})

	var n int
	finished := make(chan struct{})
	read := func(t *iopool.Thread) {
		// On a pool thread: a call that may block, counted on t.Counters.
		n = copy(t.Buf, "bytes from the disk")
	}
	done := func() {
		// On the loop again: whatever read wrote is visible here.
		fmt.Println("read", n, "bytes")
		close(finished)
	}
	loop.Submit(func() {
		if !pool.Submit(loop, read, done) {
			fmt.Println("queue full: try again later")
		}
	})
	<-finished
	pool.Close()
	loop.Stop()
	<-loop.Done()
	// Output: read 19 bytes
}
