//go:build linux

package transmit

import (
	"strconv"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
)

// Request is what Plan reads of the request it answers: the parsed head,
// the decoded target and the connection's keep-alive policy. Plan reads it
// during the call only; nothing of it is retained.
type Request struct {
	// Head is the parsed request.
	Head *httpparse.Request
	// Path is the decoded path (as DecodePath returned it) and Query the
	// raw query (nil when the target had none). Both are read only for a
	// 301's Location.
	Path, Query []byte
	// KeepAlive is whether the connection may persist after this
	// response: the request's own KeepAlive and the server's policy.
	KeepAlive bool
}

// Plan decides the response to q and encodes its head with w, the Writer
// of the loop the response will be sent from: the response keeps it, for
// the calls that follow (Step, Fetched, Reset) and for its pooled buffers.
// e and res are what fsindex's Lookup returned for q.Path. Plan takes over
// e's reference: the response releases it when it ends (Step returns Done
// or Failed) or is Reset. e is a parameter of its own, not a field of
// Request, because the response keeps it: Go's escape analysis does not
// tell a struct's fields apart, so a kept field would move a caller's
// Request, head and path bytes to the heap with it.
//
// Plan does not read or skip a request body: the caller skips
// Head.ContentLength bytes before the next request, or closes.
func (r *Response) Plan(w *Writer, q Request, e *fsindex.Entry, res fsindex.Result) {
	req := q.Head
	r.start(w, q.KeepAlive, req.Minor == 0)
	r.entry = e
	switch req.MethodID {
	case httpparse.MethodGET, httpparse.MethodHEAD:
	case httpparse.MethodOPTIONS:
		r.planOptions()
		return
	case httpparse.MethodUnknown:
		r.planError(501, false)
		return
	default:
		r.planError(405, false)
		return
	}
	head := req.MethodID == httpparse.MethodHEAD
	switch {
	case (res == fsindex.Found || res == fsindex.Listing) && e != nil:
		r.planEntry(req, head)
	case res == fsindex.RedirectSlash:
		r.planRedirect(q.Path, q.Query, head)
	case res == fsindex.NotFound:
		r.planError(404, head)
	case res == fsindex.Forbidden:
		r.planError(403, head)
	default:
		r.planError(500, head)
	}
}

// PlanError plans an error response of its own choosing, with w as Plan
// does: 400 for a target DecodePath refused, a parser error (400, 414,
// 431, 501, 505), 503 when the server refuses a connection or is out of
// descriptors, 500 when a lookup failed. The body is the short text of the
// status. It takes no Request: it answers without a lookup, so there is
// no entry to take over and no path to read, and of the request only its
// method and version frame the answer.
//
// req is the request being answered, or nil when there is none to go by (a
// parser error, a connection refused before its request was read): an
// answer to HEAD carries the body's Content-Length but no body (RFC 9110
// §9.3.2; the client reads none, RFC 9112 §6.3), and a persistent answer to
// HTTP/1.0 says "Connection: keep-alive", without which the client takes
// the connection as closing (RFC 9112 §9.3). With req nil the response is
// framed as for a GET over HTTP/1.1, which is why the caller then passes
// keepAlive false: a client whose request was not understood reads up to
// the close. With keepAlive false the head carries "Connection: close" and
// Close reports true.
func (r *Response) PlanError(w *Writer, req *httpparse.Request, status int, keepAlive bool) {
	head, http10 := false, false
	if req != nil {
		head, http10 = req.MethodID == httpparse.MethodHEAD, req.Minor == 0
	}
	r.start(w, keepAlive, http10)
	if statusText(status) == "" {
		status = 500
	}
	r.planError(status, head)
}

// headStart begins a head: status line, Date, Server and Config.Fields.
func (r *Response) headStart(status int) []byte {
	r.status = status
	b := appendStatusLine(r.s.buf[:0], status)
	b = append(b, "\r\nDate: "...)
	b = append(b, r.w.date[:]...)
	if r.w.cfg.ServerHeader != "" {
		b = appendField(b, "Server", r.w.cfg.ServerHeader)
	}
	return append(b, r.w.cfg.Fields...)
}

// finishHead adds the connection fields and the blank line, and makes the
// head the first thing Step sends. "Connection: close" goes on every
// response after which the server closes (RFC 9112 §9.6); an HTTP/1.0
// client assumes close unless told "keep-alive" (RFC 9112 §9.3, appendix C.2.2).
func (r *Response) finishHead(b []byte) {
	if r.close {
		b = appendField(b, "Connection", "close")
	} else if r.http10 {
		b = appendField(b, "Connection", "keep-alive")
	}
	b = append(b, "\r\n\r\n"...)
	r.s.buf = b
	r.headLen = len(b)
	r.bufOff, r.bufEnd = 0, len(b)
	r.phase = phaseBuf
}

// planError plans a status with the short text body; head leaves the body
// out but keeps its Content-Length (RFC 9110 §9.3.2).
func (r *Response) planError(status int, head bool) {
	b := r.headStart(status)
	if status == 405 {
		// RFC 9110 §15.5.6: a 405 MUST list the allowed methods.
		b = appendField(b, "Allow", allowed)
	}
	r.finishError(b, status, head)
}

// finishError adds the text body's fields to b and finishes the head.
func (r *Response) finishError(b []byte, status int, head bool) {
	body := errorBody(status)
	b = appendField(b, "Content-Type", textPlain)
	b = appendIntField(b, "Content-Length", int64(len(body)))
	r.clen = int64(len(body))
	r.finishHead(b)
	if !head {
		r.src, r.mem, r.end = srcMemory, body, int64(len(body))
	}
}

// planOptions answers OPTIONS with 204 and Allow (RFC 9110 §9.3.7), for any
// target: a file server allows the same methods everywhere. A 204 carries no
// Content-Length (RFC 9110 §8.6).
func (r *Response) planOptions() {
	b := r.headStart(204)
	b = appendField(b, "Allow", allowed)
	r.finishHead(b)
}

// planRedirect answers a directory named without its trailing slash with 301
// to the same path plus "/", keeping the query (RFC 9110 §15.4.2; Location
// is a relative reference, §10.2.2).
func (r *Response) planRedirect(path, query []byte, head bool) {
	b := r.headStart(301)
	b = append(b, "\r\nLocation: "...)
	b = appendLocationPath(b, path)
	if len(path) == 0 || path[len(path)-1] != '/' {
		b = append(b, '/')
	}
	if query != nil {
		b = append(b, '?')
		b = append(b, query...)
	}
	r.finishError(b, 301, head)
}

// chooseRepresentation picks the representation to send, the Vary value
// that goes with it ("" for none), and whether a Range applies to it. For a
// listing that is its HTML or JSON form, by Accept (see chooseListingForm),
// with "Vary: Accept". For a file it is the variant the client prefers
// (RFC 9110 §12.5.3: highest q-value, ties to br, zstd, gzip, identity);
// every response about a file that is negotiated at all (it has variants,
// or gets computed ones) carries "Vary: Accept-Encoding" (§12.5.5). Only the
// first Accept-Encoding line is read. A client that accepts none of what
// exists gets identity anyway, which §12.5.3 permits instead of 406.
//
// A computed variant (fsindex.Entry.Computed) exists only in memory, and
// only while its entry is cached, so a GET with Range gets the identity
// instead, which ranges are served from, unless identity is refused
// ("identity;q=0", or "*;q=0" without an identity entry): then the whole
// variant, and planEntry ignores the Range (ranged reports that).
func chooseRepresentation(req *httpparse.Request, e *fsindex.Entry) (rep *fsindex.Entry, vary string, ranged bool) {
	ranged = req.MethodID == httpparse.MethodGET && req.Header("Range") != nil
	if j := e.JSON(); j != nil {
		return chooseListingForm(req, e, j), "Accept", ranged
	}
	if e.Negotiated() {
		vary = "Accept-Encoding"
	}
	br, zs, gz := e.Variant(fsindex.Brotli), e.Variant(fsindex.Zstd), e.Variant(fsindex.Gzip)
	if br == nil && zs == nil && gz == nil {
		return e, vary, ranged
	}
	v := req.Header("Accept-Encoding")
	if v == nil {
		return e, vary, ranged
	}
	enc, ok := httpparse.ParseAcceptEncoding(v)
	if !ok {
		return e, vary, ranged
	}
	switch enc.Best(br != nil, zs != nil, gz != nil) {
	case httpparse.CodingBr:
		rep = br
	case httpparse.CodingZstd:
		rep = zs
	case httpparse.CodingGzip:
		rep = gz
	default:
		return e, vary, ranged
	}
	if rep.Computed && ranged {
		if enc.Identity > 0 {
			return e, vary, ranged
		}
		return rep, vary, false
	}
	return rep, vary, ranged
}

// chooseListingForm picks a listing's JSON form when the first Accept line
// gives application/json a higher q-value than text/html (RFC 9110
// §12.5.1), and the page otherwise: with no Accept, with "*/*", on a tie,
// on a malformed value, and when neither is acceptable (§12.5.1 lets the
// server disregard the field rather than answer 406).
func chooseListingForm(req *httpparse.Request, page, doc *fsindex.Entry) *fsindex.Entry {
	v := req.Header("Accept")
	if v == nil {
		return page
	}
	j, ok := httpparse.MediaQuality(v, "application", "json")
	if !ok {
		return page
	}
	if h, _ := httpparse.MediaQuality(v, "text", "html"); j > h {
		return doc
	}
	return page
}

// appendValidators adds the fields a 200, 206 and 304 share (RFC 9110
// §15.4.5 lists what a 304 must repeat): Last-Modified, ETag, Cache-Control,
// the resource's own fields (its Cache-Control rule among them) and Vary.
// Those fields are the resource's, the entry Plan was given, whatever
// representation rep is: a variant (sidecar or computed) or a listing's
// JSON form is the same resource at the same path, so the same rules.
func (r *Response) appendValidators(b []byte, rep *fsindex.Entry, vary string) []byte {
	b = appendField(b, "Last-Modified", rep.LastModified)
	b = appendField(b, "ETag", rep.ETag)
	if r.w.cfg.CacheControl != "" {
		b = appendField(b, "Cache-Control", r.w.cfg.CacheControl)
	}
	b = append(b, r.entry.Header...)
	if vary != "" {
		b = appendField(b, "Vary", vary)
	}
	return b
}

// planEntry plans the answer for a file or listing: preconditions, then
// ranges, then the head of a 200 or 206.
func (r *Response) planEntry(req *httpparse.Request, head bool) {
	rep, vary, ranged := chooseRepresentation(req, r.entry)
	r.rep = rep
	switch preconditions(req, rep) {
	case 304:
		b := r.appendValidators(r.headStart(304), rep, vary)
		r.finishHead(b)
		return
	case 412:
		b := r.headStart(412)
		if vary != "" {
			b = appendField(b, "Vary", vary)
		}
		r.finishError(b, 412, head)
		return
	}
	size := rep.Size
	// RFC 9110 §14.2: Range is defined for GET only, and ignored when an
	// If-Range does not match (§13.1.5).
	if ranged {
		if v := req.Header("Range"); checkIfRange(req, rep, r.w.dateSec) != condFalse {
			switch status, n := chooseRanges(v, size, r.s.ranges[:r.w.cfg.MaxRanges]); status {
			case 416:
				r.planUnsatisfiable(size, vary)
				return
			case 206:
				r.nparts = n
			}
		}
	}
	r.planBody(rep, vary, head)
}

// planUnsatisfiable answers a Range no part of which exists with 416 and the
// current length (RFC 9110 §15.5.17).
func (r *Response) planUnsatisfiable(size int64, vary string) {
	b := r.headStart(416)
	b = append(b, "\r\nContent-Range: bytes */"...)
	b = strconv.AppendInt(b, size, 10)
	if vary != "" {
		b = appendField(b, "Vary", vary)
	}
	r.finishError(b, 416, false) // only a GET gets here: HEAD ignores Range
}

// planBody writes the head of a 200 or 206 and sets up the body.
func (r *Response) planBody(rep *fsindex.Entry, vary string, head bool) {
	size := rep.Size
	rs := r.s.ranges[:r.nparts]
	status := 200
	if r.nparts > 0 {
		status = 206
	}
	b := r.headStart(status)
	switch {
	case r.nparts > 1:
		r.w.nextBoundary(&r.boundary)
		r.clen, b = r.multipartLength(b)
		b = append(b, "\r\nContent-Type: "+multipartType...)
		b = append(b, r.boundary[:]...)
	default:
		r.clen = size
		if r.nparts == 1 {
			r.clen = rs[0].Length
		}
		b = appendField(b, "Content-Type", rep.ContentType)
	}
	b = appendIntField(b, "Content-Length", r.clen)
	if r.nparts == 1 {
		b = append(b, "\r\nContent-Range: "...)
		b = appendContentRange(b, rs[0].Start, rs[0].Length, size)
	}
	if rep.Encoding != fsindex.Identity {
		b = appendField(b, "Content-Encoding", rep.Encoding.String())
	}
	b = r.appendValidators(b, rep, vary)
	b = appendField(b, "Accept-Ranges", "bytes")
	r.finishHead(b)
	if head {
		return
	}
	r.bodyFrom(rep)
	switch r.nparts {
	case 0:
		r.off, r.end = 0, size
		if rep != r.entry {
			r.saved = r.entry.Size - size
		}
	case 1:
		r.off, r.end = rs[0].Start, rs[0].Start+rs[0].Length
	default:
		// The first part's head goes out with the response head.
		r.s.buf = r.appendPartHead(r.s.buf, 0)
		r.bufEnd = len(r.s.buf)
		r.off, r.end = rs[0].Start, rs[0].Start+rs[0].Length
	}
}

// appendPartHead appends the delimiter and header of multipart part i
// (RFC 9110 §14.6, RFC 2046 §5.1.1): the first part opens with the boundary
// line, later ones with the CRLF that ends the previous part's data.
func (r *Response) appendPartHead(b []byte, i int) []byte {
	if i > 0 {
		b = append(b, "\r\n"...)
	}
	b = append(b, "--"...)
	b = append(b, r.boundary[:]...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, r.rep.ContentType...)
	b = append(b, "\r\nContent-Range: "...)
	rg := r.s.ranges[i]
	b = appendContentRange(b, rg.Start, rg.Length, r.rep.Size)
	return append(b, "\r\n\r\n"...)
}

// appendCloseDelimiter appends the multipart close delimiter.
func (r *Response) appendCloseDelimiter(b []byte) []byte {
	b = append(b, "\r\n--"...)
	b = append(b, r.boundary[:]...)
	return append(b, "--\r\n"...)
}

// multipartLength returns the exact length of the multipart body, measured
// by encoding each part head past the end of b (then dropping it), so that
// the count and the bytes can never disagree. It returns b, grown if the
// encoding needed room.
func (r *Response) multipartLength(b []byte) (int64, []byte) {
	mark := len(b)
	var n int64
	for i := range r.nparts {
		b = r.appendPartHead(b[:mark], i)
		n += int64(len(b)-mark) + r.s.ranges[i].Length
	}
	b = r.appendCloseDelimiter(b[:mark])
	n += int64(len(b) - mark)
	return n, b[:mark]
}

// bodyFrom sets the body's source to rep: its bytes in memory when the
// entry holds them, else its descriptor by the Writer's strategy.
func (r *Response) bodyFrom(rep *fsindex.Entry) {
	r.src, r.mem = srcMemory, rep.Body
	if rep.Body == nil {
		r.src = r.w.fileSource()
	}
}
