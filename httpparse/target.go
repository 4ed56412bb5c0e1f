package httpparse

// DecodePath turns a request-target (origin-form or absolute-form, as in
// Request.Target) into the normalised, percent-decoded path a file server
// looks up, written into dst[:0], and returns the raw query alongside it.
//
//   - The query (after '?') is split off and returned still encoded, as a
//     slice of target, for redirects; it is nil when there is no '?'.
//   - The path is percent-decoded (RFC 3986 §2.1). An invalid escape or one
//     that decodes to NUL is 400: NUL ends a C path string, so it could
//     make the file system and the server see different names.
//   - An encoded slash (%2F) is 400. A Linux file name cannot contain '/',
//     so the only way to honour %2F would be to turn it into a separator,
//     and then "..%2F" would hide a dot-segment from any component that
//     normalises before decoding (a proxy, a cache key, a log filter).
//     Rejecting it keeps the segments of the encoded and the decoded path
//     the same, which is what makes normalising after decoding safe.
//   - Repeated slashes collapse to one (the kernel treats them so), then
//     "." and ".." segments are removed (RFC 3986 §5.2.4), so "%2e%2e" counts
//     as "..". A trailing slash is kept ("/a/" and "/a/." give "/a/").
//   - A path that would climb above "/" is 400, not clamped: a client that
//     sends one is probing, and clamping would serve something it never
//     named.
//
// The result always starts with '/'. Bytes the request-target grammar
// forbids are 400, so DecodePath is also safe on targets that did not come
// from [Parser.Parse]. The asterisk-form "*" and an empty target are 400.
// It allocates only if cap(dst) < len(target)+1.
func DecodePath(dst, target []byte) (path, query []byte, err error) {
	raw := target
	if n := schemeLen(raw); n > 0 {
		// absolute-form: drop "scheme://authority".
		raw = raw[n+1:]
		if len(raw) < 2 || raw[0] != '/' || raw[1] != '/' {
			return dst[:0], nil, errPathInvalid
		}
		raw = raw[2:]
		i := 0
		for i < len(raw) && raw[i] != '/' && raw[i] != '?' {
			i++
		}
		raw = raw[i:]
	} else if len(raw) == 0 || raw[0] != '/' {
		return dst[:0], nil, errPathInvalid
	}
	for i, c := range raw {
		if c == '?' {
			raw, query = raw[:i], raw[i+1:len(raw):len(raw)]
			break
		}
	}
	out := append(dst[:0], '/')
	for i := 0; i < len(raw); {
		// raw[i] is '/' here, or i is 0 and the path was empty.
		if raw[i] == '/' {
			i++
		}
		seg := len(out) // out ends in '/'; the segment is appended after it
		for ; i < len(raw) && raw[i] != '/'; i++ {
			c := raw[i]
			if !isTargetChar[c] || c == '?' {
				return dst[:0], nil, errPathInvalid
			}
			if c == '%' {
				if i+2 >= len(raw) {
					return dst[:0], nil, errPathEscape
				}
				hi, ok1 := unhex(raw[i+1])
				lo, ok2 := unhex(raw[i+2])
				if !ok1 || !ok2 {
					return dst[:0], nil, errPathEscape
				}
				c = hi<<4 | lo
				switch c {
				case 0:
					return dst[:0], nil, errPathNUL
				case '/':
					return dst[:0], nil, errPathEncodedSlash
				}
				i += 2
			}
			out = append(out, c)
		}
		switch string(out[seg:]) {
		case "":
			// "//" or a trailing slash: nothing to add.
		case ".":
			out = out[:seg]
		case "..":
			if seg == 1 {
				return dst[:0], nil, errPathAboveRoot
			}
			out = out[:seg-1] // drop the '/' that ends the parent ...
			for out[len(out)-1] != '/' {
				out = out[:len(out)-1] // ... and the parent itself
			}
		default:
			if i < len(raw) {
				out = append(out, '/')
			}
		}
	}
	return out, query, nil
}
