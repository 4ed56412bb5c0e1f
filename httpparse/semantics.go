package httpparse

// The fields the parser itself must understand: those that decide where
// this request ends and the next begins (RFC 9112 §6), whether there is a
// next one (§9.3), and the Host rules of §3.2. Each field line is noted as
// it completes; finish judges the combination once the head has ended.

// noted lists the field names the parser itself must understand, each at
// the index of its length (no two share one), with the function that notes
// it. It is the one table of them: note looks a field up in it, and
// fastFieldLines reads it (noteFirst) to skip note for every other field.
var noted = [...]struct {
	name string
	fn   func(p *Parser, value []byte, vs span) *Error
}{
	len("host"):              {"host", (*Parser).noteHost},
	len("expect"):            {"expect", (*Parser).noteExpect},
	len("connection"):        {"connection", (*Parser).noteConnection},
	len("content-length"):    {"content-length", (*Parser).noteContentLength},
	len("transfer-encoding"): {"transfer-encoding", (*Parser).noteTransferEncoding},
}

// noteFirst[n] is the first byte of noted[n]'s name, or 0. A token byte
// folded with |0x20 equals one of these lower-case letters only if it is
// that letter in either case, so a field whose length and first byte miss
// cannot be one note must see.
var noteFirst = func() (t [len(noted)]byte) {
	for n, f := range noted {
		if f.name != "" {
			t[n] = f.name[0]
		}
	}
	return t
}()

// note records what a completed field line means for framing and
// connection handling. name and value are the field's bytes, vs the
// value's span in the buffer.
func (p *Parser) note(name, value []byte, vs span) *Error {
	if n := len(name); n < len(noted) && noted[n].fn != nil && equalFold(name, noted[n].name) {
		return noted[n].fn(p, value, vs)
	}
	return nil
}

// noteHost counts Host field lines and checks the value (RFC 9112 §3.2).
func (p *Parser) noteHost(value []byte, vs span) *Error {
	p.h.hostCount++
	p.h.host = vs
	if !validHost(value, true) {
		return errHostInvalid
	}
	return nil
}

// noteExpect looks for 100-continue (RFC 9110 §10.1.1).
func (p *Parser) noteExpect(value []byte, _ span) *Error {
	if equalFold(value, "100-continue") {
		p.h.expect100 = true
	}
	return nil
}

// noteConnection looks for the "close" and "keep-alive" connection options
// (RFC 9110 §7.6.1, RFC 9112 §9.3) in a comma-separated list, ignoring case
// and every other option.
func (p *Parser) noteConnection(v []byte, _ span) *Error {
	// Most requests carry one option and nothing else.
	switch {
	case equalFold(v, "keep-alive"):
		p.h.connKeepAlive = true
		return nil
	case equalFold(v, "close"):
		p.h.connClose = true
		return nil
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
	return nil
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
func (p *Parser) noteContentLength(v []byte, _ span) *Error {
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
func (p *Parser) noteTransferEncoding(v []byte, _ span) *Error {
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
