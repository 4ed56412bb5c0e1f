//go:build linux

package server

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/fsindex/compress"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/iopool"
	"github.com/epfs/epfs/poller/syscount"
	"github.com/epfs/epfs/transmit"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Server is epfs serving one root on N loops.
type Server struct {
	cfg       Config
	index     *fsindex.Index
	listeners []*poller.Listener // every socket, siblings included, closed at the end
	addrs     []string           // one per --listen address, with real ports
	workers   []*worker
	sink      *logSink       // nil when the access log is off
	pool      *iopool.Pool   // reads cold file ranges off the loops; nil when --io-threads is 0
	compress  *compress.Pool // builds computed variants off the loops and the I/O pool; nil when --compress=false

	// Returning memory once every loop is quiet (see worker.onQuiet).
	quietLoops atomic.Int32  // loops whose pools are trimmed and unused since
	returns    atomic.Uint64 // times memory was returned to the kernel
	returnNs   atomic.Int64  // how long the last return took, in nanoseconds
	pauseNs    atomic.Int64  // the stop-the-world pause of its garbage collection, in nanoseconds

	runErr   chan error
	stopping atomic.Bool
	running  atomic.Bool // Run has started the loops (for /readyz)
	started  time.Time   // set by New, so Stats may read it from any goroutine
	once     sync.Once
}

// New validates cfg, opens the root and binds every listener. Nothing is
// served until Run. A root that is missing or not a directory, an address
// that is in use or not permitted: each is an error here, at start-up.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tcfg, err := transmitConfig(&cfg)
	if err != nil {
		return nil, err
	}
	rules, err := compileRules(cfg.Headers, cfg.CacheControl)
	if err != nil {
		return nil, err
	}
	tcfg.Fields = rules.global
	var header func(string) []byte
	if rules.headers {
		header = rules.forPath
	}
	s := &Server{cfg: cfg, runErr: make(chan error, cfg.Loops), started: time.Now()}
	fopts := fsindex.Options{
		Header:        header,
		Root:          cfg.Root,
		Index:         cfg.Index,
		Listing:       cfg.Autoindex,
		AllowDotfiles: cfg.AllowDotfiles,
		Precompressed: cfg.Precompressed,
		ContentTypes:  cfg.ContentTypes,
	}
	if cfg.Compress {
		// A queue and threads of its own, never the I/O pool's: a full I/O
		// queue makes cache misses look up on the loops, so compression
		// must never be what fills it.
		if s.compress, err = compress.New(cfg.compressOptions()); err != nil {
			return nil, err
		}
		fopts.Compressor = s.compress
	}
	s.index, err = fsindex.Open(fopts)
	if err != nil {
		if s.compress != nil {
			s.compress.Close()
		}
		return nil, fmt.Errorf("root %q: %w", cfg.Root, err)
	}
	if cfg.AccessLog != nil {
		s.sink = newLogSink(cfg.AccessLog, cfg.Reopen)
	}
	traceLog := cfg.Log
	if cfg.Trace {
		traceLog = traceLogger(cfg.Log)
	}
	if cfg.IOThreads > 0 {
		s.pool = iopool.New(iopool.Options{Threads: cfg.IOThreads})
		tcfg.Probe = true
		if cfg.Trace {
			for i := range cfg.IOThreads {
				s.pool.Counters(i).SetTrace(traceFunc(traceLog.With().Str("thread", "io"+strconv.Itoa(i)).Logger(), -1))
			}
		}
	}
	perLoop := (cfg.MaxConns + cfg.Loops - 1) / cfg.Loops
	for i := 0; i < cfg.Loops; i++ {
		w, err := newWorker(s, i, tcfg, perLoop)
		if err != nil {
			s.abort()
			return nil, err
		}
		s.workers = append(s.workers, w)
		if cfg.Trace {
			w.sc.SetTrace(traceFunc(traceLog, i))
		}
	}
	if len(cfg.Inherited) > 0 {
		for _, ln := range cfg.Inherited {
			if err := s.share(ln); err != nil {
				s.abort()
				return nil, err
			}
		}
		return s, nil
	}
	for _, addr := range cfg.Listen {
		if err := s.listen(addr); err != nil {
			s.abort()
			return nil, err
		}
	}
	return s, nil
}

// share gives every loop an acceptor on an inherited socket.
func (s *Server) share(ln *poller.Listener) error {
	s.listeners = append(s.listeners, ln)
	s.addrs = append(s.addrs, ln.Addr())
	for _, w := range s.workers {
		id, err := w.loop.Accept(ln, w.accept)
		if err != nil {
			return fmt.Errorf("inherited socket %s: %w", ln.Addr(), err)
		}
		w.acceptors = append(w.acceptors, id)
	}
	return nil
}

// cachestatUsable is the start-up probe for cachestat(2); tests replace it
// to force the fallback to the one-byte preadv2 probes.
var cachestatUsable = transmit.CachestatUsable

// useCachestat decides at start-up, once per loop and counted on that
// loop, whether its Writer checks residency with cachestat(2): where the
// kernel lets the call through, or else with the one-byte preadv2 probes
// (kernels before 6.5, a system-call filter that refuses it). The first
// loop's answer is logged.
func (s *Server) useCachestat(sc *syscount.Counters) bool {
	err := cachestatUsable(sc)
	if len(s.workers) == 0 {
		ev := s.cfg.Log.Info().Str("probe", "cachestat")
		if err != nil {
			ev = s.cfg.Log.Info().Str("probe", "preadv2").Str("cachestat", unix.ErrnoName(errnoOf(err)))
		}
		ev.Msg("residency probe for file ranges before the loop sends them")
	}
	return err == nil
}

// errnoOf is err's errno, or 0.
func errnoOf(err error) unix.Errno {
	e, _ := err.(unix.Errno)
	return e
}

func transmitConfig(cfg *Config) (transmit.Config, error) {
	strategy, err := transmit.ParseStrategy(cfg.Transmit)
	if err != nil {
		return transmit.Config{}, fmt.Errorf("--transmit %s: want sendfile, splice or copy", cfg.Transmit)
	}
	return transmit.Config{ServerHeader: cfg.ServerHeader, Strategy: strategy, Budget: cfg.SendBudget}, nil
}

// listen binds addr and gives every loop an acceptor on it: its own
// SO_REUSEPORT sibling for TCP, the one shared socket for a Unix path.
func (s *Server) listen(addr string) error {
	first, err := poller.Listen(addr, poller.ListenConfig{ReusePort: true})
	if err != nil {
		return err
	}
	s.listeners = append(s.listeners, first)
	s.addrs = append(s.addrs, first.Addr())
	for i, w := range s.workers {
		ln := first
		if i > 0 && !first.Shared() {
			if ln, err = first.Sibling(); err != nil {
				return err
			}
			s.listeners = append(s.listeners, ln)
		}
		id, err := w.loop.Accept(ln, w.accept)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		w.acceptors = append(w.acceptors, id)
		if !ln.Shared() {
			w.own = append(w.own, ln)
		}
	}
	return nil
}

// abort undoes a partial New.
func (s *Server) abort() {
	for _, w := range s.workers {
		w.loop.Stop()
		<-w.loop.Done()
	}
	s.release()
}

// release frees what New acquired, once every loop has returned: the
// listeners, the pools, the loops' counters, the access-log sink and the
// index, in that order.
func (s *Server) release() {
	for _, ln := range s.listeners {
		ln.Close()
	}
	if s.pool != nil {
		// Reads still out complete on the pool's threads now that the
		// loops are gone (see iopool): they release their entries before
		// the index closes.
		s.pool.Close()
	}
	if s.compress != nil {
		// Queued jobs are dropped; a codec run in progress ends (one file,
		// at most a few seconds at brotli 11 and 1 MiB) and its job
		// releases its entry before the index closes.
		s.compress.Close()
	}
	for _, w := range s.workers {
		// The loop and the pool's threads are gone: this goroutine is
		// the only writer of the loop's counters now.
		w.tw.Close()
	}
	if s.sink != nil {
		s.sink.close()
	}
	s.index.Close(nil)
}

// Addrs returns the bound addresses, one per configured address, with the
// real port where port 0 was asked.
func (s *Server) Addrs() []string { return append([]string(nil), s.addrs...) }

// Run serves until Shutdown has drained every loop (or its timeout has
// closed what was left), then releases everything. It returns the first
// error a loop failed with.
func (s *Server) Run() error {
	// Ready before the "listening" line, which tools (and the tests) take
	// as the sign to probe /readyz: the listeners are bound, so a client
	// connecting now waits in the accept queue for the loops below.
	s.running.Store(true)
	ev := s.cfg.Log.Info()
	if len(s.cfg.Inherited) > 0 {
		ev = ev.Bool("activated", true).Strs("fdnames", s.cfg.InheritedNames)
	}
	ev.Str("addr", strings.Join(s.addrs, ",")).Strs("addrs", s.addrs).Strs("urls", urls(s.addrs)).Str("version", s.cfg.Version).
		Str("root", s.cfg.Root).Int("loops", len(s.workers)).Str("transmit", s.cfg.Transmit).Int("io_threads", max(s.cfg.IOThreads, 0)).Bool("compress", s.compress != nil).
		Bool("openat2", s.index.UsesOpenat2()).Msg("listening")
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.loop.Run(); err != nil {
				s.runErr <- err
			}
		}()
	}
	wg.Wait()
	close(s.runErr)
	s.release()
	var errs []error
	for err := range s.runErr {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// urls writes each bound address as a client would use it: an http URL
// for TCP, the unix: address as it is.
func urls(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if strings.HasPrefix(a, "unix:") {
			out[i] = a
		} else {
			out[i] = "http://" + a + "/"
		}
	}
	return out
}

// Shutdown begins a graceful shutdown and returns at once: every loop stops
// accepting, closes its idle connections, and lets responses in flight
// finish (each later response carries Connection: close); after the
// shutdown timeout, whatever is left is closed. Run returns when all loops
// have stopped. A second call closes everything at once.
func (s *Server) Shutdown() {
	if !s.stopping.CompareAndSwap(false, true) {
		s.forceClose()
		return
	}
	for _, w := range s.workers {
		w.loop.Submit(w.drain)
	}
	go func() {
		t := time.NewTimer(s.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			s.forceClose()
		case <-s.allStopped():
		}
	}()
}

func (s *Server) forceClose() {
	s.once.Do(func() {
		for _, w := range s.workers {
			w.loop.Submit(w.closeAll)
		}
	})
}

func (s *Server) allStopped() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for _, w := range s.workers {
			<-w.loop.Done()
		}
		close(ch)
	}()
	return ch
}

// returnMemory runs, on a goroutine of its own, when every loop has been
// quiet for quietTrim and has trimmed its pools. What the pools let go of
// is garbage, but a server that allocates nothing per request triggers no
// garbage collection (the runtime forces one only every two minutes), and
// the background scavenger keeps freed pages up to about a tenth over the
// heap goal, returning the rest slowly. So it collects twice (runtime.GC,
// then debug.FreeOSMemory, which collects and returns every free page at
// once: madvise MADV_DONTNEED, Go's default on Linux since 1.16, so the
// resident size drops at once). Each collection is concurrent apart from
// two short stop-the-world phases; the loops keep running in between. The
// whole call's duration and the pauses' sum are logged and exported.
func (s *Server) returnMemory() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(sample)
	released := sample[0].Value.Uint64()
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	pauses := gc.PauseTotal
	start := time.Now()
	// Two collections: objects in a sync.Pool survive the first (it moves
	// them to the pool's victim cache) and are freed by the second. The
	// admin listener's gzip writers for /metrics, 0.6 MiB each, live there.
	runtime.GC()
	debug.FreeOSMemory()
	took := time.Since(start)
	debug.ReadGCStats(&gc)
	metrics.Read(sample)
	pause := gc.PauseTotal - pauses
	s.returnNs.Store(int64(took))
	s.pauseNs.Store(int64(pause))
	s.returns.Add(1)
	s.cfg.Log.Info().Dur("took", took).Dur("gc_pause", pause).
		Int64("released_bytes", int64(sample[0].Value.Uint64())-int64(released)).Msg("memory returned")
}

// Reopen reopens the access log (SIGHUP).
func (s *Server) Reopen() error {
	if s.sink == nil {
		return nil
	}
	return s.sink.Reopen()
}

// Counters returns the sum of every loop's syscall counters.
func (s *Server) Counters() syscount.Snapshot {
	var sum syscount.Snapshot
	for _, w := range s.workers {
		snap := w.sc.Snapshot()
		sum.Add(&snap)
	}
	return sum
}

// Stats are the server's own tallies, summed over loops.
type Stats struct {
	Requests      uint64 // requests parsed
	Rejected      uint64 // connections refused with 503 at --max-conns
	Open          uint64 // connections open now
	Timeouts      uint64 // connections closed by a timeout
	Aborts        uint64 // responses cut short by the client
	LogDropped    uint64 // access-log lines dropped because the writer fell behind
	Uptime        time.Duration
	ShutdownForce bool // the shutdown timeout closed responses still in flight
}

// Stats sums the loops' tallies.
func (s *Server) Stats() Stats {
	var st Stats
	for _, w := range s.workers {
		ls := &w.stats
		st.Requests += ls.requests.Load()
		st.Rejected += ls.rejected.Load()
		st.Open += uint64(ls.open.Load())
		st.Timeouts += ls.closed[closeHeaderTimeout].Load() + ls.closed[closeIdleTimeout].Load() + ls.closed[closeWriteTimeout].Load()
		st.Aborts += ls.closed[closeAborted].Load()
		if ls.forced.Load() {
			st.ShutdownForce = true
		}
	}
	if s.sink != nil {
		st.LogDropped = s.sink.dropped.Load()
	}
	st.Uptime = time.Since(s.started)
	return st
}

// traceLogger is log at zerolog's trace level, the level of the per-call
// trace lines, so that Config.Trace shows them whatever the level of the
// rest. zerolog also filters by a process-wide level, which stops trace
// events by default (it starts at debug); nothing else in epfs sets it,
// and a server asked to trace lowers it to trace.
func traceLogger(log zerolog.Logger) zerolog.Logger {
	if zerolog.GlobalLevel() > zerolog.TraceLevel {
		zerolog.SetGlobalLevel(zerolog.TraceLevel)
	}
	return log.Level(zerolog.TraceLevel)
}

// traceFunc returns the hook that logs each system call of loop i, at
// trace level: which call, on which descriptor, the offset and count that
// matter, the result, the errno by the kernel's name for it (EAGAIN, as
// strace prints it, not its strerror text) and how long the kernel took.
// It runs on the loop's goroutine.
func traceFunc(log zerolog.Logger, i int) syscount.TraceFunc {
	return func(r syscount.Record) {
		ev := log.Trace().Int("loop", i).Str("syscall", r.Syscall.String()).Int("fd", r.Fd)
		switch r.Syscall {
		case syscount.Sendfile, syscount.Splice, syscount.Pread, syscount.Preadv2:
			ev = ev.Int64("offset", r.Offset).Int("count", r.Count)
		case syscount.Read, syscount.Write, syscount.Writev, syscount.Sendto, syscount.EpollWait:
			ev = ev.Int("count", r.Count)
		}
		ev = ev.Int("ret", r.Ret)
		if r.Errno != 0 {
			ev = ev.Str("errno", errnoName(r.Errno))
		}
		ev.Dur("dur_ms", r.Dur).Msg("syscall")
	}
}

// Summary logs a one-line summary of the counters (SIGUSR1).
func (s *Server) Summary(log zerolog.Logger, msg string) {
	st := s.Stats()
	snap := s.Counters()
	ev := log.Info().Uint64("requests", st.Requests).Uint64("accepted", snap.Events[syscount.Accepted]).
		Uint64("open", st.Open).Uint64("rejected", st.Rejected).Uint64("timeouts", st.Timeouts).
		Uint64("aborts", st.Aborts).Uint64("log_dropped", st.LogDropped)
	for sc := range syscount.NumSyscalls {
		if n := snap.Total(sc); n > 0 {
			ev = ev.Uint64(sc.String(), n)
		}
	}
	ev.Uint64("bytes_sent", snap.Events[syscount.BytesSent]+snap.Events[syscount.BytesWritten]).
		Bool("forced", st.ShutdownForce).Float64("uptime_s", st.Uptime.Seconds()).Msg(msg)
}

// errnoName is the kernel's name for e ("EAGAIN"), or its number when it
// has none.
func errnoName(e unix.Errno) string {
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(int(e))
}
