package httpparse

// MediaQuality returns the q-value, in thousandths (1000 is q=1, 0 is "not
// acceptable"), that an Accept field value gives the media type typ/sub
// (RFC 9110 §12.5.1):
//
//	Accept      = #( media-range [ weight ] )
//	media-range = ( "*/*" / ( type "/" "*" ) / ( type "/" subtype ) ) parameters
//	parameters  = *( OWS ";" OWS [ parameter ] )
//	weight      = OWS ";" OWS "q=" qvalue
//
// The most specific range that matches the type decides, as §12.5.1 orders
// them: one with parameters, then type/subtype, then type/*, then */*; the
// first of equally specific ones counts. A range's parameters before its
// weight must all hold for the type: the only one this server's types
// hold is "charset=utf-8" (its HTML says so, and JSON is UTF-8 by RFC 8259
// §8.1), so a range with any other parameter ("text/html;level=1") matches
// nothing here. Parameters after the weight are the obsolete accept-ext
// and are ignored. Names are case-insensitive (§8.3.1). A type that no
// range matches gets 0. typ and sub must be lower case.
//
// ok is false for a malformed value, which the caller should treat like an
// absent field (every type acceptable). An empty value (or one of empty
// elements only) matches nothing: q 0 with ok. It does not allocate.
func MediaQuality(v []byte, typ, sub string) (q int, ok bool) {
	best := 0 // specificity of the range q comes from: 0 none, 1 */*, 2 type/*, 3 type/sub, 4 with parameters
	for len(v) > 0 {
		var elem []byte
		elem, v = nextElement(v)
		if len(elem) == 0 {
			continue
		}
		spec, w, good := mediaRange(elem, typ, sub)
		if !good {
			return 0, false
		}
		if spec > best {
			best, q = spec, w
		}
	}
	return q, true
}

// mediaRange reads one element of Accept and says how specifically it
// matches typ/sub (0: not at all) and with what weight.
func mediaRange(elem []byte, typ, sub string) (spec, q int, ok bool) {
	t, rest := token(elem)
	if len(t) == 0 || len(rest) == 0 || rest[0] != '/' {
		return 0, 0, false
	}
	s, rest := token(rest[1:])
	if len(s) == 0 {
		return 0, 0, false
	}
	switch {
	case string(t) == "*" && string(s) == "*":
		spec = 1
	case string(t) == "*":
		return 0, 0, false // "*/json" is not a media range
	case !equalFold(t, typ):
	case string(s) == "*":
		spec = 2
	case equalFold(s, sub):
		spec = 3
	}
	q, params, ok := rangeParams(rest)
	if !ok {
		return 0, 0, false
	}
	switch {
	case params < 0:
		spec = 0 // a parameter the type does not hold
	case params > 0 && spec > 0:
		spec = 4
	}
	return spec, q, true
}

// rangeParams reads a media range's parameters up to and including its
// weight. params counts those before the weight, or is -1 when one of them
// is not charset=utf-8; q is 1000 when there is no weight.
func rangeParams(rest []byte) (q, params int, ok bool) {
	q = 1000
	weighted := false
	for {
		rest = trimOWS(rest)
		if len(rest) == 0 {
			return q, params, true
		}
		if rest[0] != ';' {
			return 0, 0, false
		}
		rest = trimOWS(rest[1:])
		if len(rest) == 0 {
			return q, params, true // parameters = *( OWS ";" OWS [ parameter ] )
		}
		name, r := token(rest)
		if len(name) == 0 || !weighted && (len(r) == 0 || r[0] != '=') {
			return 0, 0, false
		}
		var value []byte
		if len(r) > 0 && r[0] == '=' {
			var good bool
			if value, r, good = paramValue(r[1:]); !good {
				return 0, 0, false
			}
		}
		switch {
		case weighted:
			// accept-ext (RFC 7231 §5.3.2, gone from RFC 9110): read for
			// its syntax, ignored.
		case equalFold(name, "q"):
			if q, ok = parseQValue(value); !ok {
				return 0, 0, false
			}
			weighted = true
		case params >= 0:
			params++
			if !equalFold(name, "charset") || !equalFold(value, "utf-8") {
				params = -1
			}
		}
		rest = r
	}
}

// token splits a leading token off b.
func token(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && isToken[b[i]] {
		i++
	}
	return b[:i], b[i:]
}

// paramValue splits a token or a quoted-string (RFC 9110 §5.6.4) off b;
// a quoted value is returned without its quotes, its escapes left in.
func paramValue(b []byte) (value, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		value, rest = token(b)
		return value, rest, len(value) > 0
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[1:i], b[i+1:], true
		}
	}
	return nil, nil, false
}
