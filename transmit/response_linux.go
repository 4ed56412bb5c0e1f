//go:build linux

package transmit

import "github.com/epfs/epfs/fsindex"

// Response is one response in flight on one connection: what to send and how
// far it has got. Its zero value is ready, it is meant to be embedded in the
// connection, and it is reused request after request without allocating.
// Plan (or PlanError) fills it, Step sends it, and Reset lets go of what it
// holds. A Response belongs to the loop goroutine of its connection.
//
// The Response is the receiver of every call, and it keeps the Writer
// that planned it: the Writer is the loop's context (counters,
// configuration, pools), the same for every call, so only what changes per
// call is passed (the socket to Step). Its state is grouped by what it
// describes: what Plan decided (planned), how far the bytes have got
// (cursor), what the body's strategy holds between Steps (transfer), and
// what the residency probes found (probing). The groups are embedded, so a
// field reads the same in every file of the package.
type Response struct {
	w     *Writer // the Writer that planned it (nil before the first Plan): counters, configuration, pools
	s     *slab   // pooled buffers, held only between Plan and the end of the response
	phase phase   // where the response stands; see the phase constants
	err   error   // why the response failed (ErrAborted, ErrTruncated or an errno)

	planned
	cursor
	transfer
	probing
}

// planned is what Plan decided: fixed until the next Plan, except close,
// which a failure sets too.
type planned struct {
	status   int            // the status code planned
	close    bool           // the connection must close after this response
	http10   bool           // the request was HTTP/1.0, so persistence is announced
	entry    *fsindex.Entry // the reference Plan took over; released when the response ends
	rep      *fsindex.Entry // the representation sent: entry or one of its variants; nil for none
	src      source         // where the body's bytes come from
	mem      []byte         // srcMemory: the body bytes (rep.Body or an error body)
	nparts   int            // 0: the whole body; 1: one range; >1: that many multipart parts (ranges in s.ranges)
	clen     int64          // the Content-Length sent, or -1 when the response has none
	headLen  int            // the length of the response head proper
	saved    int64          // a whole encoded variant's body: the identity's size minus the variant's; else 0
	boundary [boundaryLen]byte
}

// cursor is how far the response has got: the buffer (head, part head or
// closing delimiter) being sent, then the body range.
type cursor struct {
	part   int   // multipart: the part being sent; nparts means the closing delimiter
	bufOff int   // s.buf[bufOff:bufEnd] is head (or part head) not yet sent
	bufEnd int   //
	off    int64 // the next body byte to send, an offset in the representation
	end    int64 // the end of the body range being sent (exclusive)
	sent   int64 // bytes written to the socket: head, part heads and body
}

// transfer is what a file body's strategy holds between Steps: bytes
// taken from the file but not yet accepted by the socket.
type transfer struct {
	pipe    pipePair // srcSplice: the pipe this transfer holds, valid when hasPipe
	hasPipe bool     //
	pipeN   int      // srcSplice: bytes in the pipe not yet sent to the socket
	cpOff   int      // srcCopy, or a Fetch that copied: s.copy[cpOff:cpEnd] was read but not yet written
	cpEnd   int      //
}

// probing is what the residency probes (Config.Probe) found about the
// file, and the off-loop read a cold chunk asks for; see cold_linux.go.
type probing struct {
	warmOff     int64 // [warmOff, warmEnd) was found resident by the last probe;
	warmEnd     int64 //   file bytes are sent from there only, and never past warmEnd unprobed
	noProbe     bool  // the file system refused RWF_NOWAIT (EOPNOTSUPP): send as without Probe
	raEnd       int64 // reads this response started (a Fetch, readahead its sends may start) may be in flight below this offset
	noCachestat bool  // cachestat failed on this file (EOPNOTSUPP): the one-byte probes decide
	coldAhead   int64 // the offset a probe ahead of the warm window found cold (0: none)
	rounds      uint8 // fault-in fetches of this chunk after which the probe still failed
	fetch       Fetch // the off-loop read Cold asks for; whether it is out is the caller's to know (see Cold)
}

// source is where a response's body bytes come from, set by Plan and
// dispatched on by Step. The framing (the whole body, one range, or
// multipart parts) is the cursor's business: every source can be sent in
// parts.
type source uint8

const (
	srcNone     source = iota // no body: HEAD, 204, 304 (an empty body range never reaches phaseBody)
	srcMemory                 // mem: a small file's or a listing's bytes, held by the entry, or an error text
	srcSendfile               // rep.Fd with sendfile(2): Config.Strategy Sendfile
	srcSplice                 // rep.Fd with splice(2) through a pipe: Splice
	srcCopy                   // rep.Fd with pread(2) into s.copy, then write(2): Copy
)

// fileSource is the source of a body read from the representation's
// descriptor: the Writer's strategy.
func (w *Writer) fileSource() source {
	switch w.cfg.Strategy {
	case Splice:
		return srcSplice
	case Copy:
		return srcCopy
	default:
		return srcSendfile
	}
}

// phase is the state of a Response. Transitions:
//
//	phaseIdle  --Plan-->   phaseBuf
//	phaseBuf   --buffer sent, body range left-->   phaseBody
//	phaseBuf   --buffer sent, nothing left-->      phaseDone
//	phaseBody  --range sent, next part-->          phaseBuf (part head)
//	phaseBody  --last range sent-->                phaseDone (or phaseBuf: closing delimiter)
//	phaseBuf, phaseBody --error-->                 phaseFailed
//	phaseBuf, phaseBody --Reset-->                 phaseIdle (Status, Sent, Close kept)
//
// Step dispatches on it: the buffer in phaseBuf, the source in phaseBody.
type phase uint8

const (
	phaseIdle   phase = iota // nothing planned, or the last response was reset
	phaseBuf                 // sending s.buf[bufOff:bufEnd], then the body range if any
	phaseBody                // sending body bytes [off, end) from src
	phaseDone                // every byte sent; resources released
	phaseFailed              // ended by an error; resources released; Err says why
)

// Status returns the status code of the response planned last.
func (r *Response) Status() int { return r.status }

// Sent returns the bytes written to the socket for this response so far:
// head and body.
func (r *Response) Sent() int64 { return r.sent }

// BodyBytes returns the body bytes written so far (Sent minus the head; for
// multipart, part heads count as body, as Content-Length counts them).
func (r *Response) BodyBytes() int64 { return max(0, r.sent-int64(r.headLen)) }

// ContentLength returns the Content-Length the head announces, or -1 when it
// announces none (204).
//
// Deprecated: nothing in epfs reads it; Status, BodyBytes and Sent say what
// a response was and what it sent. It will be removed before v1.
func (r *Response) ContentLength() int64 { return r.clen }

// Saved returns the bytes the content coding kept off the wire: for a
// response that sent an encoded variant's whole body (Step returned Done),
// the identity's size minus the variant's; 0 for any other response.
func (r *Response) Saved() int64 {
	if r.phase != phaseDone {
		return 0
	}
	return r.saved
}

// Close reports whether the connection must be closed once this response
// has ended: the request or the caller asked for it, or the response failed
// and the stream can no longer be framed. The head carries "Connection:
// close" whenever Plan knew it (RFC 9112 §9.6).
func (r *Response) Close() bool { return r.close }

// Err returns why Step returned Failed: ErrAborted (the client went away:
// EPIPE or ECONNRESET), ErrTruncated (the file shrank below the announced
// length), or the bare errno of another failing call (pipe2(2) failing to
// give Splice a pipe among them). It is nil otherwise.
func (r *Response) Err() error { return r.err }

// Pending reports whether the response has bytes left to send.
func (r *Response) Pending() bool { return r.phase == phaseBuf || r.phase == phaseBody }

// Reset lets go of everything the response holds: the entry's reference
// (released with a count on the Writer's counters: a close(2) may follow),
// the header buffer and any pipe, which go back to the Writer's pools. It
// may be called at any point, also in the middle of a transfer when the
// connection dies, and more than once, also on a response never planned,
// except while a Fetch is out (Step returned Cold and Fetched has not run):
// an I/O thread is still reading the entry's descriptor and, for a copy,
// into the buffer, so the caller, which handed the Fetch out, waits for it
// to come back before it calls Reset. Status, Sent, BodyBytes, Close and
// Err keep their values until the next Plan, for the access log.
func (r *Response) Reset() {
	r.release()
	if r.phase == phaseBuf || r.phase == phaseBody {
		r.phase = phaseIdle
	}
}

// release gives back the entry, the slab and the pipe. A pipe that still
// holds bytes is closed rather than pooled: those bytes belong to this
// connection's stream. Only a response that holds something has a Writer
// to give it back to.
func (r *Response) release() {
	if r.entry != nil {
		r.entry.Release(r.w.sc)
		r.entry = nil
	}
	r.rep = nil
	r.mem = nil
	if r.hasPipe {
		r.w.putPipe(r.pipe, r.pipeN == 0)
		r.hasPipe = false
		r.pipeN = 0
	}
	if r.s != nil {
		r.w.putSlab(r.s)
		r.s = nil
	}
}

// start readies r for a new response planned on w: whatever a previous one
// still holds (the caller should have called Reset) goes back to the Writer
// that planned it, and a slab is taken from w's pool.
func (r *Response) start(w *Writer, keepAlive, http10 bool) {
	if r.entry != nil || r.s != nil || r.hasPipe {
		r.release()
	}
	*r = Response{w: w, s: w.getSlab(), planned: planned{close: !keepAlive, http10: http10, clen: -1}}
}
