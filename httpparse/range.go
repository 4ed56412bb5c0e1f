package httpparse

import "math"

// ByteRange is one satisfiable range of a representation: Length bytes
// starting at offset Start. Length is 0 only for a suffix range of an empty
// representation.
type ByteRange struct {
	Start, Length int64
}

// RangeResult is the verdict on a Range field value (RFC 9110 §14.2).
type RangeResult uint8

// Range verdicts.
const (
	// RangeIgnore: the field is absent, invalid or not in bytes; serve the
	// whole representation as if there were no Range (RFC 9110 §14.2:
	// a server MAY ignore it, and MUST ignore a unit it doesn't know).
	RangeIgnore RangeResult = iota
	// RangeOK: out[:n] holds the satisfiable ranges in the order sent,
	// not merged or sorted; unsatisfiable specs among them were dropped.
	RangeOK
	// RangeUnsatisfiable: valid, but no range overlaps the representation
	// (answer 416 with "Content-Range: bytes */size", RFC 9110 §15.5.17).
	RangeUnsatisfiable
	// RangeTooMany: more range specs than out can hold; out is not
	// meaningful. Whether that is abuse (416 or 200) is the caller's
	// policy.
	RangeTooMany
)

// String names the verdict.
func (r RangeResult) String() string {
	switch r {
	case RangeIgnore:
		return "ignore"
	case RangeOK:
		return "ok"
	case RangeUnsatisfiable:
		return "unsatisfiable"
	case RangeTooMany:
		return "too many"
	}
	return "invalid"
}

// ParseRange evaluates a Range field value against a representation of size
// bytes (RFC 9110 §14.1.2) and writes the satisfiable ranges into out:
//
//	Range        = ranges-specifier
//	ranges-specifier = range-unit "=" range-set   ; unit is case-insensitive
//	range-set    = 1#range-spec
//	int-range    = first-pos "-" [ last-pos ]
//	suffix-range = "-" suffix-length
//
// len(out) is the cap on the number of specs: every non-empty spec counts,
// satisfiable or not, so a flood of tiny or bogus specs is reported as
// RangeTooMany rather than half-evaluated. Empty list elements and OWS
// around commas are accepted (RFC 9110 §5.6.1). A last-pos past the end is
// clamped to the end; numbers too large for int64 saturate, which only ever
// makes a spec unsatisfiable or clamped. It does not allocate.
func ParseRange(v []byte, size int64, out []ByteRange) (n int, res RangeResult) {
	const unit = "bytes="
	if len(v) < len(unit) || !equalFold(v[:len(unit)], unit) {
		return 0, RangeIgnore
	}
	specs := 0
	rest := v[len(unit):]
	for len(rest) > 0 {
		var spec []byte
		spec, rest = nextElement(rest)
		if len(spec) == 0 {
			continue
		}
		if specs++; specs > len(out) {
			return 0, RangeTooMany
		}
		r, ok, valid := rangeSpec(spec, size)
		if !valid {
			return 0, RangeIgnore // one bad spec invalidates the field
		}
		if ok {
			out[n] = r
			n++
		}
	}
	switch {
	case specs == 0:
		return 0, RangeIgnore // "bytes=" with no spec is invalid
	case n == 0:
		return 0, RangeUnsatisfiable
	}
	return n, RangeOK
}

// rangeSpec evaluates one range-spec. valid reports its syntax; ok whether
// it is satisfiable (RFC 9110 §14.1.1).
func rangeSpec(s []byte, size int64) (r ByteRange, ok, valid bool) {
	if s[0] == '-' {
		// suffix-range: the last n bytes; a zero length is unsatisfiable,
		// a length beyond the size means the whole representation.
		n, rest, good := parseDec(s[1:])
		if !good || len(rest) != 0 {
			return r, false, false
		}
		if n == 0 {
			return r, false, true
		}
		n = min(n, size)
		return ByteRange{Start: size - n, Length: n}, true, true
	}
	first, rest, good := parseDec(s)
	if !good || len(rest) == 0 || rest[0] != '-' {
		return r, false, false
	}
	last := int64(math.MaxInt64)
	if rest = rest[1:]; len(rest) > 0 {
		last, rest, good = parseDec(rest)
		if !good || len(rest) != 0 || last < first {
			return r, false, false // last-pos < first-pos is invalid (§14.1.1)
		}
	}
	if first >= size {
		return r, false, true
	}
	last = min(last, size-1)
	return ByteRange{Start: first, Length: last - first + 1}, true, true
}

// parseDec reads 1*DIGIT from the start of b, saturating at MaxInt64.
func parseDec(b []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		d := int64(b[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
		} else {
			n = n*10 + d
		}
	}
	return n, b[i:], i > 0
}
