package server

import (
	"io"
	"sync"
	"sync/atomic"
)

// The access log must neither allocate per request nor block a loop on a
// slow disk. Each loop appends its lines to a buffer of its own (zerolog
// writes one whole line per Write); full buffers, and every buffer once a
// second, go to one sink goroutine through a channel, which does the write
// system calls. A buffer that receives its first line arms a one-shot timer
// on its loop (lineBuffer.filled), so a line waits at most about a second
// and an idle loop, with nothing buffered, has no timer for its log. When
// the sink falls behind and its queue is full, lines are dropped and
// counted rather than stalling the loops that serve traffic.

const (
	logBufSize  = 64 << 10 // a loop's buffer is handed over when it reaches this
	logQueueLen = 64       // buffers waiting for the sink before lines are dropped
)

// logSink writes buffers of log lines on its own goroutine.
type logSink struct {
	mu      sync.Mutex // guards w against a concurrent reopen
	w       io.Writer
	reopen  func() (io.Writer, error)
	full    chan []byte
	free    chan []byte
	dropped atomic.Uint64 // lines lost because the queue was full
	errors  atomic.Uint64 // writes that failed
	wg      sync.WaitGroup
}

func newLogSink(w io.Writer, reopen func() (io.Writer, error)) *logSink {
	s := &logSink{w: w, reopen: reopen, full: make(chan []byte, logQueueLen), free: make(chan []byte, logQueueLen)}
	s.wg.Add(1)
	go s.run()
	return s
}

func (s *logSink) run() {
	defer s.wg.Done()
	for b := range s.full {
		s.mu.Lock()
		if _, err := s.w.Write(b); err != nil {
			s.errors.Add(1)
		}
		s.mu.Unlock()
		select {
		case s.free <- b[:0]:
		default:
		}
	}
}

// Reopen swaps in a freshly opened writer (SIGHUP, for log rotation) and
// closes the old one if it can be closed.
func (s *logSink) Reopen() error {
	if s.reopen == nil {
		return nil
	}
	w, err := s.reopen()
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.w
	s.w = w
	s.mu.Unlock()
	if c, ok := old.(io.Closer); ok {
		c.Close()
	}
	return nil
}

// close writes what is queued and stops the sink. The loops must have
// handed over their last buffers first.
func (s *logSink) close() {
	close(s.full)
	s.wg.Wait()
	if c, ok := s.w.(io.Closer); ok {
		c.Close()
	}
}

// lineBuffer is one loop's access-log buffer: the io.Writer its zerolog
// logger writes to. Only the loop touches it.
type lineBuffer struct {
	sink  *logSink
	b     []byte
	lines int
	// filled, if set, runs when a line lands in the empty buffer: the
	// loop arms its flush timer then.
	filled func()
}

// Write appends one log line. It never blocks and, once the buffer has
// grown to its working size, never allocates.
func (lb *lineBuffer) Write(p []byte) (int, error) {
	if len(lb.b) == 0 && lb.filled != nil {
		lb.filled()
	}
	lb.b = append(lb.b, p...)
	lb.lines++
	if len(lb.b) >= logBufSize {
		lb.flush()
	}
	return len(p), nil
}

// flush hands the buffer to the sink and takes a recycled one.
func (lb *lineBuffer) flush() {
	if len(lb.b) == 0 {
		return
	}
	select {
	case lb.sink.full <- lb.b:
		select {
		case lb.b = <-lb.sink.free:
		default:
			lb.b = make([]byte, 0, logBufSize+4096)
		}
	default:
		lb.sink.dropped.Add(uint64(lb.lines))
		lb.b = lb.b[:0]
	}
	lb.lines = 0
}
