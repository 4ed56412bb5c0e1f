//go:build linux

package transmit

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/httpparse"
	"github.com/epfs/epfs/internal/enum"
	"github.com/epfs/epfs/internal/lifo"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Writer is the per-loop state every response on one loop shares: the
// configuration, the loop's syscall counters, the Date field value, a pool
// of header buffers and a pool of pipes for the Splice strategy. It is used
// only on its loop's goroutine, except Stat, which any goroutine may call.
//
// The Writer is the context of every call a response makes: a Response
// keeps the Writer that planned it, so Step, Reset and Fetched take only
// what changes from call to call (the socket), never the loop's counters
// again. One Writer per loop keeps the counters single-writer (see
// syscount).
type Writer struct {
	cfg Config
	sc  *syscount.Counters // the loop's counters: every syscall of its responses is counted here

	date    [29]byte // the Date field value, an IMF-fixdate (RFC 9110 §6.6.1)
	dateSec int64    // the Unix second date was formatted for

	slabs     lifo.Pool[*slab]    // idle per-response buffers, at most maxIdleSlabs
	pipes     lifo.Pool[pipePair] // idle empty pipes for Splice, at most maxIdlePipes
	open      int                 // pipes open: idle plus held by transfers in flight
	slabSize  int                 // the head room a new slab gets: slabBufSize and Config.Fields
	seed      uint64              // random, per Writer: multipart boundaries are unguessable
	seq       uint64              // multipart responses planned, for the next boundary
	probe     [1]byte             // where a probe's one byte lands
	cachestat bool                // probe with cachestat(2): Config.Cachestat, until the kernel refuses it
	cst       unix.Cachestat_t    // what the last cachestat found
	stats     [numStats]atomic.Uint64
}

// maxIdlePipes bounds the pipes kept open while no transfer uses them. Each
// pipe is two descriptors; one per concurrent splice transfer is needed, and
// more than this many idle ones are closed as they come back.
const maxIdlePipes = 16

// maxIdleSlabs bounds the slabs kept while no response uses them (about
// 3 KiB each): as many as the server keeps request buffers; beyond it a
// slab coming back goes to the garbage collector.
const maxIdleSlabs = 1024

// slab holds what a response needs only while it is in flight; it goes back
// to the Writer's pool when the response ends, so an idle keep-alive
// connection holds none of it.
type slab struct {
	buf    []byte                            // the head, then the head of each multipart part
	ranges [MaxRangesCap]httpparse.ByteRange // parsed, then sorted and coalesced, ranges
	iov    [2]unix.Iovec                     // writev: head and in-memory body
	copy   []byte                            // the Copy strategy's buffer, allocated on first use
}

const (
	slabBufSize = 2 << 10   // a typical head is 250-400 bytes; a long Location grows it
	copyBufSize = 128 << 10 // pread+write chunk of the Copy strategy
)

// pipePair is the two ends of one pipe.
type pipePair struct{ r, w int }

// NewWriter returns the per-loop state for cfg, with the Date set to now.
// c is the counters of the loop the Writer serves (poller's
// Loop.Counters): every syscall its responses and pools make is counted
// there. A nil c counts nothing.
func NewWriter(cfg Config, c *syscount.Counters) *Writer {
	w := &Writer{cfg: cfg.withDefaults(), sc: c, dateSec: -1 << 62}
	w.cachestat = w.cfg.Probe && w.cfg.Cachestat
	w.slabs.Max, w.pipes.Max = maxIdleSlabs, maxIdlePipes
	// Fields go on every head, so a head is born with room for them; an
	// entry's own fields (a long Content-Security-Policy) may grow a slab
	// once, and the grown buffer goes back to the pool with it.
	w.slabSize = slabBufSize + len(w.cfg.Fields)
	var b [8]byte
	rand.Read(b[:])
	w.seed = binary.LittleEndian.Uint64(b[:])
	w.SetNow(time.Now())
	return w
}

// Config returns the configuration in effect, defaults filled in.
//
// Deprecated: nothing in epfs reads it back; keep the Config passed to
// NewWriter instead. It will be removed before v1.
func (w *Writer) Config() Config { return w.cfg }

// SetNow sets the time the Date field shows. The server calls it when a
// request begins after a quiet second and from a one-shot loop timer while
// requests keep coming, so an idle loop keeps no timer for it; the value
// is re-formatted only when the second changes, so a call costs a
// comparison. RFC 9110 §6.6.1 asks for the time
// the message was generated, to the second: a Date up to a second old is
// within that resolution.
func (w *Writer) SetNow(t time.Time) {
	sec := t.Unix()
	if sec == w.dateSec {
		return
	}
	w.dateSec = sec
	httpparse.AppendHTTPDate(w.date[:0], t)
}

// Close releases the pooled pipes, counting the close(2) calls on the
// Writer's counters. Pipes held by responses still in flight are closed by
// their Reset.
func (w *Writer) Close() {
	w.pipes.Trim(0, w.closePipe)
}

// Pipes reports how many pipes this Writer holds open, idle and in use:
// each is two descriptors against the process's budget.
//
// Deprecated: nothing in epfs reads it; the pipe2 and close counts of the
// loop's syscount.Counters give the same figure. It will be removed
// before v1.
func (w *Writer) Pipes() int { return w.open }

// Idle reports how many slabs (per-response buffers) and empty pipes the
// Writer keeps for reuse now.
func (w *Writer) Idle() (slabs, pipes int) { return w.slabs.Len(), w.pipes.Len() }

// Trim lets go of the idle slabs and pipes beyond keep of each, closing
// those pipes (counted). The pools grow to the most responses ever in
// flight at once and would keep that peak: the server trims them once its
// loop has been quiet for a while. The slabs go to the garbage collector.
func (w *Writer) Trim(keep int) {
	w.slabs.Trim(keep, nil)
	w.pipes.Trim(keep, w.closePipe)
}

func (w *Writer) getSlab() *slab {
	if s, ok := w.slabs.Get(); ok {
		return s
	}
	return &slab{buf: make([]byte, 0, w.slabSize)}
}

func (w *Writer) putSlab(s *slab) {
	s.buf = s.buf[:0]
	w.slabs.Put(s)
}

func (w *Writer) getPipe() (pipePair, error) {
	if p, ok := w.pipes.Get(); ok {
		return p, nil
	}
	r, wr, err := w.sc.Pipe2(unix.O_NONBLOCK | unix.O_CLOEXEC)
	if err != nil {
		return pipePair{-1, -1}, err
	}
	w.open++
	return pipePair{r, wr}, nil
}

// putPipe takes back a pipe. Only an empty pipe is reused: bytes left in a
// pipe belong to the connection that spliced them, so a pipe given back
// with data in it (a transfer that failed) is closed instead.
func (w *Writer) putPipe(p pipePair, empty bool) {
	if !empty || !w.pipes.Put(p) {
		w.closePipe(p)
	}
}

func (w *Writer) closePipe(p pipePair) {
	w.sc.Close(p.r)
	w.sc.Close(p.w)
	w.open--
}

// nextBoundary writes a fresh multipart boundary into b: "epfs" and 16 hex
// digits of a splitmix64 step over the Writer's random seed, so no two
// responses of a loop share one and a file cannot be made to contain it by
// guessing (RFC 2046 §5.1.1 asks that it not occur in the parts).
func (w *Writer) nextBoundary(b *[boundaryLen]byte) {
	w.seq++
	z := w.seed + w.seq*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	const hex = "0123456789abcdef"
	copy(b[:], "epfs")
	for i := boundaryLen - 1; i >= 4; i-- {
		b[i] = hex[z&15]
		z >>= 4
	}
}

const boundaryLen = 20

// Stat names one of the Writer's tallies.
type Stat uint8

// The Writer's tallies, kept beside the loop's syscall counters.
const (
	Responses         Stat = iota // responses sent completely (Step returned Done)
	WouldBlocks                   // Steps that ended on EAGAIN (each is a resume later)
	Yields                        // Steps that spent their budget without EAGAIN
	Aborts                        // transfers ended by the client (EPIPE, ECONNRESET)
	Truncations                   // transfers ended because the file shrank
	Failures                      // transfers ended by any other error
	ProbesResident                // chunks the preadv2(RWF_NOWAIT) probe found in the page cache
	ProbesCold                    // chunks it found cold (EAGAIN): Step returned Cold
	ProbesUnsupported             // probes refused with EOPNOTSUPP: the response is sent unprobed
	ProbesFailed                  // probes that failed otherwise: the chunk is sent unprobed
	FetchCopies                   // Cold steps that asked for a copy (the fault-in bound was reached)
	CachestatRefused              // cachestat calls refused (EPERM, ENOSYS): the Writer probes with preadv2 from then on
	numStats
)

var statNames = [numStats]string{"responses", "would_blocks", "yields", "aborts", "truncations", "failures",
	"probes_resident", "probes_cold", "probes_unsupported", "probes_failed", "fetch_copies", "cachestat_refused"}

// String returns the tally's snake_case name, as used in metric names.
func (s Stat) String() string { return enum.Name(statNames[:], s) }

// Stat returns the current value of tally s. Only the loop writes the
// tallies (an atomic load and store, like syscount's counters); any goroutine
// may read them.
func (w *Writer) Stat(s Stat) uint64 { return w.stats[s].Load() }

func (w *Writer) bump(s Stat) { w.stats[s].Store(w.stats[s].Load() + 1) }
