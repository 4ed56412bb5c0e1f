//go:build linux

package syscount

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/internal/enum"
	"golang.org/x/sys/unix"
)

// Syscall names one system call that the serving path makes.
type Syscall uint8

// The system calls on the serving path. Their order is the order of
// [Syscall.String] and of the rows in a [Snapshot].
const (
	EpollWait Syscall = iota
	EpollCtl
	Accept4
	Read
	Write
	Writev
	Sendfile
	Splice
	Pread
	Preadv2
	Openat2
	Openat
	Fstat
	Fstatat
	Getdents
	Readlinkat
	Close
	Shutdown
	Setsockopt
	Getsockopt
	Pipe2
	Fadvise
	Sendto
	Getpeername
	Readahead
	Cachestat
	NumSyscalls // the number of Syscall values; not a syscall
)

var syscallNames = [NumSyscalls]string{
	"epoll_wait", "epoll_ctl", "accept4", "read", "write", "writev",
	"sendfile", "splice", "pread64", "preadv2", "openat2", "openat", "fstat",
	"newfstatat", "getdents64", "readlinkat", "close", "shutdown",
	"setsockopt", "getsockopt", "pipe2", "fadvise64", "sendto",
	"getpeername", "readahead", "cachestat",
}

// String returns the kernel's name for the call, as strace prints it.
func (s Syscall) String() string { return enum.Name(syscallNames[:], s) }

// Outcome classifies the result of one system call.
type Outcome uint8

// Outcomes, from success through the errnos a server must distinguish.
const (
	OK           Outcome = iota
	EAGAIN               // would block: a state, not a failure
	EINTR                // interrupted by a signal and retried
	EPIPE                // peer closed: writing to a shut-down socket
	ECONNRESET           // peer reset the connection
	EMFILE               // per-process descriptor limit reached
	ENFILE               // system-wide descriptor limit reached
	ECONNABORTED         // a connection was aborted while in the accept queue
	ENOENT               // no such file
	Other                // any other errno
	NumOutcomes          // the number of Outcome values; not an outcome
)

var outcomeNames = [NumOutcomes]string{
	"ok", "eagain", "eintr", "epipe", "econnreset", "emfile", "enfile",
	"econnaborted", "enoent", "other",
}

// String returns the outcome's lower-case name, as used in metric labels.
func (o Outcome) String() string { return enum.Name(outcomeNames[:], o) }

// Classify maps the error a wrapper returned to its Outcome.
func Classify(err error) Outcome {
	if err == nil {
		return OK
	}
	errno, ok := err.(unix.Errno)
	if !ok {
		return Other
	}
	switch errno {
	case unix.EAGAIN:
		return EAGAIN
	case unix.EINTR:
		return EINTR
	case unix.EPIPE:
		return EPIPE
	case unix.ECONNRESET:
		return ECONNRESET
	case unix.EMFILE:
		return EMFILE
	case unix.ENFILE:
		return ENFILE
	case unix.ECONNABORTED:
		return ECONNABORTED
	case unix.ENOENT:
		return ENOENT
	}
	return Other
}

// Event names a tally that is not a syscall: something the loop or a package
// above it observed and wants counted alongside the syscalls.
type Event uint8

// Tallies kept beside the syscall counts.
const (
	EpollEvents  Event = iota // events returned by epoll_wait, summed
	StaleEvents               // events dropped because their registration was gone
	Wakeups                   // eventfd wakeups consumed
	Submitted                 // functions run from the Submit queue
	TimersFired               // timers that expired and ran
	Accepted                  // connections accepted
	AcceptPauses              // times accepting paused on EMFILE/ENFILE
	BytesRead                 // bytes returned by read
	BytesWritten              // bytes accepted by write and writev
	BytesSent                 // bytes moved by sendfile and splice
	Sleeps                    // blocking epoll waits: a loop found nothing ready and slept
	NumEvents                 // the number of Event values; not an event
)

var eventNames = [NumEvents]string{
	"epoll_events", "stale_events", "wakeups", "submitted", "timers_fired",
	"accepted", "accept_pauses", "bytes_read", "bytes_written", "bytes_sent",
	"sleeps",
}

// String returns the tally's snake_case name, as used in metric names.
func (e Event) String() string { return enum.Name(eventNames[:], e) }

// Record describes one system call, for the trace hook. The fields that do
// not apply to a call are zero.
type Record struct {
	Syscall Syscall
	Fd      int           // the descriptor the call acted on (-1 if none)
	Offset  int64         // file offset, for sendfile, pread, preadv2, readahead, cachestat
	Count   int           // bytes asked for, or events capacity for epoll_wait
	Ret     int           // the call's return value when it succeeded
	Errno   unix.Errno    // 0 on success
	Start   time.Time     // when the call began
	Dur     time.Duration // how long the call took
}

// TraceFunc receives one Record per system call. It runs on the calling
// goroutine, so it must be quick and must not make wrapped calls on the same
// Counters.
type TraceFunc func(Record)

// NumWaitBuckets is the number of buckets in the histogram of events
// returned per epoll_wait. Bucket 0 counts waits that returned no event
// (timeouts, interruptions, and a loop's zero-timeout poll that found
// nothing before it slept); bucket i ≥ 1 counts waits that returned more
// than 2^(i-2) and at most 2^(i-1) events: 1, 2, 3–4, 5–8, … The last bucket
// takes everything larger.
const NumWaitBuckets = 11

// WaitBucketBound returns the largest event count bucket i holds (its
// Prometheus "le" bound), or -1 for the last, unbounded bucket.
func WaitBucketBound(i int) int {
	switch {
	case i == 0:
		return 0
	case i >= NumWaitBuckets-1:
		return -1
	}
	return 1 << (i - 1)
}

func waitBucket(n int) int {
	if n <= 0 {
		return 0
	}
	i := bits.Len(uint(n-1)) + 1
	if i >= NumWaitBuckets {
		i = NumWaitBuckets - 1
	}
	return i
}

// Counters holds one loop's syscall counts and tallies. The zero value is
// ready to use. See the package documentation for the single-writer rule.
type Counters struct {
	calls  [NumSyscalls][NumOutcomes]atomic.Uint64
	events [NumEvents]atomic.Uint64
	waits  [NumWaitBuckets]atomic.Uint64
	trace  atomic.Pointer[TraceFunc]
}

// ObserveWait records how many events one epoll_wait returned, in the
// histogram. The EpollWait wrapper calls it.
func (c *Counters) ObserveWait(n int) {
	if c == nil {
		return
	}
	bump(&c.waits[waitBucket(n)], 1)
}

// SetTrace installs fn as the trace hook, or removes it when fn is nil. It is
// safe to call from any goroutine; the writer sees the change at its next call.
func (c *Counters) SetTrace(fn TraceFunc) {
	if fn == nil {
		c.trace.Store(nil)
		return
	}
	c.trace.Store(&fn)
}

// bump adds one to a counter. Only the owning goroutine writes, so a load and
// a store suffice: no read-modify-write instruction is needed.
func bump(a *atomic.Uint64, n uint64) {
	a.Store(a.Load() + n)
}

// Count records one call of s with the outcome of err. Wrappers call it; it
// is exported for callers that make a syscall this package does not wrap.
func (c *Counters) Count(s Syscall, err error) {
	if c == nil {
		return
	}
	bump(&c.calls[s][Classify(err)], 1)
}

// Add adds n to the tally e. Like every write, only the owner may call it.
func (c *Counters) Add(e Event, n uint64) {
	if c == nil {
		return
	}
	bump(&c.events[e], n)
}

// Calls returns the count of calls of s that ended with outcome o.
func (c *Counters) Calls(s Syscall, o Outcome) uint64 {
	return c.calls[s][o].Load()
}

// Total returns the count of calls of s, whatever their outcome.
func (c *Counters) Total(s Syscall) uint64 {
	var n uint64
	for o := range NumOutcomes {
		n += c.calls[s][o].Load()
	}
	return n
}

// Tally returns the current value of the tally e.
func (c *Counters) Tally(e Event) uint64 {
	return c.events[e].Load()
}

// Snapshot is a copy of a Counters taken at one moment (each value is read
// atomically; the set is not a single atomic cut, which a scrape does not need).
type Snapshot struct {
	Calls  [NumSyscalls][NumOutcomes]uint64
	Events [NumEvents]uint64
	Waits  [NumWaitBuckets]uint64 // events per epoll_wait, by bucket (see NumWaitBuckets)
}

// Snapshot copies every counter. Any goroutine may call it.
func (c *Counters) Snapshot() Snapshot {
	var s Snapshot
	for i := range NumSyscalls {
		for o := range NumOutcomes {
			s.Calls[i][o] = c.calls[i][o].Load()
		}
	}
	for e := range NumEvents {
		s.Events[e] = c.events[e].Load()
	}
	for i := range s.Waits {
		s.Waits[i] = c.waits[i].Load()
	}
	return s
}

// Add adds other to s, counter by counter: the sum over several loops.
func (s *Snapshot) Add(other *Snapshot) {
	for i := range s.Calls {
		for o := range s.Calls[i] {
			s.Calls[i][o] += other.Calls[i][o]
		}
	}
	for e := range s.Events {
		s.Events[e] += other.Events[e]
	}
	for i := range s.Waits {
		s.Waits[i] += other.Waits[i]
	}
}

// Total returns the count of calls of sc in the snapshot, whatever their outcome.
func (s *Snapshot) Total(sc Syscall) uint64 {
	var n uint64
	for _, v := range s.Calls[sc] {
		n += v
	}
	return n
}

// Sub returns s minus earlier, counter by counter: the activity between the two.
func (s Snapshot) Sub(earlier Snapshot) Snapshot {
	for i := range s.Calls {
		for o := range s.Calls[i] {
			s.Calls[i][o] -= earlier.Calls[i][o]
		}
	}
	for e := range s.Events {
		s.Events[e] -= earlier.Events[e]
	}
	for i := range s.Waits {
		s.Waits[i] -= earlier.Waits[i]
	}
	return s
}
