//go:build linux

package compress

import (
	"maps"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/poller/syscount"
)

// CodecStats are one coding's tallies since New.
type CodecStats struct {
	Built    uint64        // variants attached to cache entries
	Skipped  uint64        // made but not kept: under 5% smaller, no room in the budget, or the entry went meanwhile
	InBytes  uint64        // identity bytes compressed
	OutBytes uint64        // compressed bytes made
	Time     time.Duration // spent in the codec
	// Hist counts codec runs by duration: Hist[i] runs took at most
	// BuildBounds[i]; the last bucket, longer.
	Hist [len(BuildBounds) + 1]uint64
}

// Stats returns enc's tallies (zero for Identity).
func (p *Pool) Stats(enc fsindex.Encoding) CodecStats {
	if int(enc) >= fsindex.NumEncodings {
		return CodecStats{}
	}
	st := &p.stats[enc]
	s := CodecStats{Built: st.built.Load(), Skipped: st.skipped.Load(), InBytes: st.inBytes.Load(),
		OutBytes: st.outBytes.Load(), Time: time.Duration(st.ns.Load())}
	for i := range s.Hist {
		s.Hist[i] = st.hist[i].Load()
	}
	return s
}

// Dropped returns how many jobs a full queue refused. Each such entry is
// offered again at its next revalidation.
func (p *Pool) Dropped() uint64 { return p.dropped.Load() }

// Len returns the jobs waiting for a thread.
func (p *Pool) Len() int { return p.queue.Len() }

// Threads returns the number of compression threads.
func (p *Pool) Threads() int { return len(p.threads) }

// ThreadID returns the kernel thread id (gettid(2)) of thread i, or 0
// before it has started.
func (p *Pool) ThreadID(i int) int { return int(p.threads[i].tid.Load()) }

// Counters returns thread i's syscall counters (the preads and fstats of
// files read for compression, closes of descriptors a job released last).
func (p *Pool) Counters(i int) *syscount.Counters { return p.threads[i].counters }

// Runs returns the codec runs made so far by the kernel thread id they ran
// on, as each run recorded it with gettid(2) just before compressing.
func (p *Pool) Runs() map[int]uint64 {
	p.tidMu.Lock()
	defer p.tidMu.Unlock()
	return maps.Clone(p.runs)
}
