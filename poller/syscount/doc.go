// Package syscount is epfs's counted-syscall layer: one thin wrapper over
// golang.org/x/sys/unix for every system call on the serving path, each of
// which bumps a per-loop counter indexed by (syscall, outcome) and, when a
// trace hook is installed, reports the call to it.
//
// # Contract
//
//   - One wrapper, one syscall. A wrapper makes exactly the call it is named
//     after, so a trace reads like strace(1). The only loop around a call is
//     the EINTR retry, in one helper (retry) that every retrying wrapper
//     goes through, and every interrupted attempt is counted as EINTR before
//     the next one is made. Close is never retried: after close(2) returns
//     EINTR the descriptor is already gone, and a second close could release
//     a descriptor another thread has just been given (close(2), NOTES).
//   - Two ways into the kernel. Calls that cannot block — on nonblocking
//     sockets, pipes and eventfds (read, write, writev, sendto, accept4,
//     shutdown, setsockopt, getsockopt, getpeername), epoll_ctl, and
//     epoll_pwait with a zero timeout — are made with unix.RawSyscall,
//     without the scheduler's entersyscall/exitsyscall, so a loop keeps its
//     P. Their callers must only give them descriptors that cannot block.
//     Calls that can wait (a blocking epoll_pwait, and everything that may
//     touch the disk: sendfile, splice, pread, preadv2, openat2, fstat,
//     getdents, close, ...) go through the scheduler, which lends the P to
//     others meanwhile. nonblock_linux.go says why, call by call. Race
//     builds keep x/sys's race annotations on the raw read and write.
//   - Single writer. A [Counters] value belongs to one goroutine, normally an
//     event loop locked to its thread. That goroutine updates counters with an
//     atomic load followed by an atomic store: on amd64 both are plain moves,
//     with no lock prefix, yet the race detector sees them as synchronised. Any
//     goroutine may read them at any time with [Counters.Snapshot] or
//     [Counters.Calls]. Two goroutines calling wrappers on one Counters lose
//     counts (never memory safety); give each its own.
//   - A nil *Counters is valid: the wrappers then make the call and count
//     nothing. Library users who do not care about counts pass nil.
//   - Errors are the bare unix.Errno the kernel returned, so callers compare
//     with == (err == unix.EAGAIN). Errno values below 256 box into an
//     interface without allocating, so the error path allocates nothing.
//   - The trace hook is nil by default. When it is nil the cost of tracing is
//     one predictable branch per call; when set it is called synchronously on
//     the calling goroutine, after the call, with a [Record] passed by value.
//
// The outcome of a call is classified by [Classify]: ok, EAGAIN, EINTR, and the
// errnos a server must tell apart (EPIPE and ECONNRESET for client aborts,
// EMFILE and ENFILE for descriptor exhaustion, ECONNABORTED on accept, ENOENT
// for lookups), everything else as Other.
package syscount
