// Package httpparse turns bytes into HTTP/1.1 request heads, strictly and
// without allocating, and evaluates the header values a static file server
// acts on. It does no I/O.
//
// # Parsing
//
// A [Parser] belongs to one connection. Give [Parser.Parse] the bytes
// received so far, starting at the first byte of a request:
//
//   - ErrNeedMore: the head is incomplete. Append what the socket gives next
//     and call Parse again with the longer buffer (same prefix; the buffer
//     may have been reallocated). The parser resumes where it stopped: it
//     keeps the offset of the current line and how far that line has been
//     searched for its LF, and validates each line when it is complete
//     (scanning a line at most twice: once in one pass, and again only if
//     that pass could not take it). A head arriving one byte per call
//     therefore costs work linear in its length.
//   - consumed, nil: a complete head occupied buf[:consumed]. [Request] says
//     how the body is framed (none, Content-Length, or chunked). The parser
//     never looks at body bytes; the caller must skip exactly the body (or
//     close the connection) before parsing the next request, so that body
//     bytes can never be taken for a request. Pipelined requests are parsed
//     by calling Parse again on the bytes after the body.
//   - an [*Error]: the request is rejected and Error.Status (400, 414, 431,
//     501, 505) is the answer. The stream can no longer be trusted: answer
//     with "Connection: close" and close.
//
// # What the parser guarantees
//
// It follows RFC 9112 strictly. A request is rejected for: a method that is
// not a token; a request line not made of exactly three parts separated by
// single SPs; a version other than HTTP/1.x (505 if well-formed, else 400;
// a higher minor than 1.1, such as HTTP/1.2, is read as HTTP/1.1, RFC 9110
// §2.5); a request-target that is not origin-form, absolute-form (http
// or https, with a non-empty host and no userinfo) or, for OPTIONS only,
// "*"; a target byte outside RFC 3986 (plus "[]|^{}", which browsers leave
// unescaped) or a bad percent-escape; a CR that is not followed by LF;
// whitespace between a field name and its colon; obs-fold; a field name
// that is not a token or a value holding a CTL other than HTAB; an
// HTTP/1.1 request without exactly one Host field; any request with several
// Host fields or an invalid one; Transfer-Encoding together with
// Content-Length, in an HTTP/1.0 request, or whose final coding is not
// chunked (501 for codings before chunked); a Content-Length that is not
// 1*DIGIT, or several that differ. Bare LF line endings and empty lines
// before the request line are accepted (RFC 9112 §2.2).
//
// Limits ([Limits]) bound the head (431), the target (414) and the number
// of field lines (431). The parser never reads past the head limit, so the
// cost of a hostile stream is bounded by it.
//
// # What it does not do
//
// It does not read or decode bodies, does not combine or canonicalise
// field names, does not interpret fields beyond those that decide framing,
// persistence, Host and Expect, and does not decide policy: an unknown
// method parses fine (MethodUnknown, for the server to answer 501), as do
// Expect values other than 100-continue (a server may answer 417).
//
// # Ownership
//
// Every []byte in a [Request] is a capped sub-slice of the buffer passed to
// Parse, valid while that buffer is unchanged. Copy what must outlive it.
// The same holds for the slices returned by the helpers.
//
// # Helpers
//
// For the fields a file server evaluates, each without allocation:
// [ParseRange] (Range), [MatchETag] (If-Match, If-None-Match),
// [IfRangeMatch] (If-Range), [ParseHTTPDate] (If-Modified-Since,
// If-Unmodified-Since, and the date form of If-Range), [AppendHTTPDate]
// (Date, Last-Modified), [ParseAcceptEncoding] and [Encodings.Best]
// (Accept-Encoding), and [DecodePath] (the path to look up).
package httpparse
