package server

import (
	"bytes"
	"strconv"
	"sync"
	"testing"
)

// stuckWriter blocks every Write until released, then counts the lines it
// was given.
type stuckWriter struct {
	release chan struct{}
	mu      sync.Mutex
	lines   int
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	w.lines += bytes.Count(p, []byte("\n"))
	w.mu.Unlock()
	return len(p), nil
}

// A sink that falls behind drops whole buffers rather than block the loop,
// and counts every line it drops (epfs_access_log_dropped_total): with the
// writer stuck, the loop's buffer goes on taking lines and handing them
// over, each line is either written once the writer moves or counted as
// dropped, and none is both or neither.
func TestAccessLogDropsAreCounted(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	s := newLogSink(w, nil)
	lb := &lineBuffer{sink: s, b: make([]byte, 0, logBufSize+4096)}
	const handovers = logQueueLen + 10
	total := 0
	for i := range handovers {
		for j := range 3 {
			lb.Write([]byte(`{"line":` + strconv.Itoa(i*3+j) + "}\n"))
			total++
		}
		lb.flush()
	}
	// The writer holds one buffer and the queue logQueueLen: at least the
	// rest were dropped, three lines each.
	if d := s.dropped.Load(); d < 3*(handovers-logQueueLen-1) || d%3 != 0 {
		t.Errorf("%d lines dropped of %d, want at least %d, whole buffers", d, total, 3*(handovers-logQueueLen-1))
	}
	close(w.release)
	s.close()
	if got := uint64(w.lines) + s.dropped.Load(); got != uint64(total) {
		t.Errorf("%d lines written and %d dropped of %d", w.lines, s.dropped.Load(), total)
	}
	if s.errors.Load() != 0 {
		t.Errorf("%d write errors", s.errors.Load())
	}
}
