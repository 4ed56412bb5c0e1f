package httpparse

// Entity-tags (RFC 9110 §8.8.3) and the preconditions that compare them
// (RFC 9110 §13.1.1-2, §13.1.5):
//
//	entity-tag = [ weak ] opaque-tag
//	weak       = %s"W/"
//	opaque-tag = DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text

// splitETag checks that t is one entity-tag and returns its opaque-tag
// (quotes included) and whether it is weak.
func splitETag(t []byte) (opaque []byte, weak, ok bool) {
	if len(t) >= 2 && t[0] == 'W' && t[1] == '/' {
		t, weak = t[2:], true
	}
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return nil, false, false
	}
	for _, c := range t[1 : len(t)-1] {
		if c < 0x21 || c == '"' || c == 0x7f {
			return nil, false, false
		}
	}
	return t, weak, true
}

// MatchETag compares etag, the current representation's entity-tag as the
// server sends it (quotes and any W/ included), with a field value that is
// "*" or a list of entity-tags (If-Match, If-None-Match).
//
// With weak false it uses the strong comparison (both tags strong and
// equal), which If-Match requires (RFC 9110 §13.1.1); with weak true the
// weak comparison (opaque-tags equal), which If-None-Match requires
// (§13.1.2). "*" matches any current representation, so it reports a match:
// call MatchETag only when the representation exists.
//
// valid is false if list is not "*" or a well-formed list of entity-tags;
// the caller should then ignore the field. An empty list is invalid
// (both fields are 1#entity-tag). It does not allocate.
func MatchETag(list, etag []byte, weak bool) (match, valid bool) {
	if string(trimOWS(list)) == "*" {
		return true, true
	}
	mine, mineWeak, ok := splitETag(etag)
	if !ok {
		mine = nil // a malformed own tag matches nothing
	}
	n := 0
	for len(list) > 0 {
		var e []byte
		e, list = nextElement(list)
		if len(e) == 0 {
			continue
		}
		n++
		theirs, theirsWeak, ok := splitETag(e)
		if !ok {
			return false, false
		}
		if mine != nil && string(theirs) == string(mine) && (weak || !mineWeak && !theirsWeak) {
			match = true
		}
	}
	return match, n > 0
}

// IfRangeMatch evaluates an If-Range field value (RFC 9110 §13.1.5): true
// means the Range field applies, false means it must be ignored and the
// whole representation sent.
//
// An entity-tag must match etag by the strong comparison, so a weak tag on
// either side never matches. An HTTP-date must equal lastModified (Unix
// seconds) exactly; the caller passes a lastModified of -1 when it has no
// strong date validator (RFC 9110 §8.8.2.2: Last-Modified is weak when it is
// less than a second before the response's Date). An invalid value is
// false. It does not allocate.
func IfRangeMatch(v, etag []byte, lastModified int64) bool {
	v = trimOWS(v)
	if len(v) > 0 && (v[0] == '"' || len(v) > 1 && v[0] == 'W' && v[1] == '/') {
		theirs, theirsWeak, ok := splitETag(v)
		mine, mineWeak, ok2 := splitETag(etag)
		return ok && ok2 && !theirsWeak && !mineWeak && string(theirs) == string(mine)
	}
	t, ok := ParseHTTPDate(v)
	return ok && lastModified >= 0 && t == lastModified
}
