//go:build linux

package transmit

import (
	"errors"

	"github.com/epfs/epfs/internal/enum"
	"golang.org/x/sys/unix"
)

// Outcome is what one Step achieved. Every Outcome but Failed leaves the
// response resumable exactly where it stopped.
type Outcome uint8

const (
	// Done: every byte of the response (head and body) has been accepted
	// by the socket. The response has already released its entry, buffer
	// and pipe; Status, Sent and Close are final. The caller logs, then
	// closes the connection if Close reports true, or reads the next
	// request. Step on a response with nothing planned also returns Done.
	Done Outcome = iota
	// WouldBlock: the socket's send buffer is full (a write, sendfile or
	// splice to it returned EAGAIN). Some bytes may have gone out first.
	// The caller waits for the loop to report the descriptor writable
	// (EPOLLOUT, the poller's Writable) and calls Step again, which
	// continues from the same offset. The response keeps its buffer, and
	// for Splice its pipe with any bytes in it.
	WouldBlock
	// Yield: the response wrote its budget (Config.Budget bytes) in this
	// Step without meeting EAGAIN, so the socket may still be writable and
	// no new edge will come. The caller asks the loop to call it again on
	// its next pass (poller's Loop.Requeue with Out) and lets the other
	// connections run meanwhile; or, when nothing else waits on the loop
	// (poller's Loop.Waiting), calls Step again at once, a bounded number
	// of times: each Step is one budget, never more. Rarely, a Yield also follows a splice
	// from the file into an empty pipe that returned EAGAIN; the next pass
	// retries it.
	Yield
	// Failed: the transfer ended early and the connection must be closed:
	// the bytes already sent cannot be completed or framed. Err says why:
	// ErrAborted (EPIPE or ECONNRESET: the client went away), ErrTruncated
	// (the file ended before the announced length), or the errno of the
	// call that failed. Resources are released; Close reports true. Nothing
	// is retried and no other strategy is tried.
	Failed
	// Cold: the next chunk of the file is not in the page cache (the
	// Config.Probe probe, a preadv2(2) with RWF_NOWAIT, returned EAGAIN),
	// and sending it now would block the loop's thread until the disk
	// answers. Nothing of that chunk was sent (head bytes before it may
	// have been). The caller hands the response's Fetch to a thread that
	// may block, runs Fetch.Run there, then, back on the loop, calls
	// Fetched and Step again, which probes again: once the chunk is
	// resident it is sent. Until Fetched the response must not be stepped,
	// planned over or Reset: the caller, which handed the Fetch out, is
	// the one that knows it is out (a connection state), and the I/O
	// thread still uses the entry and the buffer. Only returned when
	// Config.Probe is on.
	Cold
)

var outcomeNames = [...]string{"done", "would-block", "yield", "failed", "cold"}

// String returns the outcome's name.
func (o Outcome) String() string { return enum.Name(outcomeNames[:], o) }

// Errors a failed transfer reports through Response.Err.
var (
	// ErrAborted: the client closed or reset the connection mid-response.
	ErrAborted = errors.New("transmit: client aborted the transfer (EPIPE or ECONNRESET)")
	// ErrTruncated: the file returned end-of-file before the length the
	// head announced, so the Content-Length can no longer be honoured.
	ErrTruncated = errors.New("transmit: file shrank during the transfer")
)

// errRetryNextPass is the internal verdict of a file-side EAGAIN, which no
// EPOLLOUT will follow: Step turns it into Yield. errCold is the probe's
// verdict on the chunk at the response's offset: Step turns it into Cold.
var (
	errRetryNextPass = errors.New("transmit: retry on the next pass")
	errCold          = errors.New("transmit: the next chunk is not in the page cache")
)

const (
	// maxSendfile caps one sendfile or splice call. The kernel moves at most
	// MAX_RW_COUNT (0x7ffff000) bytes per call anyway (read_write.c); asking
	// for less than that keeps every count exact, which matters: see Step.
	maxSendfile = 1 << 30
	// pipeFill caps one splice from the file into the pipe: a default pipe
	// holds 16 pages (pipe(7)). A smaller pipe (pipe-user-pages-soft
	// exceeded) returns a short count, which is handled as any other.
	pipeFill = 64 << 10
)

// Step pushes the response to the socket fd: the head first, then the body,
// never a body byte while a head byte is unsent. It writes until it is done,
// the socket returns EAGAIN, or Config.Budget bytes have gone out in this
// call, and says which with its Outcome (see there for what the caller
// does next). A short write is not taken for "would block": under edge
// triggering only EAGAIN promises a new EPOLLOUT (epoll(7)). The calls are
// counted on the counters of the Writer that planned the response.
//
// Every sendfile and splice is asked for exactly min(bytes remaining, per-call
// cap, budget left), never more: an over-long count makes the kernel mark the
// last segment MSG_MORE, which holds it back and stalls a keep-alive response
// by 40-200 ms (golang/go#41513, #45256).
func (r *Response) Step(fd int) Outcome {
	switch r.phase {
	case phaseIdle, phaseDone:
		return Done
	case phaseFailed:
		return Failed
	}
	w := r.w
	left := w.cfg.Budget
	for {
		var n int
		var err error
		switch r.phase {
		case phaseBuf:
			n, err = r.sendBuf(fd, left)
		default: // phaseBody
			n, err = r.sendBody(fd, left)
		}
		r.sent += int64(n)
		left -= n
		switch {
		case err == unix.EAGAIN:
			w.bump(WouldBlocks)
			return WouldBlock
		case err == errRetryNextPass:
			w.bump(Yields)
			return Yield
		case err == errCold:
			return r.cold()
		case err != nil:
			return r.fail(err)
		case r.phase == phaseDone:
			r.release()
			w.bump(Responses)
			return Done
		case left <= 0:
			w.bump(Yields)
			return Yield
		}
	}
}

// sendBody sends bytes of the current body range from the response's
// source, at most left. Bytes already read into the copy buffer (by Copy,
// or by a Fetch that copied) go first whatever the source: they precede
// r.off. File bytes are read only as far as the probe vouches (see vouch).
func (r *Response) sendBody(fd, left int) (int, error) {
	if r.src == srcMemory {
		return r.sendMem(fd, left)
	}
	if r.cpOff < r.cpEnd {
		return r.sendCopy(fd, left)
	}
	lim, ok := r.vouch(left)
	if !ok {
		return 0, errCold
	}
	switch r.src {
	case srcSplice:
		return r.sendSplice(fd, lim)
	case srcCopy:
		return r.sendCopy(fd, lim)
	default: // srcSendfile (srcNone has no body range: it never gets here)
		return r.sendFile(fd, lim)
	}
}

// fail ends the response on err, releases what it holds and marks the
// connection for closing.
func (r *Response) fail(err error) Outcome {
	w := r.w
	switch err {
	case unix.EPIPE, unix.ECONNRESET:
		err = ErrAborted
		w.bump(Aborts)
	case ErrTruncated:
		w.bump(Truncations)
	default:
		w.bump(Failures)
	}
	r.err = err
	r.close = true
	r.phase = phaseFailed
	r.release()
	return Failed
}

// bufSent moves on once s.buf[:bufEnd] is out: to the body range that
// follows, or past it.
func (r *Response) bufSent() {
	if r.off < r.end {
		r.phase = phaseBody
		return
	}
	r.nextPart()
}

// nextPart moves on once a body range is out: to the next multipart part's
// head, to the close delimiter, or to the end.
func (r *Response) nextPart() {
	if r.nparts <= 1 || r.part >= r.nparts {
		r.phase = phaseDone
		return
	}
	r.part++
	b := r.s.buf[:0]
	if r.part < r.nparts {
		b = r.appendPartHead(b, r.part)
		rg := r.s.ranges[r.part]
		r.off, r.end = rg.Start, rg.Start+rg.Length
	} else {
		b = r.appendCloseDelimiter(b)
		r.off, r.end = 0, 0
	}
	r.s.buf = b
	r.bufOff, r.bufEnd = 0, len(b)
	r.phase = phaseBuf
}

// sendBuf sends the unsent head bytes. When the body is in memory it goes in
// the same writev, so a small file is one syscall and, usually, one segment.
// One write of head and body copied into one buffer was measured against
// it (BenchmarkSmallBody, sender's CPU per response, 8 interleaved rounds
// on a shared machine): medians 2.82 against 2.83 µs at 1 KiB, 2.89
// against 2.82 at 4 KiB, 3.90 against 4.38 at 16 KiB, each spread wider
// than the gap. The copy wins nothing that survives the noise, costs a
// memcpy and a buffer of head plus body per response in flight (the
// entry's body is shared today), so the writev stays.
// When file bytes follow, the head goes with MSG_MORE: the kernel holds it
// until the body's first bytes fill the segment (tcp(7)), and the
// sendfile/splice that follows, asked for exactly what remains, pushes the
// last segment out. The measurements behind this are in the package doc.
func (r *Response) sendBuf(fd, left int) (int, error) {
	c := r.w.sc
	p := r.s.buf[r.bufOff:r.bufEnd]
	p = p[:min(len(p), left)]
	var n int
	var err error
	switch {
	case r.off < r.end && r.src == srcMemory:
		body := r.mem[r.off:r.end]
		body = body[:min(len(body), left-len(p))]
		iov := r.s.iov[:1]
		iov[0].Base = &p[0]
		iov[0].SetLen(len(p))
		if len(body) > 0 {
			iov = r.s.iov[:2]
			iov[1].Base = &body[0]
			iov[1].SetLen(len(body))
		}
		n, err = c.Writev(fd, iov, len(p)+len(body))
		r.s.iov = [2]unix.Iovec{} // hold no pointer into the entry past this call
		if err != nil {
			return 0, err
		}
		h := min(n, len(p))
		r.bufOff += h
		r.off += int64(n - h)
	case r.off < r.end:
		n, err = c.Sendto(fd, p, unix.MSG_MORE|unix.MSG_NOSIGNAL)
		if err != nil {
			return 0, err
		}
		r.bufOff += n
	default:
		n, err = c.Write(fd, p)
		if err != nil {
			return 0, err
		}
		r.bufOff += n
	}
	if r.bufOff == r.bufEnd {
		r.bufSent()
	}
	return n, nil
}

// sendMem writes body bytes held in memory.
func (r *Response) sendMem(fd, left int) (int, error) {
	p := r.mem[r.off:r.end]
	n, err := r.w.sc.Write(fd, p[:min(len(p), left)])
	if err != nil {
		return 0, err
	}
	r.off += int64(n)
	if r.off == r.end {
		r.nextPart()
	}
	return n, nil
}

// sendFile moves file bytes with sendfile(2) at the response's own offset,
// which the kernel advances (never the shared descriptor's file position).
// A return of 0 with bytes still due means the file ended early: truncated.
func (r *Response) sendFile(fd, left int) (int, error) {
	count := int(min(r.end-r.off, maxSendfile, int64(left)))
	n, err := r.w.sc.Sendfile(fd, r.rep.Fd, &r.off, count)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, ErrTruncated
	}
	if r.off == r.end {
		r.nextPart()
	}
	return n, nil
}

// sendSplice moves file bytes file → pipe → socket with splice(2). The pipe
// is taken from the Writer's pool when the body starts and held until the
// response ends: bytes the socket refused stay in it, and they belong to
// this connection. The pipe is filled only when empty, so a fill never meets
// a full pipe.
func (r *Response) sendSplice(fd, left int) (int, error) {
	c := r.w.sc
	if !r.hasPipe {
		p, err := r.w.getPipe()
		if err != nil {
			return 0, err
		}
		r.pipe, r.hasPipe = p, true
	}
	if r.pipeN == 0 {
		count := int(min(r.end-r.off, pipeFill, int64(left)))
		n, err := c.Splice(r.rep.Fd, &r.off, r.pipe.w, nil, count, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if err == unix.EAGAIN {
			return 0, errRetryNextPass // the pipe is empty: the file side would block
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, ErrTruncated
		}
		r.pipeN = n
	}
	flags := unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
	if r.off < r.end || r.nparts > 1 {
		// More of this response follows at once: let the kernel fill
		// segments across calls. The last splice of a response never
		// carries the flag, so nothing is held back at the end.
		flags |= unix.SPLICE_F_MORE
	}
	n, err := c.Splice(r.pipe.r, nil, fd, nil, min(r.pipeN, left), flags)
	if err != nil {
		return 0, err
	}
	r.pipeN -= n
	if r.pipeN == 0 && r.off == r.end {
		r.nextPart()
	}
	return n, nil
}

// sendCopy reads with pread(2) at the response's offset into the slab's
// buffer and writes it out; bytes read but refused by the socket wait in
// the buffer for the next Step.
func (r *Response) sendCopy(fd, left int) (int, error) {
	c := r.w.sc
	if r.s.copy == nil {
		r.s.copy = make([]byte, copyBufSize)
	}
	if r.cpOff == r.cpEnd {
		count := int(min(r.end-r.off, int64(len(r.s.copy)), int64(left)))
		n, err := c.Pread(r.rep.Fd, r.s.copy[:count], r.off)
		if err == unix.EAGAIN {
			return 0, errRetryNextPass
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, ErrTruncated
		}
		r.off += int64(n)
		r.cpOff, r.cpEnd = 0, n
	}
	p := r.s.copy[r.cpOff:r.cpEnd]
	n, err := c.Write(fd, p[:min(len(p), left)])
	if err != nil {
		return 0, err
	}
	r.cpOff += n
	if r.cpOff == r.cpEnd && r.off == r.end {
		r.nextPart()
	}
	return n, nil
}
