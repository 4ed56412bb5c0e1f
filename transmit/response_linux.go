//go:build linux

package transmit

import "github.com/epfs/epfs/fsindex"

// Response is one response in flight on one connection: what to send and how
// far it has got. Its zero value is ready, it is meant to be embedded in the
// connection, and it is reused request after request without allocating.
// Plan (or PlanError) fills it, Step sends it, and Reset lets go of what it
// holds. A Response belongs to the loop goroutine of its connection.
type Response struct {
	w      *Writer        // the loop's Writer, set by Plan: where slab and pipe go back
	phase  phase          // where the response stands; see the phase constants
	status int            // the status code planned
	close  bool           // the connection must close after this response
	http10 bool           // the request was HTTP/1.0, so persistence is announced
	entry  *fsindex.Entry // the reference Plan took over; released when the response ends
	rep    *fsindex.Entry // the representation sent: entry or one of its variants; nil for none
	mem    []byte         // the body bytes in memory (rep.Body or an error body); nil: from rep.Fd
	s      *slab          // pooled buffers, held only between Plan and the end of the response

	nparts int   // 0: the whole body; 1: one range; >1: that many multipart parts
	part   int   // multipart: the part being sent; nparts means the closing delimiter
	bufOff int   // s.buf[bufOff:bufEnd] is head (or part head) not yet sent
	bufEnd int   //
	off    int64 // the next body byte to send, an offset in the representation
	end    int64 // the end of the body range being sent (exclusive)

	pipe    pipePair // Splice: the pipe this transfer holds, valid when hasPipe
	hasPipe bool     //
	pipeN   int      // Splice: bytes in the pipe not yet sent to the socket
	cpOff   int      // Copy: s.copy[cpOff:cpEnd] was read but not yet written
	cpEnd   int      //

	warmOff     int64 // Probe: [warmOff, warmEnd) was found resident by the last probe;
	warmEnd     int64 //   file bytes are sent from there only, and never past warmEnd unprobed
	noProbe     bool  // Probe: the file system refused RWF_NOWAIT (EOPNOTSUPP): send as without Probe
	raEnd       int64 // Probe: reads this response started (a Fetch, readahead its sends may start) may be in flight below this offset
	noCachestat bool  // Probe: cachestat failed on this file (EOPNOTSUPP): the one-byte probes decide
	coldAhead   int64 // Probe: the offset a probe ahead of the warm window found cold (0: none)
	rounds      uint8 // Probe: fault-in fetches of this chunk after which the probe still failed
	fetch       Fetch // Probe: the off-loop read Cold asks for; whether it is out is the caller's to know (see Cold)

	clen     int64 // the Content-Length sent, or -1 when the response has none
	headLen  int   // the length of the response head proper
	sent     int64 // bytes written to the socket: head, part heads and body
	err      error // why the response failed (ErrAborted, ErrTruncated or an errno)
	boundary [boundaryLen]byte
}

// phase is the state of a Response. Transitions:
//
//	phaseIdle  --Plan-->   phaseBuf
//	phaseBuf   --buffer sent, body range left-->   phaseBody
//	phaseBuf   --buffer sent, nothing left-->      phaseDone
//	phaseBody  --range sent, next part-->          phaseBuf (part head)
//	phaseBody  --last range sent-->                phaseDone (or phaseBuf: closing delimiter)
//	phaseBuf, phaseBody --error-->                 phaseFailed
//	any        --Reset-->                          phaseIdle (Status, Sent, Close kept)
type phase uint8

const (
	phaseIdle   phase = iota // nothing planned, or the last response was reset
	phaseBuf                 // sending s.buf[bufOff:bufEnd], then the body range if any
	phaseBody                // sending body bytes [off, end)
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
	*r = Response{w: w, close: !keepAlive, http10: http10, clen: -1, s: w.getSlab()}
}
