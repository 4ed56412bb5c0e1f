package httpparse

// The fields the parser itself must understand: those that decide where
// this request ends and the next begins (RFC 9112 §6), whether there is a
// next one (§9.3), and the Host rules of §3.2. Each field line is noted as
// it completes; finish judges the combination once the head has ended.

// note records what a completed field line means for framing and
// connection handling. name and value are the field's bytes.
func (p *Parser) note(name, value []byte, vs span) *Error {
	h := &p.h
	switch len(name) { // cheap pre-filter before the case-insensitive compare
	case 4:
		if equalFold(name, "host") {
			h.hostCount++
			h.host = vs
			if !validHost(value, true) {
				return errHostInvalid
			}
		}
	case 6:
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			h.expect100 = true
		}
	case 10:
		if equalFold(name, "connection") {
			p.noteConnection(value)
		}
	case 14:
		if equalFold(name, "content-length") {
			return p.noteContentLength(value)
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return p.noteTransferEncoding(value)
		}
	}
	return nil
}

// noteConnection looks for the "close" and "keep-alive" connection options
// (RFC 9110 §7.6.1, RFC 9112 §9.3) in a comma-separated list, ignoring case
// and every other option.
func (p *Parser) noteConnection(v []byte) {
	// Most requests carry one option and nothing else.
	switch {
	case equalFold(v, "keep-alive"):
		p.h.connKeepAlive = true
		return
	case equalFold(v, "close"):
		p.h.connClose = true
		return
	}
	for len(v) > 0 {
		var opt []byte
		opt, v = nextElement(v)
		switch {
		case equalFold(opt, "close"):
			p.h.connClose = true
		case equalFold(opt, "keep-alive"):
			p.h.connKeepAlive = true
		}
	}
}

// maxContentLength keeps ContentLength within int64 with room to add.
const maxContentLength = 1<<62 - 1

// noteContentLength accepts Content-Length = 1*DIGIT (RFC 9110 §8.6).
//
// Signs, spaces inside, hex and empty values are 400. The same value on
// several field lines is accepted (RFC 9112 §6.3 item 5 permits it, and
// some clients do send it); different values are 400 because two
// components that pick different ones disagree about where the next
// request starts. A comma-separated list ("42, 42") is rejected, which
// RFC 9110 §8.6 permits: it is never sent by a well-behaved client.
func (p *Parser) noteContentLength(v []byte) *Error {
	h := &p.h
	if len(v) == 0 {
		return errContentLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return errContentLength
		}
		n = n*10 + int64(c-'0')
		if n > maxContentLength {
			return errContentLength
		}
	}
	if h.clSeen && n != h.contentLength {
		return errContentLengthDiff
	}
	h.clSeen, h.contentLength = true, n
	return nil
}

// noteTransferEncoding records the transfer codings listed in one
// Transfer-Encoding field (RFC 9112 §6.1); several fields form one list.
//
//	Transfer-Encoding = #transfer-coding
//	transfer-coding   = token *( OWS ";" OWS transfer-parameter )
//
// Unlike other lists, empty elements are rejected here (RFC 9110 §5.6.1.2
// asks recipients to ignore them): Transfer-Encoding decides where the
// request ends, and a value that an intermediary might read as "no coding"
// while we read "chunked" is exactly how a request is smuggled past it.
func (p *Parser) noteTransferEncoding(v []byte) *Error {
	h := &p.h
	h.teSeen = true
	if len(v) == 0 || v[len(v)-1] == ',' {
		return errTEInvalid // no coding, or an empty last element
	}
	for len(v) > 0 {
		var c []byte
		c, v = nextElement(v)
		if len(c) == 0 {
			return errTEInvalid
		}
		name := c
		for i, b := range c {
			if !isToken[b] {
				if b != ';' && !isOWS(b) {
					return errTEInvalid
				}
				name = c[:i] // parameters follow; chunked takes none
				break
			}
		}
		h.teCodings++
		h.teLastIsChunked = equalFold(name, "chunked") && len(name) == len(c)
		if equalFold(name, "chunked") {
			h.teChunked++
		}
	}
	return nil
}

// finish applies the rules that need the whole field section.
func (p *Parser) finish() *Error {
	h := &p.h

	// Host (RFC 9112 §3.2): an HTTP/1.1 request needs exactly one, and no
	// request may carry several or an invalid one. The Host field is
	// required even with an absolute-form target, whose authority then
	// wins (§3.2.2, applied in fill).
	switch {
	case h.hostCount > 1:
		return errHostMany
	case h.hostCount == 0 && h.minor == 1:
		return errHostMissing
	}

	// Framing (RFC 9112 §6.1, §6.3).
	if h.teSeen {
		switch {
		case h.minor == 0:
			// §6.1: an HTTP/1.0 recipient can't know chunked, so
			// framing from Transfer-Encoding would be guesswork.
			return errTEInHTTP10
		case h.clSeen:
			// §6.3 item 3: the classic request-smuggling shape.
			return errTEWithCL
		case h.teCodings == 0:
			return errTEInvalid
		case !h.teLastIsChunked:
			// §6.3 item 4: the length can't be determined.
			return errTENotChunked
		case h.teChunked > 1:
			return errTEChunkedTwice // §7: chunked MUST NOT be applied twice
		case h.teCodings > 1:
			// gzip, chunked and the like: a coding we don't decode
			// (RFC 9112 §6.1: 501).
			return errTEUnsupported
		}
	}
	return nil
}
