package httpparse

import (
	"errors"
	"strconv"
)

// ErrNeedMore is returned by [Parser.Parse] when buf ends before the request
// head does. It is not a failure: append more bytes to the same buffer and
// call Parse again.
var ErrNeedMore = errors.New("httpparse: need more data")

// Error is a request the parser refuses. Status is the HTTP status code to
// answer with (400, 414, 431, 501 or 505) and Reason a short, fixed phrase
// fit for a log line or a response body.
//
// Every *Error the package returns is a pre-allocated package-level value, so
// rejecting a request allocates nothing; compare Status, not pointers, unless
// a test wants the exact rule.
//
// After any *Error from Parse the byte stream can no longer be trusted: the
// server should answer Status with "Connection: close" and close.
type Error struct {
	Status int    // HTTP status code to answer with
	Reason string // short, constant description of the broken rule
	msg    string // "httpparse: <status> <reason>", built once
}

// Error implements error without allocating.
func (e *Error) Error() string { return e.msg }

func newError(status int, reason string) *Error {
	return &Error{Status: status, Reason: reason, msg: "httpparse: " + strconv.Itoa(status) + " " + reason}
}

// The rules, one value each. Names follow the section of the RFC they enforce.
var (
	// RFC 9112 §2.2, §3: request-line and line endings.
	errBareCR      = newError(400, "bare CR")
	errMethod      = newError(400, "invalid method")
	errRequestLine = newError(400, "malformed request line")
	errLineTooLong = newError(414, "request line too long")

	// RFC 9112 §3.2: request-target.
	errTarget         = newError(400, "invalid request target")
	errTargetTooLong  = newError(414, "request target too long")
	errAuthorityForm  = newError(400, "authority-form target not supported")
	errAsteriskForm   = newError(400, "asterisk-form target only allowed with OPTIONS")
	errScheme         = newError(400, "absolute-form target with a scheme other than http or https")
	errTargetAuthHost = newError(400, "invalid authority in absolute-form target")

	// RFC 9112 §2.3: HTTP-version.
	errVersion            = newError(400, "malformed HTTP version")
	errVersionUnsupported = newError(505, "HTTP version not supported")

	// RFC 9112 §5, RFC 9110 §5.5: field lines.
	errFieldName  = newError(400, "invalid field name")
	errFieldSpace = newError(400, "whitespace between field name and colon")
	errObsFold    = newError(400, "obsolete line folding")
	errFieldValue = newError(400, "invalid field value")

	// Limits (RFC 6585 §5 for 431).
	errHeadTooLarge  = newError(431, "request header fields too large")
	errTooManyFields = newError(431, "too many header fields")

	// RFC 9112 §3.2: Host.
	errHostMissing = newError(400, "missing Host header")
	errHostMany    = newError(400, "more than one Host header")
	errHostInvalid = newError(400, "invalid Host header")

	// RFC 9112 §6: message body framing.
	errContentLength     = newError(400, "invalid Content-Length")
	errContentLengthDiff = newError(400, "conflicting Content-Length values")
	errTEWithCL          = newError(400, "both Transfer-Encoding and Content-Length")
	errTEInHTTP10        = newError(400, "Transfer-Encoding in an HTTP/1.0 request")
	errTENotChunked      = newError(400, "final transfer coding is not chunked")
	errTEInvalid         = newError(400, "invalid Transfer-Encoding")
	errTEUnsupported     = newError(501, "transfer coding not implemented")
	errTEChunkedTwice    = newError(400, "chunked applied more than once")
	errPathInvalid       = newError(400, "invalid path")
	errPathEscape        = newError(400, "invalid percent-encoding in path")
	errPathNUL           = newError(400, "NUL byte in path")
	errPathEncodedSlash  = newError(400, "encoded slash in path")
	errPathAboveRoot     = newError(400, "path climbs above the root")
)
