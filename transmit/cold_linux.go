//go:build linux

package transmit

import (
	"os"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Cold ranges.
//
// Regular files ignore O_NONBLOCK (open(2)), so a sendfile, splice or pread
// whose range is not in the page cache blocks its thread until the disk
// answers: on an event loop, every connection of the loop waits. With
// Config.Probe, Step asks the kernel first, once per chunk (at most
// Config.Budget bytes), in one of two ways.
//
// With Config.Cachestat: one cachestat(2) over the chunk and raMargin bytes
// after it counts the pages in the page cache (Linux 6.5+). It sees a
// missing page anywhere in the range, but it counts a page whose read is
// still in flight as cached; probeCachestat says how that is guarded (the
// one-byte probes below run where this response's own reads may be in
// flight) and why the call may run on the loop.
//
// Otherwise, and where cachestat is refused: preadv2(2) with RWF_NOWAIT
// reads only what is already cached and fails with EAGAIN instead of
// starting I/O (Linux 4.14+; since 5.8 it also sets IOCB_NOIO, so the probe
// does not even start readahead, on most kernels: see below). One byte is read at the first and at the
// last byte of the chunk: two calls of about a microsecond each per chunk.
//
// What the one-byte probes do not see, bounded here:
//   - A hole in the middle of a chunk whose ends are cached (cachestat sees
//     it). The chunks a Fetch reads are read whole, so in a stream the
//     pool feeds this needs pages evicted from the middle of a chunk
//     between the fetch and the send.
//   - Pages evicted between the probe and the send, microseconds apart.
//   - A missing page the probe read itself. Not every kernel keeps
//     RWF_NOWAIT from starting I/O: on 6.18 (the build machine) the probe
//     of an evicted page starts reading its folio and answers EAGAIN, or,
//     when the device answers before the probe looks at the folio again,
//     reads the byte (once in about 400 probes of an evicted page; every
//     one left the page cached). Either way the chunk's end pages come
//     in without the rest, and a chunk is then vouched for whose middle
//     the send will read from the device. cachestat, which decides first
//     where it is usable, reads nothing.
//   - A cached page that carries the readahead marker (PG_readahead)
//     answers EAGAIN too: with IOCB_NOIO the kernel refuses to start the
//     asynchronous readahead the marker asks for (filemap_readahead in
//     mm/filemap.c). That is a false "cold", and harmless: the Fetch's read
//     starts that readahead, which clears the marker, and the next probe
//     succeeds.
//
// A file system without RWF_NOWAIT for reads (FMODE_NOWAIT unset: tmpfs,
// procfs, some network file systems) answers EOPNOTSUPP; the response is then
// sent as without Probe (or, where cachestat vouched for the chunk, as
// cachestat found it), and ProbesUnsupported counts it.

// maxFaultRounds bounds the fetches that only fault a chunk into the page
// cache. If the probe still finds the chunk cold after that many (memory
// pressure evicts it before the loop gets to send it), the next Fetch reads
// the chunk's first bytes into the response's buffer and the loop writes
// them from there: progress no longer depends on the page cache keeping
// them.
const maxFaultRounds = 2

// fetchAhead is how far past a cold chunk a Fetch asks the kernel to read
// ahead (readahead(2)), so the disk works on the next chunks while the loop
// sends this one: a large cold file streams instead of stopping at every
// chunk.
const fetchAhead = 2 << 20

var pageSize = int64(os.Getpagesize())

// Fetch is the off-loop read that a Cold step asks for: bring [Off, Off+Len)
// of Fd into the page cache, or, when Copy is set, read its first len(Copy)
// bytes into Copy. The response owns it; Step fills it when it returns Cold
// and it is valid until Fetched. Only Run may be called on another
// goroutine, and only between Cold and Fetched.
type Fetch struct {
	Fd    int    // the file (shared; read at explicit offsets only)
	Off   int64  // the first byte of the chunk the probe found cold
	Len   int64  // the chunk's length: what the loop sends next
	Ahead int64  // bytes past the chunk worth starting to read too
	Copy  []byte // nil: fault the chunk in; else: read into Copy (see maxFaultRounds)

	N   int   // set by Run: bytes read (into Copy, or faulted in)
	Err error // set by Run: the errno of a failed read (EIO...); nil otherwise
	ran bool  // set by Run
}

// Run does the fetch on the calling thread, which may block: readahead(2)
// over the chunk and the window after it, so the device gets one large
// request it can work on while the loop sends, then pread(2)s of the chunk
// into buf, which return only once their pages are in the page cache (the
// readahead queued them; a read waits for them, or reads what it did not
// queue). buf is the thread's own scratch buffer; what lands in it is
// thrown away. c is the thread's counters. A Copy fetch is one pread into
// Copy instead.
func (f *Fetch) Run(c *syscount.Counters, buf []byte) {
	f.ran = true
	if f.Copy != nil {
		f.N, f.Err = c.Pread(f.Fd, f.Copy, f.Off)
		return
	}
	// A hint: an error (EINVAL where the file cannot be read ahead) leaves
	// the reads below to fault the pages in by themselves.
	c.Readahead(f.Fd, f.Off, int(min(f.Len+f.Ahead, 1<<30)))
	for off, end := f.Off, f.Off+f.Len; off < end; {
		n, err := c.Pread(f.Fd, buf[:min(int64(len(buf)), end-off)], off)
		if err != nil {
			f.Err = err
			return
		}
		if n == 0 {
			return // the file shrank: the loop's send reports ErrTruncated
		}
		off += int64(n)
		f.N += n
	}
}

// Fetch returns the read the last Cold asked for. It is valid until
// Fetched.
func (r *Response) Fetch() *Fetch { return &r.fetch }

// Fetched tells the response, on its loop, that its Fetch has run (or was
// never handed to a thread: the caller could not queue it), once for each
// Cold. Call Step next, which probes the chunk again, or Reset if the
// connection died meanwhile. If the read failed, the response fails with
// its errno (released, counted on the Writer's counters).
func (r *Response) Fetched() {
	f := &r.fetch
	if f.ran {
		// The fetch's readahead, and what the kernel reads ahead of its
		// preads, may still be in flight up to here (see probeCachestat).
		r.raEnd = max(r.raEnd, f.Off+f.Len+f.Ahead+raMargin)
	}
	switch {
	case !f.ran:
		// Not run: nothing changed; Step probes again.
	case f.Err != nil:
		r.fail(f.Err)
	case f.Copy != nil:
		if f.N == 0 {
			r.fail(ErrTruncated)
			return
		}
		r.off += int64(f.N)
		r.cpOff, r.cpEnd = 0, f.N
		r.rounds = 0
	default:
		r.rounds++
	}
	f.Copy = nil
}

// vouch runs the probe before file bytes at r.off are read (with
// Config.Probe) and returns how many the send may read: at most left, and
// never past the warm window the probes vouched for. ok is false when the
// chunk at r.off is cold: nothing may be read. A splice with bytes still
// in its pipe sends those first, reading nothing, so it is not probed.
func (r *Response) vouch(left int) (lim int, ok bool) {
	if !r.w.cfg.Probe || r.noProbe || r.src == srcSplice && r.pipeN > 0 {
		return left, true
	}
	switch {
	case r.off < r.warmOff || r.off >= r.warmEnd:
		if !r.probe(r.off) {
			return 0, false
		}
	case r.warmEnd < r.end && r.warmEnd-r.off < int64(left) && r.coldAhead != r.warmEnd:
		// The warm window ends inside this Step's budget: vouch for the
		// next chunk now, so that one call spans both instead of
		// stopping at the window's end. Cold, it is left to the probe at
		// warmEnd, and not asked again before then.
		if !r.probe(r.warmEnd) {
			r.coldAhead = r.warmEnd
		}
	}
	if r.noProbe {
		return left, true // the probe found the file system cannot say
	}
	return int(min(int64(left), r.warmEnd-r.off)), true
}

// probe checks that the chunk of the response's current range starting at
// at (r.off, or r.warmEnd to vouch for the next chunk ahead) is in the
// page cache, and if so adds it to the warm window. It reports false when
// it is cold; the caller counts that (ProbesCold) if it parks the
// response. With cachestat (see probeCachestat) one call usually answers;
// the one-byte preadv2 probes run where cachestat cannot tell (pages this
// response's own reads may still be filling) and where it is not
// available.
func (r *Response) probe(at int64) bool {
	w := r.w
	chunk := min(r.end-at, int64(w.cfg.Budget))
	vouched := false
	if w.cachestat && !r.noCachestat {
		switch r.probeCachestat(at, chunk) {
		case chunkResident:
			w.bump(ProbesResident)
			r.warm(at, chunk)
			return true
		case chunkAbsent:
			return false
		case chunkInFlight:
			vouched = true
		}
	}
	last := at + chunk - 1
	offs := [2]int64{at, last}
	probes := 2
	if at/pageSize == last/pageSize {
		probes = 1 // one page: one probe
	}
	for _, off := range offs[:probes] {
		_, err := w.sc.Preadv2(r.rep.Fd, w.probe[:], off, unix.RWF_NOWAIT)
		switch err {
		case nil:
			// Resident, or end of file (0 bytes): a file that shrank is
			// the send's to report, as ErrTruncated.
		case unix.EAGAIN:
			return false
		case unix.EOPNOTSUPP:
			w.bump(ProbesUnsupported)
			if vouched {
				// cachestat counted every page; this file system
				// cannot say more (shmem has no readahead in flight).
				r.warm(at, chunk)
				return true
			}
			r.noProbe = true
			return true
		default:
			// EIO and the like: the send meets the same error and fails
			// the response with it; the probe has nothing to add.
			w.bump(ProbesFailed)
			r.warm(at, chunk)
			return true
		}
	}
	w.bump(ProbesResident)
	r.warm(at, chunk)
	return true
}

// warm adds [at, at+chunk), which a probe vouched for, to the warm window:
// it extends the window when it follows it, and replaces it otherwise.
func (r *Response) warm(at, chunk int64) {
	if at != r.warmEnd || r.off < r.warmOff || r.off > r.warmEnd {
		r.warmOff = at
	}
	r.warmEnd = at + chunk
	r.rounds = 0
}

// chunkState is what cachestat found about a chunk.
type chunkState uint8

const (
	chunkResident chunkState = iota // every page is in, and none can be in flight from this response
	chunkAbsent                     // a page is missing: Cold
	chunkInFlight                   // every page is in, but this response's own reads may still be filling some
	chunkUnknown                    // cachestat was refused or failed: the one-byte probes decide
)

// raMargin is how far past a chunk cachestat also looks. A sendfile over a
// page that carries the readahead marker (PG_readahead) starts asynchronous
// readahead of the pages after it that are missing (page_cache_async_ra in
// mm/readahead.c): a window of at most the device's read_ahead_kb (128 KiB
// by default) or, for a larger request, its max_sectors_kb, that may begin
// up to one window past the marker. Pages of that window count as cached
// to cachestat from the moment the read is queued, and the next chunk's
// sendfile would wait for them. When the margin past the chunk is fully
// cached too, no page the chunk's sends could read ahead is missing, so
// none will be in flight when the next chunk is probed. 4 MiB is twice the
// largest window of a default configuration; a device tuned to a
// read_ahead_kb above 2 MiB can start readahead past it.
const raMargin = 4 << 20

// probeCachestat asks cachestat(2) how much of the chunk at at and of the
// margin after it is in the page cache: usually one call.
//
// cachestat counts a page as cached as soon as it is in the page cache,
// before a read in flight has filled it (see syscount.Cachestat), so "all
// cached" is only "resident" where no read can be in flight. Reads this
// response started are tracked: the Fetch's readahead and the reads the
// kernel chains to it reach at most r.raEnd, and so do the readahead its
// own sendfiles may start when the margin had holes. Below r.raEnd the
// one-byte preadv2(RWF_NOWAIT) probes run as well: a page under read is
// locked, and with IOCB_NOWAIT filemap_update_page refuses to wait for it
// (EAGAIN). Reads that other responses or processes started on the same
// file are not seen; what they can cost is the end of a read already in
// flight, never a read the loop starts (a missing page shows to cachestat).
//
// cachestat itself does no I/O: it walks the file's page-cache xarray
// under RCU, after a rate-limited flush of memory-cgroup statistics, and
// may reschedule on a long walk. That is CPU work bounded by the pages in
// the range, never a wait for a device, so it runs on the loop, as the
// preadv2 probe does: 6-9 µs for the 6 MiB of a 2 MiB chunk and its
// margin, against 3-5 µs for the two one-byte probes (BenchmarkProbe, a
// shared machine), about 2% of what sending the chunk costs the loop. The
// margin is most of it; it buys the guarantee above.
//
// cachestat can also answer short over pages that are all resident: on
// 6.18 with CPUs busy, a call starting inside a file of large folios
// missed one of them now and then (a 1 MiB folio, in about 1 call in
// 4,400, measured; the same call again counted it). A short answer only
// costs work: the chunk is taken as cold (a Fetch of pages already
// there) or the next chunks are guarded by the one-byte probes.
func (r *Response) probeCachestat(at, chunk int64) chunkState {
	end := at + chunk
	margin := max(end, min(end+raMargin, r.rep.Size))
	guard := at < r.raEnd
	if !r.cachestat(at, margin) {
		return chunkUnknown
	}
	if r.w.cst.Cache < pages(at, margin) {
		if margin > end {
			if !r.cachestat(at, end) {
				return chunkUnknown
			}
		}
		if r.w.cst.Cache < pages(at, end) {
			return chunkAbsent
		}
		// The chunk is in, a page of the margin is not: sending the
		// chunk may start readahead into the margin, so the next chunk
		// is guarded.
		r.raEnd = max(r.raEnd, margin)
	}
	if guard {
		return chunkInFlight
	}
	return chunkResident
}

// cachestat fills w.cst for [off, end) of the response's file. A refusal
// turns cachestat off: EPERM (a seccomp filter, or a file the process may
// not write and does not own, on kernels that check) for the whole Writer,
// since it says how the server is run, not something about one file; any
// other error (EOPNOTSUPP on hugetlbfs) for this response.
func (r *Response) cachestat(off, end int64) bool {
	w := r.w
	switch err := w.sc.Cachestat(r.rep.Fd, off, end-off, &w.cst); err {
	case nil:
		return true
	case unix.EPERM, unix.ENOSYS:
		w.cachestat = false
		w.bump(CachestatRefused)
	default:
		r.noCachestat = true
	}
	return false
}

// pages is the number of pages that hold the bytes [off, end), end > off.
func pages(off, end int64) uint64 {
	return uint64((end-1)/pageSize - off/pageSize + 1)
}

// CachestatUsable is the start-up probe for Config.Cachestat: one
// cachestat(2) on descriptor -1, counted on c. It returns nil when the
// kernel answers EBADF, which it does only once the call exists and a
// seccomp filter has let it through, and otherwise the error: ENOSYS
// before Linux 6.5, EPERM under a system-call filter that does not allow
// it (systemd's SystemCallFilter= with SystemCallErrorNumber=EPERM).
// Whether the kernel will also let the process see a given file's pages
// (kernels that check write access or ownership) only a call on that file
// tells; the Writer handles that refusal as it comes.
func CachestatUsable(c *syscount.Counters) error {
	var st unix.Cachestat_t
	switch err := c.Cachestat(-1, 0, 0, &st); err {
	case unix.EBADF:
		return nil
	case nil:
		return unix.EINVAL // cannot be: no process has descriptor -1
	default:
		return err
	}
}

// cold fills the Fetch for the chunk at r.off and parks the response.
func (r *Response) cold() Outcome {
	w := r.w
	w.bump(ProbesCold)
	chunk := min(r.end-r.off, int64(w.cfg.Budget))
	r.fetch = Fetch{Fd: r.rep.Fd, Off: r.off, Len: chunk, Ahead: min(fetchAhead, r.rep.Size-(r.off+chunk))}
	if r.rounds >= maxFaultRounds {
		if r.s.copy == nil {
			r.s.copy = make([]byte, copyBufSize)
		}
		r.fetch.Copy = r.s.copy[:min(chunk, copyBufSize)]
		w.bump(FetchCopies)
	}
	return Cold
}
