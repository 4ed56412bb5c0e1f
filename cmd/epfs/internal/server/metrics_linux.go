//go:build linux

package server

import (
	"bytes"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/fsindex/compress"
	"github.com/epfs/epfs/poller/syscount"
	"github.com/epfs/epfs/transmit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// collector exports the loops' counters in the Prometheus text format. It
// reads them at scrape time — the loops keep plain single-writer counters
// and never touch a Prometheus metric on the serving path.
type collector struct {
	s *Server

	syscalls, bytes, events, waits        *prometheus.Desc
	requests, responses, closed, accepted *prometheus.Desc
	open, rejected, resumes, logDropped   *prometheus.Desc
	continued                             *prometheus.Desc
	rejectedNow, refusing                 *prometheus.Desc
	threadID, ctxSwitches                 *prometheus.Desc

	probes, ioHanded, ioFull, ioCopies *prometheus.Desc
	ioWait, ioQueue, ioSyscalls, ioTID *prometheus.Desc
	lookupHanded, lookupFull           *prometheus.Desc
	transmit                           *prometheus.Desc
	listingBytes, listingsBuilt        *prometheus.Desc
	returns, returnSecs, pauseSecs     *prometheus.Desc
	logErrors, buildInfo               *prometheus.Desc
	requestSecs                        *prometheus.Desc

	saved                                       *prometheus.Desc
	variantsBuilt, variantsSkipped, buildSecs   *prometheus.Desc
	variantsHeld, variantBytes, compressInOut   *prometheus.Desc
	compressDropped, compressQueue, compressTID *prometheus.Desc
	compressRuns, compressSyscalls              *prometheus.Desc
}

// unitOf gives a metric whose name ends in a unit (before a counter's
// _total) that unit, which OpenMetrics exposes in a # UNIT line: its
// names must end in their unit (OpenMetrics 1.0, "Unit"), and ours do.
func unitOf(name string) []prometheus.DescOpt {
	name = strings.TrimSuffix(name, "_total")
	for _, u := range []string{"seconds", "bytes"} {
		if strings.HasSuffix(name, "_"+u) {
			return []prometheus.DescOpt{prometheus.WithUnit(u)}
		}
	}
	return nil
}

func newCollector(s *Server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.V2.NewDesc("epfs_"+name, help, prometheus.UnconstrainedLabels(labels), nil, unitOf("epfs_"+name)...)
	}
	return &collector{
		s:           s,
		syscalls:    d("syscalls_total", "System calls made by the serving path, by loop, syscall and result.", "loop", "syscall", "result"),
		bytes:       d("bytes_total", "Bytes moved by the serving path: read from sockets, written to them, and sent by sendfile or splice.", "loop", "direction"),
		events:      d("loop_events_total", "Loop tallies: stale epoll events dropped, eventfd wakeups, submitted functions run, timers fired, accept pauses on EMFILE/ENFILE, sleeps (blocking epoll_waits, made only after a zero-timeout poll found nothing).", "loop", "event"),
		waits:       d("epoll_wait_events", "Events returned per epoll_wait.", "loop"),
		requests:    d("requests_total", "Request heads parsed (or refused by the parser).", "loop"),
		responses:   d("responses_total", "Responses completed or cut short, by status class.", "loop", "code"),
		closed:      d("connections_closed_total", "Connections closed, by reason.", "loop", "reason"),
		accepted:    d("connections_accepted_total", "Connections accepted.", "loop"),
		open:        d("connections_open", "Connections open now.", "loop"),
		rejected:    d("connections_rejected_total", "Connections refused with 503 at --max-conns or while shutting down.", "loop"),
		rejectedNow: d("connections_rejected_at_once_total", "Refused connections closed right after their 503, because the loop already had its most refused connections lingering (min(64, its share of --max-conns)).", "loop"),
		refusing:    d("connections_refusing", "Refused connections registered now: waiting for their request to answer 503, then closing lingeringly.", "loop"),
		resumes:     d("epollout_resumes_total", "Responses resumed on EPOLLOUT after the socket was full.", "loop"),
		continued:   d("send_continuations_total", "Send budgets a response went on with at once, its socket still writable and nothing else waiting on its loop (at most 3 in a row), instead of being requeued.", "loop"),
		logDropped:  d("access_log_dropped_total", "Access-log lines dropped because the log writer fell behind."),
		logErrors:   d("access_log_write_errors_total", "Writes of access-log buffers that failed (a full disk, a closed pipe); the buffer's lines are lost."),
		requestSecs: d("request_duration_seconds", "Time from a request's head parsed (or refused by the parser) to its response done (complete, or cut short), by loop. "+
			"Both ends are read on the loop's batch clock, once per epoll_wait pass, never per request: the resolution is one pass, microseconds on a light load and up to the length of a busy pass under a heavy one; "+
			"a response finished in the pass its request arrived in counts as 0.", "loop"),
		buildInfo: d("build_info", "Always 1: the version of epfs and of the Go toolchain that built it, as labels.", "version", "goversion"),
		// The loop's thread makes only the loop's syscalls, so a per-thread
		// kernel tool (perf stat -t TID, strace -p TID) can audit the counters.
		threadID: d("loop_thread_id", "Kernel thread id (gettid) of the loop's OS thread, for perf stat -t or strace -p; 0 before the loop runs.", "loop"),
		// Read at scrape time from /proc/self/task/TID/status: the loop's
		// goroutine is locked to that thread for as long as it runs.
		ctxSwitches: d("loop_context_switches_total", "Context switches of the loop's thread, from /proc/self/task/TID/status: voluntary (it slept, in a blocking epoll_wait or waiting for a P) and involuntary (the kernel preempted it: something else wanted its CPU).", "loop", "kind"),

		probes:       d("cold_probes_total", "File chunks probed (cachestat, or preadv2 with RWF_NOWAIT) before the loop sent them, by result: resident, cold (handed to the I/O pool), unsupported (RWF_NOWAIT refused with EOPNOTSUPP), failed; refused counts cachestat calls the kernel refused (EPERM), after which the loop probes with preadv2.", "loop", "result"),
		ioHanded:     d("io_handed_total", "Cold file ranges handed to the I/O pool.", "loop"),
		ioFull:       d("io_queue_full_total", "Cold file ranges the full I/O queue refused; the connection probed again later.", "loop"),
		ioCopies:     d("io_copies_total", "Cold ranges read into the response's buffer by the pool, after faulting them in did not keep them resident.", "loop"),
		ioWait:       d("io_wait_seconds", "How long connections waited for the I/O pool, from handing a range over to sending again.", "loop"),
		ioQueue:      d("io_queue_length", "Cold ranges waiting for an I/O thread now."),
		ioSyscalls:   d("io_syscalls_total", "System calls made by the I/O pool's threads, by thread, syscall and result.", "thread", "syscall", "result"),
		lookupHanded: d("io_lookups_total", "Cache misses and stale entries (openat2, fstat, small-file reads, listings) looked up on the I/O pool instead of the loop.", "loop"),
		lookupFull:   d("io_lookup_queue_full_total", "Cache misses looked up on the loop because the I/O queue was full.", "loop"),
		ioTID:        d("io_thread_id", "Kernel thread id (gettid) of each I/O pool thread; 0 before it starts.", "thread"),
		transmit:     d("transmit_total", "Response writer tallies: responses sent whole; Steps that ended on EAGAIN (would_blocks, each resumed on EPOLLOUT) or on the fairness budget (yields); transfers ended by the client (aborts), by a file that shrank (truncations) or by another error (failures).", "loop", "tally"),

		listingBytes:  d("listing_bytes", "Bytes of directory listing bodies alive now, one per directory however many responses send it: held by the cache, or loose (held only by responses, or being built; at most a quarter of the memory budget, beyond which a listing request gets 503).", "held"),
		listingsBuilt: d("listings_built_total", "Directory listings built (one fstatat per name shown), rebuilds included."),

		saved:            d("encoding_bytes_saved_total", "Body bytes that content codings kept off the wire: for each response that sent an encoded variant whole (computed or a sidecar), the identity's size minus the variant's.", "loop"),
		variantsBuilt:    d("compress_variants_built_total", "Computed variants attached to cache entries, by encoding.", "encoding"),
		variantsSkipped:  d("compress_variants_skipped_total", "Computed variants made but not kept: under 5% smaller than the identity, no room in the memory budget, or the entry left the cache meanwhile.", "encoding"),
		buildSecs:        d("compress_build_seconds", "Time one codec run took over one file, by encoding.", "encoding"),
		compressInOut:    d("compress_bytes_total", "Bytes through the codecs: identity bytes in, compressed bytes out, by encoding.", "encoding", "direction"),
		variantsHeld:     d("compress_variants_held", "Computed variants held by the cache now (they go with their entry)."),
		variantBytes:     d("compress_variant_bytes", "Bytes of the computed variants held by the cache now, part of its memory budget."),
		compressDropped:  d("compress_jobs_dropped_total", "Compression jobs refused because the compression queue was full; the entry is offered again at its next revalidation."),
		compressQueue:    d("compress_queue_length", "Compression jobs waiting for a thread now."),
		compressTID:      d("compress_thread_id", "Kernel thread id (gettid) of each compression thread; 0 before it starts.", "thread"),
		compressRuns:     d("compress_codec_runs_total", "Codec runs by the kernel thread id (gettid) each ran on, as recorded just before compressing: every tid here is a compression thread's.", "tid"),
		compressSyscalls: d("compress_syscalls_total", "System calls made by the compression threads (reading files that are not held in memory), by thread, syscall and result.", "thread", "syscall", "result"),

		returns:    d("memory_returns_total", "Times the loops, quiet for a while, trimmed their pools and the server returned free memory to the kernel (debug.FreeOSMemory)."),
		returnSecs: d("memory_return_seconds", "How long the last return of memory took (a garbage collection and a scavenge of every free page)."),
		pauseSecs:  d("memory_return_gc_pause_seconds", "The stop-the-world pause of the last return's garbage collection."),
	}
}

// Describe sends every metric's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.syscalls, c.bytes, c.events, c.waits, c.requests, c.responses,
		c.closed, c.accepted, c.open, c.rejected, c.rejectedNow, c.refusing, c.resumes, c.continued, c.logDropped, c.threadID, c.ctxSwitches,
		c.probes, c.ioHanded, c.ioFull, c.ioCopies, c.ioWait, c.ioQueue, c.ioSyscalls, c.ioTID, c.lookupHanded, c.lookupFull, c.listingBytes, c.listingsBuilt, c.returns, c.returnSecs, c.pauseSecs, c.transmit, c.logErrors, c.buildInfo, c.requestSecs,

		c.saved, c.variantsBuilt, c.variantsSkipped, c.buildSecs, c.compressInOut, c.variantsHeld, c.variantBytes, c.compressDropped, c.compressQueue, c.compressTID, c.compressRuns, c.compressSyscalls} {
		ch <- d
	}
}

var loopEvents = []syscount.Event{syscount.StaleEvents, syscount.Wakeups, syscount.Submitted, syscount.TimersFired, syscount.AcceptPauses, syscount.Sleeps}

// transmitTallies are the Writer's tallies epfs_transmit_total exports; its
// probe tallies go to epfs_cold_probes_total.
var transmitTallies = []transmit.Stat{transmit.Responses, transmit.WouldBlocks, transmit.Yields,
	transmit.Aborts, transmit.Truncations, transmit.Failures}

var statusClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Collect reads every loop's counters now.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for i, w := range c.s.workers {
		loop := strconv.Itoa(i)
		snap := w.sc.Snapshot()
		for sc := range syscount.NumSyscalls {
			for o := range syscount.NumOutcomes {
				if v := snap.Calls[sc][o]; v > 0 {
					counter(c.syscalls, v, loop, sc.String(), o.String())
				}
			}
		}
		counter(c.bytes, snap.Events[syscount.BytesRead], loop, "read")
		counter(c.bytes, snap.Events[syscount.BytesWritten], loop, "written")
		counter(c.bytes, snap.Events[syscount.BytesSent], loop, "sent")
		for _, e := range loopEvents {
			counter(c.events, snap.Events[e], loop, e.String())
		}
		buckets := make(map[float64]uint64, syscount.NumWaitBuckets-1)
		var cum uint64
		for b := 0; b < syscount.NumWaitBuckets; b++ {
			cum += snap.Waits[b]
			if bound := syscount.WaitBucketBound(b); bound >= 0 {
				buckets[float64(bound)] = cum
			}
		}
		ch <- prometheus.MustNewConstHistogram(c.waits, cum, float64(snap.Events[syscount.EpollEvents]), buckets, loop)

		ls := &w.stats
		counter(c.requests, ls.requests.Load(), loop)
		ch <- ls.reqDur.metric(c.requestSecs, loop)
		for class := 1; class < len(statusClasses); class++ {
			counter(c.responses, ls.responses[class].Load(), loop, statusClasses[class])
		}
		for r := range numCloseReasons {
			counter(c.closed, ls.closed[r].Load(), loop, closeReasonNames[r])
		}
		counter(c.accepted, snap.Events[syscount.Accepted], loop)
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(ls.open.Load()), loop)
		counter(c.rejected, ls.rejected.Load(), loop)
		counter(c.rejectedNow, ls.rejectedNow.Load(), loop)
		ch <- prometheus.MustNewConstMetric(c.refusing, prometheus.GaugeValue, float64(ls.refusing.Load()), loop)
		counter(c.resumes, ls.resumes.Load(), loop)
		counter(c.continued, ls.continued.Load(), loop)
		counter(c.saved, ls.saved.Load(), loop)
		for _, st := range transmitTallies {
			counter(c.transmit, w.tw.Stat(st), loop, st.String())
		}
		ch <- prometheus.MustNewConstMetric(c.threadID, prometheus.GaugeValue, float64(w.loop.ThreadID()), loop)
		if tid := w.loop.ThreadID(); tid > 0 {
			if vol, invol, ok := threadSwitches(tid); ok {
				counter(c.ctxSwitches, vol, loop, "voluntary")
				counter(c.ctxSwitches, invol, loop, "involuntary")
			}
		}
		c.collectIO(ch, w, loop)
	}
	if p := c.s.pool; p != nil {
		ch <- prometheus.MustNewConstMetric(c.ioQueue, prometheus.GaugeValue, float64(p.Len()))
		for i := range p.Threads() {
			thread := strconv.Itoa(i)
			snap := p.Counters(i).Snapshot()
			for sc := range syscount.NumSyscalls {
				for o := range syscount.NumOutcomes {
					if v := snap.Calls[sc][o]; v > 0 {
						counter(c.ioSyscalls, v, thread, sc.String(), o.String())
					}
				}
			}
			ch <- prometheus.MustNewConstMetric(c.ioTID, prometheus.GaugeValue, float64(p.ThreadID(i)), thread)
		}
	}
	if p := c.s.compress; p != nil {
		c.collectCompress(ch, p)
	}
	counter(c.returns, c.s.returns.Load())
	ch <- prometheus.MustNewConstMetric(c.returnSecs, prometheus.GaugeValue, time.Duration(c.s.returnNs.Load()).Seconds())
	ch <- prometheus.MustNewConstMetric(c.pauseSecs, prometheus.GaugeValue, time.Duration(c.s.pauseNs.Load()).Seconds())
	cached, loose := c.s.index.ListingBytes()
	ch <- prometheus.MustNewConstMetric(c.listingBytes, prometheus.GaugeValue, float64(cached), "cache")
	ch <- prometheus.MustNewConstMetric(c.listingBytes, prometheus.GaugeValue, float64(loose), "loose")
	counter(c.listingsBuilt, c.s.index.ListingsBuilt())
	var dropped, failed uint64
	if c.s.sink != nil {
		dropped, failed = c.s.sink.dropped.Load(), c.s.sink.errors.Load()
	}
	counter(c.logDropped, dropped)
	counter(c.logErrors, failed)
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, c.s.cfg.Version, runtime.Version())
}

// probeResults are the cold_probes_total results, in the order of their
// transmit tallies.
var probeResults = [...]struct {
	name string
	stat transmit.Stat
}{{"resident", transmit.ProbesResident}, {"cold", transmit.ProbesCold}, {"unsupported", transmit.ProbesUnsupported}, {"failed", transmit.ProbesFailed}, {"refused", transmit.CachestatRefused}}

// collectIO sends loop w's cold-range tallies: probes, hand-overs to the
// I/O pool and how long they waited.
func (c *collector) collectIO(ch chan<- prometheus.Metric, w *worker, loop string) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, p := range probeResults {
		counter(c.probes, w.tw.Stat(p.stat), loop, p.name)
	}
	ls := &w.stats
	counter(c.ioHanded, ls.ioHanded.Load(), loop)
	counter(c.ioFull, ls.ioFull.Load(), loop)
	counter(c.ioCopies, w.tw.Stat(transmit.FetchCopies), loop)
	counter(c.lookupHanded, ls.lookupHanded.Load(), loop)
	counter(c.lookupFull, ls.lookupFull.Load(), loop)
	ch <- ls.ioWait.metric(c.ioWait, loop)
}

// metric reads h now as a Prometheus histogram: cumulative buckets, the
// count being the last of them.
func (h *histogram) metric(d *prometheus.Desc, labels ...string) prometheus.Metric {
	return constHistogram(d, h.bounds, func(i int) uint64 { return h.counts[i].Load() }, time.Duration(h.sumNs.Load()), labels...)
}

// constHistogram builds a Prometheus histogram from per-bucket counts:
// count(i) observations were at most bounds[i], count(len(bounds)) longer.
// Prometheus wants the buckets cumulative, the count being the last.
func constHistogram(d *prometheus.Desc, bounds []time.Duration, count func(i int) uint64, sum time.Duration, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += count(i)
		buckets[b.Seconds()] = cum
	}
	cum += count(len(bounds))
	return prometheus.MustNewConstHistogram(d, cum, sum.Seconds(), buckets, labels...)
}

// codings are the encodings computed variants are built in, and their
// label values.
var codings = [...]fsindex.Encoding{fsindex.Gzip, fsindex.Brotli, fsindex.Zstd}

// collectCompress sends the compression pool's tallies, its threads' ids
// and syscalls, and the cache's computed variants.
func (c *collector) collectCompress(ch chan<- prometheus.Metric, p *compress.Pool) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, enc := range codings {
		name := enc.String()
		st := p.Stats(enc)
		counter(c.variantsBuilt, st.Built, name)
		counter(c.variantsSkipped, st.Skipped, name)
		counter(c.compressInOut, st.InBytes, name, "in")
		counter(c.compressInOut, st.OutBytes, name, "out")
		ch <- constHistogram(c.buildSecs, compress.BuildBounds[:], func(i int) uint64 { return st.Hist[i] }, st.Time, name)
	}
	n, b := c.s.index.VariantsHeld()
	ch <- prometheus.MustNewConstMetric(c.variantsHeld, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.variantBytes, prometheus.GaugeValue, float64(b))
	counter(c.compressDropped, p.Dropped())
	ch <- prometheus.MustNewConstMetric(c.compressQueue, prometheus.GaugeValue, float64(p.Len()))
	for i := range p.Threads() {
		thread := strconv.Itoa(i)
		ch <- prometheus.MustNewConstMetric(c.compressTID, prometheus.GaugeValue, float64(p.ThreadID(i)), thread)
		snap := p.Counters(i).Snapshot()
		for sc := range syscount.NumSyscalls {
			for o := range syscount.NumOutcomes {
				if v := snap.Calls[sc][o]; v > 0 {
					counter(c.compressSyscalls, v, thread, sc.String(), o.String())
				}
			}
		}
	}
	for tid, runs := range p.Runs() {
		counter(c.compressRuns, runs, strconv.Itoa(tid))
	}
}

// AdminHandler returns the handler for the admin listener: /metrics in the
// Prometheus text format (the server's counters plus the Go runtime's), or
// in OpenMetrics 1.0 text when the scraper's Accept asks for
// application/openmetrics-text (Prometheus does, first), and
// /debug/pprof/ when withPprof is set. It is plain net/http: the admin
// listener is not the serving path.
func (s *Server) AdminHandler(withPprof bool) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	text := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	om := promhttp.HandlerFor(openMetricsGatherer{reg}, promhttp.HandlerOpts{EnableOpenMetrics: true})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...).FormatType() == expfmt.TypeOpenMetrics {
			om.ServeHTTP(w, r)
			return
		}
		text.ServeHTTP(w, r)
	})
	s.handleHealth(mux)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// openMetricsGatherer is the registry as an OpenMetrics exposition may
// show it. OpenMetrics names a counter's family without its _total, so a
// counter X_total and a gauge X would be two families of one name, which
// no parser accepts: the Go collector's go_memstats_alloc_bytes_total and
// go_memstats_alloc_bytes do that (prometheus/client_golang#829, open).
// The gauge is left out of OpenMetrics; its value is also
// go_memstats_heap_alloc_bytes (both are runtime.MemStats.HeapAlloc).
type openMetricsGatherer struct{ g prometheus.Gatherer }

// Gather gathers and drops every non-counter family whose name is a
// counter's family name in OpenMetrics.
func (o openMetricsGatherer) Gather() ([]*dto.MetricFamily, error) {
	fams, err := o.g.Gather()
	counters := map[string]bool{}
	for _, f := range fams {
		if f.GetType() == dto.MetricType_COUNTER {
			counters[strings.TrimSuffix(f.GetName(), "_total")] = true
		}
	}
	return slices.DeleteFunc(fams, func(f *dto.MetricFamily) bool {
		return f.GetType() != dto.MetricType_COUNTER && counters[f.GetName()]
	}), err
}

// threadSwitches reads the context switches of thread tid of this process
// (proc(5), /proc/pid/task/tid/status). ok is false when the thread is
// gone or the file has no such lines.
func threadSwitches(tid int) (voluntary, involuntary uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	return parseSwitches(b)
}

// parseSwitches finds voluntary_ctxt_switches and nonvoluntary_ctxt_switches
// in the text of a status file.
func parseSwitches(status []byte) (voluntary, involuntary uint64, ok bool) {
	var seen int
	for line := range bytes.Lines(status) {
		name, value, found := bytes.Cut(bytes.TrimSpace(line), []byte(":"))
		if !found {
			continue
		}
		var dst *uint64
		switch string(name) {
		case "voluntary_ctxt_switches":
			dst = &voluntary
		case "nonvoluntary_ctxt_switches":
			dst = &involuntary
		default:
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(value)), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		*dst = n
		seen++
	}
	return voluntary, involuntary, seen == 2
}
