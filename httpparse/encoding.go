package httpparse

// Coding is a content coding this server can send (RFC 9110 §8.4.1).
type Coding uint8

// Content codings, in the server's order of preference on equal q-values.
const (
	CodingNone     Coding = iota // nothing acceptable: 406, or identity anyway (RFC 9110 §12.5.3 allows it)
	CodingBr                     // br, RFC 7932
	CodingZstd                   // zstd, RFC 8878
	CodingGzip                   // gzip, RFC 9110 §8.4.1.3 (x-gzip is the same)
	CodingIdentity               // no encoding
)

// String returns the coding's token ("br", "zstd", "gzip", "identity") or
// "none". Identity is never sent in Content-Encoding.
func (c Coding) String() string {
	switch c {
	case CodingBr:
		return "br"
	case CodingZstd:
		return "zstd"
	case CodingGzip:
		return "gzip"
	case CodingIdentity:
		return "identity"
	}
	return "none"
}

// Encodings holds the q-values an Accept-Encoding field gives the codings
// the server cares about, in thousandths: 1000 is q=1, 0 is "not
// acceptable". Each is the value of the coding's own entry, else of "*",
// else the default: 0 for br, zstd and gzip, and 1 (q=0.001) for identity.
// RFC 9110 §12.5.3 makes an unlisted identity acceptable (unless excluded
// by "identity;q=0", or "*;q=0" with no "identity" entry) but gives it no
// weight; the lowest non-zero weight ranks it after every coding the client
// did list, which is what "gzip;q=0.8" means in practice.
type Encodings struct {
	Br, Zstd, Gzip, Identity int
}

// ParseAcceptEncoding evaluates an Accept-Encoding field value
// (RFC 9110 §12.5.3):
//
//	Accept-Encoding = #( codings [ weight ] )
//	codings         = content-coding / "identity" / "*"
//	weight          = OWS ";" OWS "q=" qvalue
//	qvalue          = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//
// Coding names and the "q" are case-insensitive. If a coding is listed twice
// the first entry counts. An empty value means "identity only" (§12.5.3). ok
// is false for a malformed value, which the caller should treat like an
// absent field and send identity; the Encodings returned then is that of an
// empty value. Callers without the field at all should also send identity
// (a file server gains nothing from guessing). It does not allocate.
func ParseAcceptEncoding(v []byte) (e Encodings, ok bool) {
	const unset = -1
	br, zstd, gzip, identity, star := unset, unset, unset, unset, unset
	for len(v) > 0 {
		var elem []byte
		elem, v = nextElement(v)
		if len(elem) == 0 {
			continue
		}
		name, q, good := codingWeight(elem)
		if !good {
			return Encodings{Identity: 1}, false
		}
		var slot *int
		switch {
		case equalFold(name, "br"):
			slot = &br
		case equalFold(name, "zstd"):
			slot = &zstd
		case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
			slot = &gzip
		case equalFold(name, "identity"):
			slot = &identity
		case string(name) == "*":
			slot = &star
		default:
			continue
		}
		if *slot == unset {
			*slot = q
		}
	}
	pick := func(own, def int) int {
		switch {
		case own != unset:
			return own
		case star != unset:
			return star
		}
		return def
	}
	return Encodings{
		Br:       pick(br, 0),
		Zstd:     pick(zstd, 0),
		Gzip:     pick(gzip, 0),
		Identity: pick(identity, 1),
	}, true
}

// codingWeight splits "name [ OWS ; OWS q=qvalue ]" and returns the q-value
// in thousandths (1000 when absent).
func codingWeight(elem []byte) (name []byte, q int, ok bool) {
	i := 0
	for i < len(elem) && isToken[elem[i]] {
		i++
	}
	if i == 0 {
		return nil, 0, false
	}
	name, rest := elem[:i], trimOWS(elem[i:])
	if len(rest) == 0 {
		return name, 1000, true
	}
	if rest[0] != ';' {
		return nil, 0, false
	}
	rest = trimOWS(rest[1:])
	if len(rest) < 3 || lower(rest[0]) != 'q' || rest[1] != '=' {
		return nil, 0, false
	}
	q, ok = parseQValue(rest[2:])
	return name, q, ok
}

// parseQValue parses a qvalue (RFC 9110 §12.4.2) into thousandths.
func parseQValue(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	q := int(b[0]-'0') * 1000
	if len(b) > 1 {
		if b[1] != '.' {
			return 0, false
		}
		scale := 100
		for _, c := range b[2:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			q += int(c-'0') * scale
			scale /= 10
		}
	}
	return q, q <= 1000
}

// Best picks the coding to send given which encoded variants exist: the
// highest q-value wins, ties go to br, then zstd, then gzip, then identity
// (smaller first). It returns CodingNone when no available coding has a
// q-value above zero.
func (e Encodings) Best(haveBr, haveZstd, haveGzip bool) Coding {
	best, bestQ := CodingNone, 0
	consider := func(c Coding, have bool, q int) {
		if have && q > bestQ {
			best, bestQ = c, q
		}
	}
	consider(CodingBr, haveBr, e.Br)
	consider(CodingZstd, haveZstd, e.Zstd)
	consider(CodingGzip, haveGzip, e.Gzip)
	consider(CodingIdentity, true, e.Identity)
	return best
}
