package httpparse

import (
	"bytes"
	"encoding/binary"
)

// Parser states. The parser works line by line; a line is validated once
// it has fully arrived, and the scan for its LF resumes where the last call
// stopped, so a head delivered one byte per call costs linear work. (A line
// is first offered to the one-pass scanners of scan.go, once; what they do
// not take is scanned again here, which at most doubles the work.)
//
//	stLine   --request line--> stFields --blank line--> stLine (request done)
//	stLine   --empty line-->   stLine   (RFC 9112 §2.2: skip leading CRLFs)
//	any      --error-->        stFailed (until Reset)
const (
	stLine   uint8 = iota // waiting for, or inside, the request line
	stFields              // inside the field section
	stFailed              // an *Error was returned; Parse returns it again
)

// span is a half-open byte range [lo, hi) of the caller's buffer. The parser
// keeps offsets, not slices, because the caller may move its buffer (grow it)
// between calls; slices are cut only when a request is complete.
type span struct{ lo, hi int32 }

func (s span) of(buf []byte) []byte { return buf[s.lo:s.hi:s.hi] }

// fieldSpan locates one field line.
type fieldSpan struct{ name, value span }

// Target forms (RFC 9112 §3.2).
const (
	formOrigin   uint8 = iota // "/path?query"
	formAbsolute              // "http://authority/path?query"
	formAsterisk              // "*", OPTIONS only
)

// head is everything the parser learns about the request in progress except
// the field array, so that starting a new request is one small assignment.
type head struct {
	state     uint8
	lineStart int   // offset of the first byte of the current line
	scan      int   // bytes in [lineStart, scan) are known to hold no LF
	err       error // the error returned in stFailed
	resumed   bool  // an earlier call returned ErrNeedMore for this request

	// Request line.
	method, target, version span
	path, query, authority  span
	hasQuery                bool
	form                    uint8
	methodID                Method
	minor                   uint8

	// Facts gathered from field lines as each one completes.
	nfields         int
	hostCount       int
	host            span
	clSeen          bool
	contentLength   int64
	teSeen          bool // some Transfer-Encoding field was present
	teCodings       int  // transfer codings listed, over all fields
	teChunked       int  // how many of them were "chunked"
	teLastIsChunked bool // the last coding listed was "chunked"
	connClose       bool
	connKeepAlive   bool
	expect100       bool
}

// Parser parses request heads from a byte stream. Its zero value is ready to
// use with [DefaultLimits]. A Parser holds the progress of one request, so it
// belongs to one connection; it is not safe for concurrent use.
type Parser struct {
	// Limits applies to requests started after it is set. Zero fields
	// mean their defaults.
	Limits Limits

	h      head
	fields [MaxFieldsCap]fieldSpan
}

// Reset forgets any request in progress and any error, keeping Limits.
func (p *Parser) Reset() { p.h = head{} }

// Parse parses the request head at the start of buf into req.
//
// It returns one of:
//
//   - consumed > 0, nil: req holds a complete, valid request head, which
//     occupied buf[:consumed] (including any leading empty lines that were
//     skipped). The body, if req.Framing says there is one, starts at
//     buf[consumed]. The parser is ready for the next request, which the
//     caller passes as a buffer starting after that body.
//   - 0, ErrNeedMore: buf holds an incomplete head. Call Parse again with
//     buf extended by more bytes (its first len(buf) bytes unchanged; the
//     buffer may have moved). Work already done is not repeated.
//   - 0, *Error: the request is invalid; the error's Status is the answer.
//     Every later call returns the same error until Reset.
//
// req's contents are meaningful only after a nil error; Parse may write to
// it before that. Parse never allocates and never reads beyond buf, nor
// beyond Limits.MaxHeaderBytes into it.
func (p *Parser) Parse(buf []byte, req *Request) (consumed int, err error) {
	h := &p.h
	if h.state == stFailed {
		return 0, h.err
	}
	if h.scan > len(buf) {
		// The caller broke the contract and passed a shorter buffer.
		// Starting over is correct if the bytes were replaced, and it
		// keeps every offset inside buf.
		p.Reset()
	}
	lim := p.Limits.effective()
	window := len(buf)
	if window > lim.MaxHeaderBytes {
		window = lim.MaxHeaderBytes // the head must end within the limit
	}
	if h.scan > 0 {
		h.resumed = true // slices written by earlier calls may point elsewhere
	}
	lineStart, scan := h.lineStart, h.scan
	b := buf[:window]
	for {
		lf := -1 // the LF that ends the current line, once found
		if scan == lineStart {
			// A line not looked at before: let the one-pass scanners
			// of scan.go take what they can (see there).
			switch h.state {
			case stLine:
				if next := p.fastRequestLine(b, lineStart, &lim); next > 0 {
					lineStart, scan = next, next
					continue
				}
			case stFields:
				next, e := p.fastFieldLines(b, lineStart, &lim, req)
				if e != nil {
					return 0, p.fail(e)
				}
				lineStart, scan = next, next
				// They stop at the blank line, normally.
				switch {
				case next < len(b) && b[next] == '\n':
					lf = next
				case next+1 < len(b) && b[next] == '\r' && b[next+1] == '\n':
					lf = next + 1
				}
			}
		}
		if lf < 0 {
			i := -1
			if scan < window {
				i = bytes.IndexByte(buf[scan:window], '\n')
			}
			if i < 0 {
				h.lineStart, h.scan = lineStart, max(scan, window)
				return 0, p.pending(buf, &lim)
			}
			lf = scan + i
		}
		end := lf
		if end > lineStart && buf[end-1] == '\r' {
			end-- // CRLF; a bare LF is also a line end (RFC 9112 §2.2)
		}
		var e *Error
		switch {
		case h.state == stFields && end > lineStart:
			e = p.fieldLine(buf, lineStart, end, &lim, req)
		case h.state == stFields:
			if e = p.finish(); e != nil {
				break
			}
			p.fill(buf, req)
			p.Reset()
			return lf + 1, nil
		case end == lineStart:
			// leading empty line, skipped (RFC 9112 §2.2)
		case end-lineStart > lim.MaxTargetBytes+requestLineSlack:
			e = errLineTooLong
		default:
			e = p.requestLine(buf, lineStart, end, &lim)
			h.state = stFields
		}
		if e != nil {
			return 0, p.fail(e)
		}
		lineStart, scan = lf+1, lf+1
	}
}

// pending decides, when no LF is in sight, whether more bytes could still
// make a valid head, and returns ErrNeedMore or the limit that rules it out.
// The rules are the same as for a complete line, so a valid request parses
// the same whatever its arrival pattern.
func (p *Parser) pending(buf []byte, lim *Limits) error {
	h := &p.h
	full := len(buf) >= lim.MaxHeaderBytes // the head would end past the limit
	switch h.state {
	case stLine:
		// The line so far may end in the CR of its CRLF.
		if full || len(buf)-h.lineStart-1 > lim.MaxTargetBytes+requestLineSlack {
			return p.fail(errLineTooLong)
		}
	case stFields:
		if full {
			return p.fail(errHeadTooLarge)
		}
	}
	return ErrNeedMore
}

func (p *Parser) fail(e *Error) error {
	p.h.state, p.h.err = stFailed, e
	return e
}

// badByte names the rule broken by an unexpected byte: a CR that is not
// part of a CRLF is its own error (RFC 9112 §2.2), anything else is the
// caller's.
func badByte(c byte, e *Error) *Error {
	if c == '\r' {
		return errBareCR
	}
	return e
}

// requestLine parses buf[lo:hi], a request line without its line ending
// (RFC 9112 §3):
//
//	request-line = method SP request-target SP HTTP-version
//
// Exactly one SP separates the parts; the RFC allows a recipient to split on
// any whitespace, but a strict single-SP rule leaves no room for two
// components to disagree about where the target ends.
func (p *Parser) requestLine(buf []byte, lo, hi int, lim *Limits) *Error {
	h := &p.h
	line := buf[lo:hi]

	// method = token (§3.1)
	i := 0
	for i < len(line) && isToken[line[i]] {
		i++
	}
	if i == len(line) || line[i] != ' ' {
		if i < len(line) {
			return badByte(line[i], errMethod)
		}
		return errRequestLine
	}
	if i == 0 {
		return errMethod
	}
	h.method = span{int32(lo), int32(lo + i)}
	h.methodID = lookupMethod(line[:i])

	// request-target, up to the next SP (§3.2)
	t := i + 1
	j := bytes.IndexByte(line[t:], ' ')
	if j < 0 {
		return errRequestLine // no version: HTTP/0.9 is not supported
	}
	if j == 0 {
		return errTarget
	}
	if j > lim.MaxTargetBytes {
		return errTargetTooLong
	}
	h.target = span{int32(lo + t), int32(lo + t + j)}

	// HTTP-version = HTTP-name "/" DIGIT "." DIGIT; HTTP-name = %s"HTTP" (§2.3)
	v := t + j + 1
	h.version = span{int32(lo + v), int32(hi)}
	if e := p.version(line[v:]); e != nil {
		return e
	}
	return p.requestTarget(buf, lo+t, lo+t+j)
}

// version accepts HTTP/1.x. A higher minor version than 1.1 is read as
// 1.1: RFC 9110 §2.5 lets a recipient treat a message of a higher minor
// version of the major it implements as the highest minor it supports,
// since minor versions of HTTP/1 are compatible by definition (RFC 9112
// §2.3), and a server answers with its own version. Another well-formed
// major version is 505 (RFC 9110 §15.6.6). Anything else is not HTTP (400).
func (p *Parser) version(v []byte) *Error {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' {
		if i := bytes.IndexByte(v, '\r'); i >= 0 {
			return errBareCR
		}
		return errVersion
	}
	major, minor := v[5], v[7]
	if major < '0' || major > '9' || minor < '0' || minor > '9' {
		return errVersion
	}
	if major != '1' {
		return errVersionUnsupported
	}
	p.h.minor = min(minor-'0', 1)
	return nil
}

// requestTarget classifies and validates buf[lo:hi] (RFC 9112 §3.2):
//
//	request-target = origin-form / absolute-form / authority-form / asterisk-form
//
// authority-form belongs to CONNECT, which a static server does not
// implement, so it is rejected with 400 like any other malformed target.
func (p *Parser) requestTarget(buf []byte, lo, hi int) *Error {
	h := &p.h
	t := buf[lo:hi]
	switch {
	case t[0] == '/':
		h.form = formOrigin
		return p.pathQuery(buf, lo, hi)
	case len(t) == 1 && t[0] == '*':
		// asterisk-form applies to a server-wide OPTIONS only (§3.2.4).
		if h.methodID != MethodOPTIONS {
			return errAsteriskForm
		}
		h.form = formAsterisk
		h.path = span{int32(lo), int32(hi)}
		return nil
	}
	// absolute-form = absolute-URI (§3.2.2). Only http and https URIs
	// name resources this server could hold.
	n := schemeLen(t)
	if n == 0 {
		// No "scheme:" prefix: authority-form ("host:port") or garbage.
		if bytes.IndexByte(t, ':') > 0 {
			return errAuthorityForm
		}
		return errTarget
	}
	if !equalFold(t[:n], "http") && !equalFold(t[:n], "https") {
		return errScheme
	}
	rest := t[n+1:]
	if len(rest) < 2 || rest[0] != '/' || rest[1] != '/' {
		return errTargetAuthHost // http URIs always have an authority (RFC 9110 §4.2.1)
	}
	a := lo + n + 3
	b := a
	for b < hi && buf[b] != '/' && buf[b] != '?' {
		b++
	}
	// The host may not be empty (RFC 9110 §4.2.1), and userinfo is
	// deprecated and a phishing vector: a recipient should treat it as an
	// error (RFC 9110 §4.2.4). An '@' fails validHost.
	if !validHost(buf[a:b], false) {
		return errTargetAuthHost
	}
	h.form = formAbsolute
	h.authority = span{int32(a), int32(b)}
	return p.pathQuery(buf, b, hi)
}

// schemeLen returns the length of the scheme of t if t starts with
// scheme ":" (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )),
// else 0.
func schemeLen(t []byte) int {
	for i, c := range t {
		switch {
		case 'a' <= lower(c) && lower(c) <= 'z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i
		default:
			return 0
		}
	}
	return 0
}

// pathQuery validates buf[lo:hi], an absolute-path with optional query
// (or empty, after an absolute-form authority), and records both spans.
//
//	origin-form = absolute-path [ "?" query ]
func (p *Parser) pathQuery(buf []byte, lo, hi int) *Error {
	h := &p.h
	q := hi
	for i := lo; i < hi; i++ {
		c := buf[i]
		if !isTargetChar[c] {
			return badByte(c, errTarget)
		}
		switch c {
		case '%':
			if i+2 >= hi {
				return errTarget
			}
			if _, ok := unhex(buf[i+1]); !ok {
				return errTarget
			}
			if _, ok := unhex(buf[i+2]); !ok {
				return errTarget
			}
			i += 2
		case '?':
			if q == hi {
				q = i
			}
		}
	}
	if q == lo {
		// Absolute-form with an empty path: its path is "/" (RFC 9110 §4.2.3).
		h.path = span{-1, -1}
	} else {
		h.path = span{int32(lo), int32(q)}
	}
	if q < hi {
		h.hasQuery = true
		h.query = span{int32(q + 1), int32(hi)}
	}
	return nil
}

// fieldLine parses buf[lo:hi], a non-empty field line without its line
// ending (RFC 9112 §5):
//
//	field-line = field-name ":" OWS field-value OWS
func (p *Parser) fieldLine(buf []byte, lo, hi int, lim *Limits, req *Request) *Error {
	line := buf[lo:hi]
	if isOWS(line[0]) {
		// obs-fold, or whitespace before the first field line: either
		// way a line that some recipients would join to the previous
		// one. Reject (RFC 9112 §5.2, §2.2).
		return errObsFold
	}
	i := 0
	for i < len(line) && isToken[line[i]] {
		i++
	}
	if i == len(line) {
		return errFieldName // no colon
	}
	if line[i] != ':' {
		if isOWS(line[i]) {
			return errFieldSpace // RFC 9112 §5.1: MUST reject with 400
		}
		return badByte(line[i], errFieldName)
	}
	if i == 0 {
		return errFieldName
	}
	v, e := i+1, len(line)
	for v < e && isOWS(line[v]) {
		v++
	}
	for e > v && isOWS(line[e-1]) {
		e--
	}
	if k := badValueByte(line[v:e]); k >= 0 {
		return badByte(line[v+k], errFieldValue)
	}
	if err := p.addField(buf, lo, lo+i, lo+v, lo+e, lim, req); err != nil {
		return err
	}
	if mayNote(i, line[0]) {
		return p.noteLast(req)
	}
	return nil
}

// addField records the field line whose name is buf[lo:nameEnd] and whose
// value is buf[v:e], both already validated. fieldLine and fastFieldLines
// both record through it, then note the field if mayNote says it may be one
// the parser must understand. It is small enough for the compiler to
// inline into the fast scanner's loop, which is why the rare call to note
// stays outside it.
func (p *Parser) addField(buf []byte, lo, nameEnd, v, e int, lim *Limits, req *Request) *Error {
	n := p.h.nfields
	if n >= lim.MaxFields {
		return errTooManyFields
	}
	p.fields[n] = fieldSpan{span{int32(lo), int32(nameEnd)}, span{int32(v), int32(e)}}
	// Two separate stores: a composite-literal store is built on the stack
	// and copied with 16-byte moves, which stall on store forwarding.
	rf := &req.Fields[n]
	rf.Name = buf[lo:nameEnd:nameEnd]
	rf.Value = buf[v:e:e]
	p.h.nfields = n + 1
	return nil
}

// mayNote reports whether a field name of length n and first byte first
// may be one note must see: both match an entry of noted (noteFirst).
func mayNote(n int, first byte) bool {
	return uint(n) < uint(len(noteFirst)) && noteFirst[n] == first|0x20
}

// noteLast notes the field line addField recorded last.
func (p *Parser) noteLast(req *Request) *Error {
	n := p.h.nfields - 1
	f := &req.Fields[n]
	return p.note(f.Name, f.Value, p.fields[n].value)
}

// fill writes the finished request into req.
func (p *Parser) fill(buf []byte, req *Request) {
	h := &p.h
	req.Method = h.method.of(buf)
	req.MethodID = h.methodID
	req.Target = h.target.of(buf)
	req.Version = h.version.of(buf)
	req.Major, req.Minor = 1, int(h.minor)
	if h.path.lo < 0 {
		req.Path = rootPath[:1:1]
	} else {
		req.Path = h.path.of(buf)
	}
	req.Query = nil
	if h.hasQuery {
		req.Query = h.query.of(buf)
	}
	switch {
	case h.form == formAbsolute:
		req.Host = h.authority.of(buf)
	case h.hostCount == 1:
		req.Host = h.host.of(buf)
	default:
		req.Host = nil
	}
	if h.resumed {
		// The field lines were cut from the buffers of earlier calls;
		// cut them again from this one.
		for i := 0; i < h.nfields; i++ {
			f := &p.fields[i]
			req.Fields[i] = Field{Name: f.name.of(buf), Value: f.value.of(buf)}
		}
	}
	for i := h.nfields; i < req.NumFields; i++ {
		req.Fields[i] = Field{} // drop references to an older buffer
	}
	req.NumFields = h.nfields
	req.KeepAlive = !h.connClose && (h.minor == 1 || h.connKeepAlive)
	req.Expect100 = h.expect100
	req.Framing, req.ContentLength = BodyNone, 0
	switch {
	case h.teSeen:
		req.Framing = BodyChunked
	case h.contentLength > 0:
		req.Framing, req.ContentLength = BodyLength, h.contentLength
	}
}

// rootPath backs Request.Path for an absolute-form target with an empty path.
var rootPath = []byte("/")

// badValueByte returns the index of the first byte of v that may not appear
// in a field value (a CTL other than HTAB, RFC 9110 §5.5), or -1.
//
// Field values are most of a request's bytes, so this loop is the parser's
// hot spot: it checks eight bytes per step with SWAR arithmetic and looks at
// single bytes only in a word that holds a suspect (a byte below 0x20,
// including the rare HTAB, or DEL), or in the tail.
func badValueByte(v []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := binary.LittleEndian.Uint64(v[i:])
		// A byte b < 0x20 has its high bit set in b-0x20 and clear in b;
		// bytes >= 0x80 (obs-text, allowed) are excluded by ^x. Borrows
		// only ever flag bytes above a true hit, so no hit is missed.
		lt := (x - 0x20*ones) & ^x & highs
		y := x ^ 0x7f*ones // DEL becomes zero
		del := (y - ones) & ^y & highs
		if lt|del != 0 {
			for j := i; j < i+8; j++ {
				if !isFieldVChar[v[j]] {
					return j
				}
			}
		}
	}
	for ; i < len(v); i++ {
		if !isFieldVChar[v[i]] {
			return i
		}
	}
	return -1
}
