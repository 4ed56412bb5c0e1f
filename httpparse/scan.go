package httpparse

import "math/bits"

// One-pass scanners for the common shape of a request head. The general
// path of Parse finds each line's LF first and then validates the line; for
// a typical browser request, that second pass and the per-line bookkeeping
// around it cost more than the checks themselves. The scanners here find
// the end of a line while validating it, and take a line only if it is
// complete and valid. Any other line (one that has not fully arrived, one
// that breaks a rule, a form they do not know) is left to the general path,
// which names the rule, so the outcome never depends on which path ran.
//
// They run only on a line not looked at before (scan == lineStart), so a
// line is scanned at most once here and once on the general path, however
// its bytes arrive: the incremental work stays linear.

// fastRequestLine takes b[lo:] if it starts with a complete request line of
// the common shape: a token method, SP, an origin-form target, SP, and
// "HTTP/1.1" or "HTTP/1.0" followed by CRLF or LF, within the limits. It
// records the line as requestLine would and returns the offset just past
// the LF, or 0 to leave the line to the general path.
func (p *Parser) fastRequestLine(b []byte, lo int, lim *Limits) int {
	h := &p.h
	i := lo
	for i < len(b) && isToken[b[i]] {
		i++
	}
	if i == lo || i+1 >= len(b) || b[i] != ' ' || b[i+1] != '/' {
		return 0
	}
	m := i
	t := i + 1
	// origin-form = absolute-path [ "?" query ] (RFC 9112 §3.2.1). The
	// class table stops the run at every byte that needs a decision: '%',
	// '?', the SP that ends the target, and anything invalid.
	q := -1
	i = t
	for {
		// Eight bytes per step while they are letters, digits, '-',
		// '.' or '/', which is most of a path.
		for i <= len(b)-8 {
			x := load64(b, i)
			if x&swarHighs != 0 {
				break
			}
			if bad := swarPathMask(x) ^ swarHighs; bad != 0 {
				i += bits.TrailingZeros64(bad) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0
		}
		switch targetClass[b[i]] {
		case tcPlain:
			i++
			continue
		case tcPercent:
			if i+2 >= len(b) || !isHex[b[i+1]] || !isHex[b[i+2]] {
				return 0
			}
			i += 3
			continue
		case tcQuery:
			if q < 0 {
				q = i
			}
			i++
			continue
		}
		break
	}
	// b[i] ends the target; only SP and a known version may follow.
	v := i + 1
	if b[i] != ' ' || v+8 > len(b) || i-t > lim.MaxTargetBytes {
		return 0
	}
	var minor uint8
	switch load64(b, v) {
	case httpVersion11:
		minor = 1
	case httpVersion10:
	default:
		return 0
	}
	end := v + 8
	var next int
	switch {
	case end < len(b) && b[end] == '\n':
		next = end + 1
	case end+1 < len(b) && b[end] == '\r' && b[end+1] == '\n':
		next = end + 2
	default:
		return 0
	}
	if end-lo > lim.MaxTargetBytes+requestLineSlack {
		return 0 // a long method: errLineTooLong, as the general path says
	}
	h.method = span{int32(lo), int32(m)}
	h.methodID = lookupMethod(b[lo:m])
	h.target = span{int32(t), int32(i)}
	h.version = span{int32(v), int32(end)}
	h.minor = minor
	h.form = formOrigin
	if q < 0 {
		h.path = span{int32(t), int32(i)}
	} else {
		h.path = span{int32(t), int32(q)}
		h.hasQuery = true
		h.query = span{int32(q + 1), int32(i)}
	}
	h.state = stFields
	return next
}

// "HTTP/1.1" and "HTTP/1.0" as load64 reads them.
const (
	httpVersion11 = 0x312e312f50545448
	httpVersion10 = 0x302e312f50545448
)

// Classes of targetClass.
const (
	tcStop    uint8 = iota // SP, or a byte not allowed in a target
	tcPlain                // allowed as is (isTargetChar, except '%' and '?')
	tcPercent              // '%', which must start a percent-escape
	tcQuery                // '?', whose first occurrence starts the query
)

// targetClass sorts the bytes of a request-target for fastRequestLine; it
// is isTargetChar (see lex.go) with the two bytes that need a decision
// split out.
var targetClass = func() (t [256]uint8) {
	for c := range t {
		if isTargetChar[c] {
			t[c] = tcPlain
		}
	}
	t['%'], t['?'] = tcPercent, tcQuery
	return t
}()

// fastFieldLines takes, from b[i:], as many complete field lines of the
// common shape as it finds: a token, ':', optional OWS, a value of
// field-vchars and HTABs, and a CRLF or LF. It records each one as
// fieldLine would and returns the offset of the first line it did not take
// (the blank line, normally), or the error that recording a line raised.
//
// A line is read in one pass: the name up to its colon, then the value up
// to the first CTL, which in a valid line is the CR or LF that ends it
// (HTAB is the one CTL a value may hold). Within each run the word loads
// depend only on a counter, so they run ahead; what depends on a previous
// result (trimming OWS, recording the line) is kept off the path that
// leads to the next line's first load.
func (p *Parser) fastFieldLines(b []byte, i int, lim *Limits, req *Request) (int, *Error) {
	for {
		lo := i
		// field-name = token (RFC 9110 §5.1), eight bytes per step
		// while they are letters, digits and '-'.
		for {
			if i <= len(b)-8 {
				if x := load64(b, i); x&swarHighs == 0 {
					bad := swarNameMask(x) ^ swarHighs
					if bad == 0 {
						i += 8
						continue
					}
					i += bits.TrailingZeros64(bad) >> 3
				}
			} else {
				for i < len(b) && isToken[b[i]] {
					i++
				}
				break
			}
			// b[i] ends the run of letters, digits and '-': the
			// colon, normally, else a rarer tchar or a bad byte.
			if b[i] == ':' || !isToken[b[i]] {
				break
			}
			i++
		}
		if i == lo || i >= len(b) || b[i] != ':' {
			return lo, nil // the blank line, or a rule for fieldLine to name
		}
		nameEnd := i
		i++

		// field-value: up to the first CTL, eight bytes per step. The
		// OWS around the value is trimmed afterwards.
		for {
			if i <= len(b)-8 {
				if m := swarCTLMask(load64(b, i)); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
				} else {
					i += 8
					continue
				}
			} else {
				for i < len(b) && b[i] >= 0x20 && b[i] != 0x7f {
					i++
				}
			}
			if i < len(b) && b[i] == '\t' {
				i++
				continue
			}
			break
		}
		e := i
		switch {
		case i >= len(b):
			return lo, nil
		case b[i] == '\n':
			i++
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			i += 2
		default:
			return lo, nil
		}
		v := nameEnd + 1
		for v < e && isOWS(b[v]) {
			v++
		}
		for e > v && isOWS(b[e-1]) {
			e--
		}

		if err := p.addField(b, lo, nameEnd, v, e, lim, req); err != nil {
			return lo, err
		}
		if mayNote(nameEnd-lo, b[lo]) {
			if err := p.noteLast(req); err != nil {
				return lo, err
			}
		}
	}
}
