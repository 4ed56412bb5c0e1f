package httpparse

// validHost reports whether b is a valid Host field value or authority
// (RFC 9110 §7.2, RFC 3986 §3.2.2-3):
//
//	Host       = uri-host [ ":" port ]
//	uri-host   = IP-literal / IPv4address / reg-name
//	IP-literal = "[" ( IPv6address / IPvFuture ) "]"
//	reg-name   = *( unreserved / pct-encoded / sub-delims )
//	port       = *DIGIT
//
// The host may be empty only if allowEmpty: an empty Host field is how a
// client says the target has no authority (RFC 9110 §7.2), but an http URI
// with an empty host is invalid (RFC 9110 §4.2.1). userinfo ("user@") is
// never valid here. The check is syntactic; IPv6 addresses are not parsed
// further because the server only compares or echoes the host.
func validHost(b []byte, allowEmpty bool) bool {
	i := 0
	if len(b) > 0 && b[0] == '[' {
		for i = 1; i < len(b) && b[i] != ']'; i++ {
			if !isIPLiteralChar[b[i]] {
				return false
			}
		}
		if i == len(b) || i == 1 {
			return false // no ']' or nothing inside
		}
		i++
	} else {
		for {
			// One table load per byte of the usual host name; the
			// loop stops at '%', at the ':' of a port, and at any
			// byte that is not allowed.
			for i < len(b) && isRegNamePlain[b[i]] {
				i++
			}
			if i >= len(b) || b[i] != '%' {
				break
			}
			if i+2 >= len(b) || !isHex[b[i+1]] || !isHex[b[i+2]] {
				return false
			}
			i += 3
		}
		if i == 0 && !allowEmpty {
			return false
		}
	}
	if i == len(b) {
		return true
	}
	if b[i] != ':' {
		return false // a byte outside reg-name, or a bad escape
	}
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
