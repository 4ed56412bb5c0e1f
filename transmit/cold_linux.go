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
// Config.Probe, Step asks the kernel first. preadv2(2) with RWF_NOWAIT reads
// only what is already cached and fails with EAGAIN instead of starting I/O
// (Linux 4.14+; since 5.8 it also sets IOCB_NOIO, so the probe does not even
// start readahead). One byte is read at the first and at the last byte of
// the chunk about to be sent (at most Config.Budget bytes): two calls of
// about a microsecond each per chunk, against a sendfile of up to 1 MiB.
//
// What the probe does not see, bounded here:
//   - A hole in the middle of a chunk whose ends are cached. The chunks a
//     Fetch reads are read whole, so in a stream the pool feeds this needs
//     pages evicted from the middle of a chunk between the fetch and the send.
//   - Pages evicted between the probe and the send, microseconds apart.
//   - A cached page that carries the readahead marker (PG_readahead)
//     answers EAGAIN too: with IOCB_NOIO the kernel refuses to start the
//     asynchronous readahead the marker asks for (filemap_readahead in
//     mm/filemap.c). That is a false "cold", and harmless: the Fetch's read
//     starts that readahead, which clears the marker, and the next probe
//     succeeds.
//
// A file system without RWF_NOWAIT for reads (FMODE_NOWAIT unset: tmpfs,
// procfs, some network file systems) answers EOPNOTSUPP; the response is then
// sent as without Probe, and ProbesUnsupported counts it.

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
// its errno (released, counting on c).
func (r *Response) Fetched(c *syscount.Counters) {
	f := &r.fetch
	switch {
	case !f.ran:
		// Not run: nothing changed; Step probes again.
	case f.Err != nil:
		r.fail(r.w, c, f.Err)
	case f.Copy != nil:
		if f.N == 0 {
			r.fail(r.w, c, ErrTruncated)
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

// probe checks that the chunk about to be sent from r.off is in the page
// cache, and if so marks it warm. It reports false when it is cold.
func (r *Response) probe(w *Writer, c *syscount.Counters) bool {
	chunk := min(r.end-r.off, int64(w.cfg.Budget))
	last := r.off + chunk - 1
	at := [2]int64{r.off, last}
	probes := 2
	if r.off/pageSize == last/pageSize {
		probes = 1 // one page: one probe
	}
	for _, off := range at[:probes] {
		_, err := c.Preadv2(r.rep.Fd, w.probe[:], off, unix.RWF_NOWAIT)
		switch err {
		case nil:
			// Resident, or end of file (0 bytes): a file that shrank is
			// the send's to report, as ErrTruncated.
		case unix.EAGAIN:
			w.bump(ProbesCold)
			return false
		case unix.EOPNOTSUPP:
			w.bump(ProbesUnsupported)
			r.noProbe = true
			return true
		default:
			// EIO and the like: the send meets the same error and fails
			// the response with it; the probe has nothing to add.
			w.bump(ProbesFailed)
			r.warmOff, r.warmEnd = r.off, r.off+chunk
			return true
		}
	}
	w.bump(ProbesResident)
	r.warmOff, r.warmEnd = r.off, r.off+chunk
	r.rounds = 0
	return true
}

// cold fills the Fetch for the chunk at r.off and parks the response.
func (r *Response) cold(w *Writer) Outcome {
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
