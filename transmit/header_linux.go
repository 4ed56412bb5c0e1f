//go:build linux

package transmit

import "strconv"

// statusText returns the reason phrase of the statuses this package sends.
// The phrase is informational (RFC 9112 §4), but clients show it.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 416:
		return "Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// errorBodies holds the short text body of every status statusText knows
// ("404 Not Found\n"), built once so that no response formats one.
var errorBodies = func() map[int][]byte {
	m := make(map[int][]byte)
	for code := 100; code < 600; code++ {
		if t := statusText(code); t != "" {
			m[code] = []byte(strconv.Itoa(code) + " " + t + "\n")
		}
	}
	return m
}()

// errorBody returns the body sent with an error status.
func errorBody(code int) []byte {
	if b, ok := errorBodies[code]; ok {
		return b
	}
	return errorBodies[500]
}

const (
	allowed       = "GET, HEAD, OPTIONS"
	textPlain     = "text/plain; charset=utf-8"
	multipartType = "multipart/byteranges; boundary="
)

// appendStatusLine appends "HTTP/1.1 code reason". A server sends its own
// highest minor version, even to an HTTP/1.0 client (RFC 9110 §6.2).
func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	return append(b, statusText(code)...)
}

// appendField appends "\r\nname: value": each field line starts with the CRLF
// that ends the line before it, so the head ends with "\r\n\r\n" exactly
// once, written by endHead.
func appendField(b []byte, name, value string) []byte {
	b = append(b, "\r\n"...)
	b = append(b, name...)
	b = append(b, ": "...)
	return append(b, value...)
}

func appendIntField(b []byte, name string, v int64) []byte {
	b = append(b, "\r\n"...)
	b = append(b, name...)
	b = append(b, ": "...)
	return strconv.AppendInt(b, v, 10)
}

// appendContentRange appends the value "bytes first-last/complete"
// (RFC 9110 §14.4) for length bytes at start.
func appendContentRange(b []byte, start, length, size int64) []byte {
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, start+length-1, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, size, 10)
}

// appendLocationPath appends the decoded path p percent-encoded as a URI
// path (RFC 3986 §3.3): unreserved characters, sub-delims, ':', '@' and '/'
// stay, every other byte becomes %XX, so a '?', '#', space or non-ASCII
// byte in a file name cannot change what the Location means.
func appendLocationPath(b, p []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range p {
		if pathByte(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	}
	return false
}
