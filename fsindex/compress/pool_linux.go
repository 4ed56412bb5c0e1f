//go:build linux

package compress

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/internal/boundq"
	"github.com/epfs/epfs/poller/syscount"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Options configure a Pool. Every zero field means its default; levels
// out of range are an error from New.
type Options struct {
	// Threads is the number of compression threads (default 1).
	Threads int
	// Queue is how many jobs may wait for a thread (default 256); a job
	// offered to a full queue is dropped and counted (Stats.Dropped).
	Queue int
	// Min and Max bound the sizes compressed: files smaller than Min
	// (default DefaultMin) or larger than Max (default DefaultMax) are
	// served identity (or from a sidecar).
	Min, Max int64
	// GzipLevel (1-9, default DefaultGzipLevel), BrotliLevel (0-11,
	// default DefaultBrotliLevel; -1 for level 0), ZstdLevel (1-22, default
	// DefaultZstdLevel; klauspost/compress maps it onto its four encoder
	// levels: 1-2 fastest, 3-5 default, 6-9 better, 10-22 best).
	GzipLevel, BrotliLevel, ZstdLevel int
	// Nice is the nice value (setpriority(2)) of the compression threads
	// (default DefaultNice): the kernel gives the loops' and the I/O
	// pool's threads, at the process's own nice, the CPU first.
	Nice int
}

// The defaults. Measured with BenchmarkLevels (-benchtime 2x) on
// jquery 3.7.1 and bootstrap 5.3.3 (jquery.js, jquery.min.js,
// bootstrap.css, bootstrap.min.css, bootstrap.bundle.min.js; 945 KiB) on
// the shared 2-core build machine; compressed size as a fraction of the
// input, and time per MiB: gzip 6 0.2205 at 12 ms, gzip 9 0.2077 at 51 ms;
// brotli 6 0.1940 at 51 ms, 9 0.1899 at 226 ms, 11 0.1709 at 2.1 s; zstd 3
// 0.2260 at 9 ms, 19 (klauspost's best) 0.2004 at 49 ms. Each file is
// compressed once per version, so the levels that make the fewest bytes
// are taken while the cost stays within a few seconds per MiB. gzip 9
// also makes fewer bytes than nginx's gzip_comp_level 6 (zlib) on every
// file of the harness (docs/BENCHMARKS.md, "Compression").
//
// Min: a body under 1 KiB and a head of about 300 bytes fit in one TCP
// segment of a 1500-byte MTU link, so compressing it saves no packet, and
// each variant still costs memory; measured once (a one-off program) on jquery.js's first bytes,
// gzip 9 turns 128 bytes into 134, 256 into 217, 1024 into 575 and 4096
// into 1,864. Max: 1 MiB, as the issue asked: a variant lives in memory,
// and a larger file is what sendfile and sidecars are for.
const (
	DefaultThreads     = 1
	DefaultQueue       = 256
	DefaultMin         = 1 << 10
	DefaultMax         = 1 << 20
	DefaultGzipLevel   = 9
	DefaultBrotliLevel = 11
	DefaultZstdLevel   = 19
	DefaultNice        = 10
)

// minSaving: a variant is kept only if it is at least 1/minSaving (5%)
// smaller than the identity; else the identity is sent to everyone.
const minSaving = 20

// Pool is a fixed set of compression threads with a bounded queue; it
// implements fsindex.Compressor. See the package documentation.
type Pool struct {
	opts    Options
	threads []*thread
	queue   *boundq.Queue[*fsindex.Job]
	wg      sync.WaitGroup

	stopping atomic.Bool // Close has begun: queued jobs are done without compressing

	dropped atomic.Uint64 // jobs refused by a full queue
	stats   [fsindex.NumEncodings]codecStats

	tidMu sync.Mutex
	runs  map[int]uint64 // codec runs by the thread id (gettid) they ran on
}

// thread is one compression goroutine, locked to its OS thread.
type thread struct {
	counters *syscount.Counters
	tid      atomic.Int32
	buf      []byte // identity bytes read from a descriptor, reused
	out      bytes.Buffer
	gz       *gzip.Writer
	br       *brotli.Writer
	zs       *zstd.Encoder
}

// codecStats are one coding's tallies. Written by the compression threads
// with atomic adds, read by anyone.
type codecStats struct {
	built    atomic.Uint64 // variants attached
	skipped  atomic.Uint64 // made, not kept: too little saving, no room, entry gone
	inBytes  atomic.Uint64 // identity bytes compressed
	outBytes atomic.Uint64 // variant bytes made
	ns       atomic.Uint64 // time spent compressing, in nanoseconds
	hist     [len(BuildBounds) + 1]atomic.Uint64
}

// BuildBounds are the upper bounds of the build-time histogram's buckets
// (one codec run over one file).
var BuildBounds = [...]time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second}

// New checks opts and starts the pool's threads.
func New(opts Options) (*Pool, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{opts: o, queue: boundq.New[*fsindex.Job](o.Queue), runs: make(map[int]uint64)}
	for range o.Threads {
		t := &thread{counters: new(syscount.Counters)}
		t.gz, _ = gzip.NewWriterLevel(nil, o.GzipLevel) // level checked above
		t.br = brotli.NewWriterLevel(nil, o.BrotliLevel)
		t.zs, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(o.ZstdLevel)), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		p.threads = append(p.threads, t)
	}
	for _, t := range p.threads {
		p.wg.Add(1)
		go p.work(t)
	}
	return p, nil
}

// Check returns opts with its defaults filled in, or the error New would
// return for it. A negative BrotliLevel means brotli's level 0.
func (o Options) Check() (Options, error) { return o.withDefaults() }

func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Threads, DefaultThreads)
	def(&o.Queue, DefaultQueue)
	def(&o.GzipLevel, DefaultGzipLevel)
	def(&o.BrotliLevel, DefaultBrotliLevel)
	if o.BrotliLevel == -1 {
		o.BrotliLevel = 0 // zero is taken by "default"
	}
	def(&o.ZstdLevel, DefaultZstdLevel)
	def(&o.Nice, DefaultNice)
	if o.Min == 0 {
		o.Min = DefaultMin
	}
	if o.Max == 0 {
		o.Max = DefaultMax
	}
	switch {
	case o.Threads < 1 || o.Threads > 64:
		return o, fmt.Errorf("compression threads %d: want 1 to 64", o.Threads)
	case o.Queue < 1:
		return o, fmt.Errorf("compression queue %d: want at least 1", o.Queue)
	case o.GzipLevel < 1 || o.GzipLevel > 9:
		return o, fmt.Errorf("gzip level %d: want 1 to 9", o.GzipLevel)
	case o.BrotliLevel < 0 || o.BrotliLevel > 11:
		return o, fmt.Errorf("brotli level %d: want 0 to 11", o.BrotliLevel)
	case o.ZstdLevel < 1 || o.ZstdLevel > 22:
		return o, fmt.Errorf("zstd level %d: want 1 to 22", o.ZstdLevel)
	case o.Min < 1 || o.Max < o.Min:
		return o, fmt.Errorf("compression sizes %d to %d: want 1 <= min <= max", o.Min, o.Max)
	case o.Nice < -20 || o.Nice > 19:
		return o, fmt.Errorf("compression nice %d: want -20 to 19", o.Nice)
	}
	return o, nil
}

// Compressible reports whether files of contentType and size get computed
// variants: a type on the list (see Compressible) and Min <= size <= Max.
func (p *Pool) Compressible(contentType string, size int64) bool {
	return size >= p.opts.Min && size <= p.opts.Max && Compressible(contentType)
}

// Offer queues j for a compression thread. It never blocks: with the
// queue full (or the pool closed) it returns false and counts the drop.
func (p *Pool) Offer(j *fsindex.Job) bool {
	if p.queue.Offer(j) {
		return true
	}
	p.dropped.Add(1)
	return false
}

// work runs jobs on one locked thread until the queue is closed and empty.
func (p *Pool) work(t *thread) {
	defer p.wg.Done()
	// A thread of its own: its id names every codec run it makes (the
	// proof that no loop compresses), per-thread kernel tools see only
	// compression, and its nice value applies to it alone (setpriority(2)
	// with PRIO_PROCESS and a thread id sets that thread's nice on Linux;
	// see the NOTES of setpriority(2) on NPTL threads).
	// Never unlocked: when the goroutine returns still locked, the runtime
	// ends its thread, so no other goroutine ever runs at this nice value.
	runtime.LockOSThread()
	tid := unix.Gettid()
	t.tid.Store(int32(tid))
	if p.opts.Nice != 0 {
		// Refused only when lowering nice without CAP_SYS_NICE: the
		// threads then run at the process's own priority.
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, p.opts.Nice)
	}
	for j := range p.queue.C() {
		p.run(t, j)
		// Between files, hand the P back to the scheduler: a cache miss
		// looked up on the I/O pool must not wait for the next file.
		runtime.Gosched()
	}
}

// order is the order the codings are built in: the fast ones first, so a
// client that accepts several gets a variant soon, and brotli's slow best
// level last.
var order = [...]fsindex.Encoding{fsindex.Zstd, fsindex.Gzip, fsindex.Brotli}

// run compresses one file in every coding the job wants and attaches what
// is worth keeping.
func (p *Pool) run(t *thread, j *fsindex.Job) {
	c := t.counters
	defer j.Done(c)
	if p.stopping.Load() {
		return // Close: what is queued is dropped, not compressed
	}
	in, err := j.Read(c, &t.buf)
	if err != nil {
		return // the file changed or went: its next entry gets a job of its own
	}
	for _, enc := range order {
		if !j.Wants(enc) {
			continue
		}
		start := time.Now()
		out := p.encode(t, enc, in)
		p.observe(enc, len(in), len(out), time.Since(start))
		st := &p.stats[enc]
		if len(out) > len(in)-len(in)/minSaving {
			st.skipped.Add(1)
			continue
		}
		if err := j.Attach(c, enc, out); err != nil {
			st.skipped.Add(1)
			if err == fsindex.ErrStale {
				return
			}
			continue
		}
		st.built.Add(1)
	}
}

// encode compresses in with enc's reused encoder and returns a new slice
// of exactly the compressed length (the variant keeps it).
func (p *Pool) encode(t *thread, enc fsindex.Encoding, in []byte) []byte {
	p.noteRun()
	t.out.Reset()
	switch enc {
	case fsindex.Gzip:
		t.gz.Reset(&t.out)
		t.gz.Write(in) // a bytes.Buffer write does not fail
		t.gz.Close()
	case fsindex.Brotli:
		t.br.Reset(&t.out)
		t.br.Write(in)
		t.br.Close()
	case fsindex.Zstd:
		return t.zs.EncodeAll(in, make([]byte, 0, len(in)/2))
	}
	return bytes.Clone(t.out.Bytes())
}

// noteRun records the kernel thread the codec is about to run on: the
// test that no loop ever compresses reads it (Runs) and compares it with
// the threads' ids and the loops'.
func (p *Pool) noteRun() {
	tid := unix.Gettid()
	p.tidMu.Lock()
	p.runs[tid]++
	p.tidMu.Unlock()
}

func (p *Pool) observe(enc fsindex.Encoding, in, out int, d time.Duration) {
	st := &p.stats[enc]
	st.inBytes.Add(uint64(in))
	st.outBytes.Add(uint64(out))
	st.ns.Add(uint64(d))
	i := 0
	for i < len(BuildBounds) && d > BuildBounds[i] {
		i++
	}
	st.hist[i].Add(1)
}

// Close stops accepting jobs, ends the queued ones without compressing
// (each gets its Done), waits for the codec runs in progress and for the
// threads to exit. It may be called more than once.
func (p *Pool) Close() {
	p.stopping.Store(true)
	p.queue.Close()
	p.wg.Wait()
}
