package httpparse

// Method identifies the request methods of RFC 9110 §9 and PATCH (RFC 5789),
// so a server can tell a method it knows but does not allow (405) from one it
// does not implement (501). Method names are case-sensitive (§9.1): "get" is
// MethodUnknown.
type Method uint8

// Known methods. MethodUnknown is any other token.
const (
	MethodUnknown Method = iota
	MethodGET
	MethodHEAD
	MethodPOST
	MethodPUT
	MethodDELETE
	MethodCONNECT
	MethodOPTIONS
	MethodTRACE
	MethodPATCH
)

var methodNames = [...]string{
	MethodUnknown: "",
	MethodGET:     "GET",
	MethodHEAD:    "HEAD",
	MethodPOST:    "POST",
	MethodPUT:     "PUT",
	MethodDELETE:  "DELETE",
	MethodCONNECT: "CONNECT",
	MethodOPTIONS: "OPTIONS",
	MethodTRACE:   "TRACE",
	MethodPATCH:   "PATCH",
}

// String returns the method's name, or "" for MethodUnknown.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return ""
}

// lookupMethod maps a method token to its Method.
func lookupMethod(b []byte) Method {
	switch string(b) { // no allocation: the compiler compares in place
	case "GET":
		return MethodGET
	case "HEAD":
		return MethodHEAD
	case "POST":
		return MethodPOST
	case "PUT":
		return MethodPUT
	case "DELETE":
		return MethodDELETE
	case "CONNECT":
		return MethodCONNECT
	case "OPTIONS":
		return MethodOPTIONS
	case "TRACE":
		return MethodTRACE
	case "PATCH":
		return MethodPATCH
	}
	return MethodUnknown
}

// Framing says how the request's body is delimited (RFC 9112 §6.3). The
// parser never reads a body: the server must skip or drain exactly this much
// before parsing the next request, or close the connection, so that body
// bytes are never taken for a request.
type Framing uint8

// Body framings.
const (
	BodyNone    Framing = iota // no body (no Content-Length, or Content-Length: 0)
	BodyLength                 // exactly Request.ContentLength bytes follow the head
	BodyChunked                // chunked transfer coding (RFC 9112 §7.1) follows the head
)

// String returns "none", "length" or "chunked".
func (f Framing) String() string {
	switch f {
	case BodyNone:
		return "none"
	case BodyLength:
		return "length"
	case BodyChunked:
		return "chunked"
	}
	return "invalid"
}

// Field is one field line, as sent: Name is the field name (compare it with
// [Field.Is]; it is not canonicalised), Value the field value
// without leading or trailing whitespace (RFC 9112 §5.1).
type Field struct {
	Name  []byte
	Value []byte
}

// Is reports whether the field's name is name, ignoring ASCII case.
func (f Field) Is(name string) bool { return equalFold(f.Name, name) }

// Request is a parsed request head. Every []byte points into the buffer
// passed to [Parser.Parse]: the Request is valid only while that buffer is
// unchanged, and it must be treated as read-only (each slice is capped, so
// an append copies instead of overwriting the buffer).
type Request struct {
	Method   []byte // method token, e.g. "GET"
	MethodID Method // Method as an enum; MethodUnknown for other tokens
	Target   []byte // request-target exactly as sent
	Version  []byte // the version as sent: "HTTP/1.0", "HTTP/1.1", or a higher HTTP/1 minor such as "HTTP/1.2"
	Major    int    // always 1
	// Minor is 0 or 1: a higher minor version of HTTP/1 ("HTTP/1.2") is
	// read as 1, the highest this parser implements (RFC 9110 §2.5, RFC
	// 9112 §2.3), so every HTTP/1.1 rule (Host required, persistence by
	// default) applies to it. Version keeps what was sent.
	Minor int

	// Path is the path of the target, still percent-encoded: the origin-form
	// target up to '?', the path of an absolute-form target ("/" when that is
	// empty), or "*" for the asterisk-form. Decode it with [DecodePath].
	Path []byte
	// Query is the query after '?', still encoded, without the '?'. It is nil
	// when the target has no '?', and empty (non-nil) for a bare '?'.
	Query []byte

	// Host is the authority of an absolute-form target if there is one
	// (RFC 9112 §3.2.2: it wins over the Host field), else the Host field
	// value. It may be empty: an empty Host is valid syntax.
	Host []byte

	// Fields holds the field lines in the order received; only the first
	// NumFields entries are meaningful. Use [Request.FieldList].
	Fields    [MaxFieldsCap]Field
	NumFields int

	// KeepAlive reports whether the connection persists after this request
	// (RFC 9112 §9.3): HTTP/1.1 unless "close" is among the Connection
	// options; HTTP/1.0 only with "keep-alive" and without "close".
	KeepAlive bool
	// Expect100 reports an "Expect: 100-continue" field (RFC 9110 §10.1.1).
	Expect100 bool

	// Framing and ContentLength describe the body (RFC 9112 §6.3).
	// ContentLength is meaningful only when Framing is BodyLength.
	Framing       Framing
	ContentLength int64
}

// FieldList returns the received fields in order. It does not allocate.
func (r *Request) FieldList() []Field { return r.Fields[:r.NumFields] }

// Header returns the value of the first field named name (ASCII
// case-insensitive), or nil if there is none. It does not allocate.
//
// A list-valued field (RFC 9110 §5.3) may be split over several lines; a
// caller that must see every member iterates [Request.FieldList] with
// [Field.Is] instead.
func (r *Request) Header(name string) []byte {
	for i := 0; i < r.NumFields; i++ {
		if equalFold(r.Fields[i].Name, name) {
			return r.Fields[i].Value
		}
	}
	return nil
}
