//go:build linux

package transmit

import (
	"unsafe"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
)

// cond is the verdict of one precondition: absent (or invalid, which the RFC
// says to ignore), true or false. Each check below evaluates one field and
// nothing else, and preconditions combines them in the order of RFC 9110
// §13.2.2, so each can be tested alone and the precedence fits on a screen.
type cond uint8

const (
	condNone cond = iota
	condTrue
	condFalse
)

// matchList evaluates every field line named name as one list of entity-tags
// (a list field may be split over several lines, RFC 9110 §5.3): absent or
// invalid is condNone, a match condTrue, no match condFalse.
func matchList(req *httpparse.Request, name, etag string, weak bool) cond {
	c := condNone
	for _, f := range req.FieldList() {
		if !f.Is(name) {
			continue
		}
		match, valid := httpparse.MatchETag(f.Value, bytesOf(etag), weak)
		if !valid {
			continue
		}
		if match {
			return condTrue
		}
		c = condFalse
	}
	return c
}

// checkIfMatch: RFC 9110 §13.1.1, strong comparison.
func checkIfMatch(req *httpparse.Request, rep *fsindex.Entry) cond {
	return matchList(req, "If-Match", rep.ETag, false)
}

// checkIfUnmodifiedSince: RFC 9110 §13.1.4. True when the representation
// has not changed since the date; an invalid date is ignored.
func checkIfUnmodifiedSince(req *httpparse.Request, rep *fsindex.Entry) cond {
	return sinceDate(req, "If-Unmodified-Since", rep, condTrue)
}

// checkIfNoneMatch: RFC 9110 §13.1.2, weak comparison. True when no tag
// matches (the condition "none match" holds).
func checkIfNoneMatch(req *httpparse.Request, rep *fsindex.Entry) cond {
	switch matchList(req, "If-None-Match", rep.ETag, true) {
	case condTrue:
		return condFalse
	case condFalse:
		return condTrue
	}
	return condNone
}

// checkIfModifiedSince: RFC 9110 §13.1.3, GET and HEAD only. True when the
// representation changed after the date.
func checkIfModifiedSince(req *httpparse.Request, rep *fsindex.Entry) cond {
	if req.MethodID != httpparse.MethodGET && req.MethodID != httpparse.MethodHEAD {
		return condNone
	}
	return sinceDate(req, "If-Modified-Since", rep, condFalse)
}

// sinceDate compares the date in field name with the representation's
// Last-Modified: unchanged is the verdict when the representation was last
// modified at or before the date, the opposite otherwise, condNone when the
// field is absent or not a valid HTTP-date (RFC 9110 §13.1.3-4: ignored).
func sinceDate(req *httpparse.Request, name string, rep *fsindex.Entry, unchanged cond) cond {
	t, ok := httpparse.ParseHTTPDate(req.Header(name))
	if !ok {
		return condNone
	}
	if rep.ModTime.Unix() <= t {
		return unchanged
	}
	return condTrue + condFalse - unchanged
}

// checkIfRange: RFC 9110 §13.1.5. True means the Range field applies.
// Last-Modified is a strong validator only when it is at least a second
// older than the Date sent with it (§8.8.2.2); otherwise a date in If-Range
// never matches.
func checkIfRange(req *httpparse.Request, rep *fsindex.Entry, dateSec int64) cond {
	v := req.Header("If-Range")
	if v == nil {
		return condNone
	}
	lm := rep.ModTime.Unix()
	if lm >= dateSec {
		lm = -1
	}
	if httpparse.IfRangeMatch(v, bytesOf(rep.ETag), lm) {
		return condTrue
	}
	return condFalse
}

// preconditions evaluates the conditional fields in the order of RFC 9110
// §13.2.2 and returns the status they decide: 0 to go on (to If-Range and
// Range, step 5), 304 or 412.
func preconditions(req *httpparse.Request, rep *fsindex.Entry) int {
	// Step 1, else step 2.
	c := checkIfMatch(req, rep)
	if c == condNone {
		c = checkIfUnmodifiedSince(req, rep)
	}
	if c == condFalse {
		return 412
	}
	// Step 3, else step 4.
	getOrHead := req.MethodID == httpparse.MethodGET || req.MethodID == httpparse.MethodHEAD
	switch checkIfNoneMatch(req, rep) {
	case condFalse:
		if getOrHead {
			return 304
		}
		return 412
	case condNone:
		if checkIfModifiedSince(req, rep) == condFalse {
			return 304
		}
	}
	return 0
}

// bytesOf returns the bytes of s without copying, for the httpparse helpers
// that take []byte and only read it: a conversion would allocate for tags
// longer than the compiler's 32-byte stack buffer.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
