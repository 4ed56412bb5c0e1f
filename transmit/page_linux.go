//go:build linux

package transmit

import (
	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
)

// PlanPage plans an error response whose body is a file: the page an
// operator chose for status (epfs's --error-page), looked up as e. It takes
// over e's reference, as Plan does. The head carries status, e's
// Content-Type and length, and e.Header (the fields the page's own path
// gets); a 405 lists the allowed methods (RFC 9110 §15.5.6). HEAD gets the
// head alone, Content-Length included (§9.3.2).
//
// The page is not a representation of the target, so nothing that selects
// or validates one applies: no ETag or Last-Modified (they would describe
// the page, and a cache would ask about the target with them), every
// precondition is ignored (§13.2.1: a server MUST ignore them when the
// response without them would not be 2xx or 412), and so is Range (a 206
// fulfils a range of the target's representation, §15.3.7). The file is
// sent whole, in identity: a page's precompressed variants are not offered.
//
// req is the request answered, or nil when there is none to go by (a head
// the parser refused), framed then as for a GET over HTTP/1.1, as
// PlanError frames it; keepAlive as for Plan.
func (r *Response) PlanPage(w *Writer, req *httpparse.Request, status int, e *fsindex.Entry, keepAlive bool) {
	head, http10 := false, false
	if req != nil {
		head, http10 = req.MethodID == httpparse.MethodHEAD, req.Minor == 0
	}
	r.start(w, keepAlive, http10)
	r.entry, r.rep = e, e
	b := r.headStart(status)
	if status == 405 {
		b = appendField(b, "Allow", allowed)
	}
	b = appendField(b, "Content-Type", e.ContentType)
	b = appendIntField(b, "Content-Length", e.Size)
	b = append(b, e.Header...)
	r.clen = e.Size
	r.finishHead(b)
	if head {
		return
	}
	r.bodyFrom(e)
	r.off, r.end = 0, e.Size
}
