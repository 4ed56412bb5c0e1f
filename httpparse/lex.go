package httpparse

// Byte classes used by every scanner in the package. Each table answers one
// question about one byte with a single load, which is what keeps the hot
// loops short; the grammar that defines each class is quoted beside it.

// isToken reports whether c is a tchar (RFC 9110 §5.6.2):
//
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
var isToken = makeTable("!#$%&'*+-.^_`|~" + digits + alphas)

// isFieldVChar reports whether c may appear inside a field value (RFC 9110
// §5.5): VCHAR, obs-text, SP and HTAB. Every other CTL (including CR, LF and
// NUL) is rejected, which RFC 9110 §5.5 permits and which closes the door on
// header injection through a downstream component that splits on CR.
var isFieldVChar = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true // obs-text
	}
	t[' '], t['\t'] = true, true
	return t
}()

// isTargetChar reports whether c may appear literally in the path or query of
// a request-target. RFC 3986 allows pchar / "/" / "?" (§3.3, §3.4):
//
//	pchar      = unreserved / pct-encoded / sub-delims / ":" / "@"
//	unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
//	sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
//
// '%' is listed here and its two hex digits are checked by the scanner.
// Beyond RFC 3986 we accept "[", "]", "|", "^", "{" and "}": WHATWG-conforming
// browsers leave them unescaped in paths or queries, and none of them is a
// separator for HTTP/1.1 framing or for a Linux file system. We still reject
// SP and CTLs (framing), '#' (a fragment is never sent, §3.2 of RFC 9112),
// '"', '<', '>' and '`' (browsers always escape them, so a raw one means a
// hand-made request), '\\' (a path separator on other systems and a classic
// traversal vector through proxies that normalise it) and every byte >= 0x80
// (RFC 3986 requires percent-encoding, and raw bytes invite disagreement
// about their decoding between components).
var isTargetChar = makeTable(alphas + digits + "-._~" + "!$&'()*+,;=" + ":@/?%" + "[]|^{}")

// isRegNamePlain reports whether c may appear as itself in a reg-name or
// IPv4address of a uri-host (RFC 3986 §3.2.2): unreserved / sub-delims. The
// third form, pct-encoded, is left to the scanner, which checks that '%' is
// followed by two hex digits.
var isRegNamePlain = makeTable(alphas + digits + "-._~" + "!$&'()*+,;=")

// isHex reports whether c is a hex digit, as unhex does.
var isHex = makeTable(digits + "abcdefABCDEF")

// isIPLiteralChar reports whether c may appear between the brackets of an
// IP-literal (RFC 3986 §3.2.2): IPv6address or IPvFuture, whose bytes are
// covered by unreserved / sub-delims / ":".
var isIPLiteralChar = makeTable(alphas + digits + "-._~" + "!$&'()*+,;=" + ":")

const (
	digits = "0123456789"
	alphas = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func makeTable(chars string) (t [256]bool) {
	for i := 0; i < len(chars); i++ {
		t[chars[i]] = true
	}
	return t
}

// unhex returns the value of the hex digit c and whether c is one.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// lower folds an ASCII letter to lower case and leaves every other byte alone.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether b equals s under ASCII case folding. Header names,
// transfer codings, range units and the like are case-insensitive ASCII
// (RFC 9110 §5.1, §7.8, §14.1); Unicode folding would be wrong here.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		// Bytes that differ must be one letter in two cases: equal
		// once bit 5 is set, and a letter then. Most bytes are equal,
		// so they cost one compare.
		if c, d := b[i], s[i]; c != d {
			if f := c | 0x20; f != d|0x20 || f < 'a' || f > 'z' {
				return false
			}
		}
	}
	return true
}

// isOWS reports whether c is optional whitespace (RFC 9110 §5.6.3).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes leading and trailing OWS.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextElement splits the first element off a comma-separated list (the #rule
// of RFC 9110 §5.6.1). It returns the element with OWS trimmed, which may be
// empty: recipients must accept and ignore empty elements (§5.6.1.2), so
// callers skip them. A comma inside a quoted-string is not a separator, which
// matters for entity-tags ("a,b" is one tag).
func nextElement(list []byte) (elem, rest []byte) {
	quoted := false
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return trimOWS(list[:i]), list[i+1:]
			}
		}
	}
	return trimOWS(list), nil
}
