package httpparse

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	cases := []struct {
		rfc, in string
		want    RangeResult
		ranges  string
	}{
		{"9110 §14.1.2", "bytes=0-499", RangeOK, "[{0 500}]"},
		{"9110 §14.1.2", "bytes=500-999", RangeOK, "[{500 500}]"},
		{"9110 §14.1.2", "bytes=-500", RangeOK, "[{500 500}]"},
		{"9110 §14.1.2", "bytes=9500-", RangeUnsatisfiable, "[]"},
		{"9110 §14.1.2", "bytes=900-", RangeOK, "[{900 100}]"},
		{"9110 §14.1.2", "bytes=0-0,-1", RangeOK, "[{0 1} {999 1}]"},
		{"9110 §14.1.2", "bytes=500-600,601-999", RangeOK, "[{500 101} {601 399}]"},
		{"9110 §14.1.2", "bytes=500-700,601-999", RangeOK, "[{500 201} {601 399}]"},
		{"9110 §14.1.2", "bytes=0-99999", RangeOK, "[{0 1000}]"},
		{"9110 §14.1.2", "bytes=-5000", RangeOK, "[{0 1000}]"},
		{"9110 §14.1.1", "bytes=-0", RangeUnsatisfiable, "[]"},
		{"9110 §14.1.1", "bytes=1000-1000", RangeUnsatisfiable, "[]"},
		{"9110 §14.1.1", "bytes=1000-,0-9", RangeOK, "[{0 10}]"},
		{"9110 §5.6.1", "bytes= 0-1 ,\t, 5-6 ", RangeOK, "[{0 2} {5 2}]"},
		{"9110 §14.1", "BYTES=0-1", RangeOK, "[{0 2}]"},
		{"9110 §14.1.2", "bytes=99999999999999999999999-", RangeUnsatisfiable, "[]"},
		{"9110 §14.1.2", "bytes=0-99999999999999999999999", RangeOK, "[{0 1000}]"},
		{"9110 §14.2 invalid: last < first", "bytes=5-1", RangeIgnore, ""},
		{"9110 §14.2 invalid: no dash", "bytes=5", RangeIgnore, ""},
		{"9110 §14.2 invalid: empty set", "bytes=", RangeIgnore, ""},
		{"9110 §14.2 invalid: only commas", "bytes=,,", RangeIgnore, ""},
		{"9110 §14.2 invalid: sign", "bytes=+1-2", RangeIgnore, ""},
		{"9110 §14.2 invalid: inner space", "bytes=1 -2", RangeIgnore, ""},
		{"9110 §14.2 invalid: suffix junk", "bytes=-5x", RangeIgnore, ""},
		{"9110 §14.2 invalid: one bad spec", "bytes=0-1,x", RangeIgnore, ""},
		{"9110 §14.2 unknown unit", "items=0-1", RangeIgnore, ""},
		{"9110 §14.2 no unit", "0-1", RangeIgnore, ""},
		{"9110 §14.2 space before =", "bytes =0-1", RangeIgnore, ""},
		{"cap counts every spec", "bytes=0-0,1-1,2-2,3-3,4-4", RangeTooMany, ""},
		{"cap counts unsatisfiable specs", "bytes=2000-,2001-,2002-,2003-,0-1", RangeTooMany, ""},
		{"at the cap", "bytes=0-0,1-1,2-2,3-3", RangeOK, "[{0 1} {1 1} {2 1} {3 1}]"},
	}
	for _, tc := range cases {
		var out [4]ByteRange
		n, res := ParseRange([]byte(tc.in), size, out[:])
		if res != tc.want {
			t.Errorf("RFC %s: %q: %v, want %v", tc.rfc, tc.in, res, tc.want)
			continue
		}
		if tc.ranges != "" {
			if got := fmt.Sprint(out[:n]); got != tc.ranges {
				t.Errorf("RFC %s: %q: %s, want %s", tc.rfc, tc.in, got, tc.ranges)
			}
		}
	}
	// An empty representation: only a suffix range is satisfiable, and it
	// selects nothing (RFC 9110 §14.1.1).
	var out [2]ByteRange
	if n, res := ParseRange([]byte("bytes=-5"), 0, out[:]); res != RangeOK || out[0] != (ByteRange{0, 0}) || n != 1 {
		t.Errorf("suffix of empty: %v %v", res, out[:n])
	}
	if _, res := ParseRange([]byte("bytes=0-"), 0, out[:]); res != RangeUnsatisfiable {
		t.Errorf("0- of empty: %v", res)
	}
}

func TestParseHTTPDate(t *testing.T) {
	defer func(f func() int) { nowYear = f }(nowYear)
	nowYear = func() int { return 2026 }
	const want = 784111777 // Sun, 06 Nov 1994 08:49:37 GMT
	cases := []struct {
		rfc, in string
		unix    int64
		ok      bool
	}{
		{"9110 §5.6.7 IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"9110 §5.6.7 rfc850-date", "Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"9110 §5.6.7 asctime-date", "Sun Nov  6 08:49:37 1994", want, true},
		{"9110 §5.6.7 asctime two-digit day", "Thu Nov 16 08:49:37 1994", want + 10*86400, true},
		{"9110 §5.6.7 rfc850 year within 50", "Wednesday, 06-Nov-75 08:49:37 GMT", 3340255777, true},
		{"9110 §5.6.7 rfc850 year past 50", "Thursday, 06-Nov-77 08:49:37 GMT", 247654177, true},
		{"9110 §5.6.7 leap day", "Thu, 29 Feb 2024 00:00:00 GMT", 1709164800, true},
		{"9110 §5.6.7 leap second", "Sat, 31 Dec 2016 23:59:60 GMT", 1483228800, true},
		{"9110 §5.6.7 epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"9110 §5.6.7 not a leap year", "Fri, 29 Feb 2019 00:00:00 GMT", 0, false},
		{"9110 §5.6.7 day 31 of April", "Mon, 31 Apr 2023 00:00:00 GMT", 0, false},
		{"9110 §5.6.7 hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", 0, false},
		{"9110 §5.6.7 minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", 0, false},
		{"9110 §5.6.7 not GMT", "Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{"9110 §5.6.7 case-sensitive month", "Sun, 06 nov 1994 08:49:37 GMT", 0, false},
		{"9110 §5.6.7 case-sensitive day", "sun, 06 Nov 1994 08:49:37 GMT", 0, false},
		{"9110 §5.6.7 one-digit day", "Sun, 6 Nov 1994 08:49:37 GMT", 0, false},
		{"9110 §5.6.7 numeric zone", "Sun, 06 Nov 1994 08:49:37 +0000", 0, false},
		{"9110 §5.6.7 trailing junk", "Sun, 06 Nov 1994 08:49:37 GMTx", 0, false},
		{"9110 §5.6.7 bad long day", "Sunxay, 06-Nov-94 08:49:37 GMT", 0, false},
		{"9110 §5.6.7 empty", "", 0, false},
		{"9110 §5.6.7 digits with sign", "Sun, +6 Nov 1994 08:49:37 GMT", 0, false},
	}
	for _, tc := range cases {
		got, ok := ParseHTTPDate([]byte(tc.in))
		if ok != tc.ok || ok && got != tc.unix {
			t.Errorf("RFC %s: %q = %d, %v; want %d, %v", tc.rfc, tc.in, got, ok, tc.unix, tc.ok)
		}
	}
}

func TestAppendHTTPDate(t *testing.T) {
	for _, u := range []int64{0, 784111777, 951782400, 1709164800, 4102444799, -1, -62135596800, 253402300799} {
		tm := time.Unix(u, 0)
		got := string(AppendHTTPDate(nil, tm.In(time.FixedZone("X", 3600))))
		if want := tm.UTC().Format(http.TimeFormat); got != want {
			t.Errorf("%d: %q, want %q", u, got, want)
		}
		if back, ok := ParseHTTPDate([]byte(got)); !ok || back != u {
			t.Errorf("%d: round trip gave %d %v", u, back, ok)
		}
	}
	if got := string(AppendHTTPDate([]byte("Date: "), time.Unix(1<<40, 0))); got != "Date: Fri, 31 Dec 9999 23:59:59 GMT" {
		t.Errorf("clamp: %q", got)
	}
	// Year 0000 (found by FuzzParseHTTPDate: it parses, so it must format
	// back), and the clamp below it. time.Format has no year 0 to compare.
	for _, tc := range []struct {
		u    int64
		want string
	}{
		{-62167219200, "Sat, 01 Jan 0000 00:00:00 GMT"},
		{-62140867199, "Wed, 01 Nov 0000 00:00:01 GMT"},
		{-1 << 40, "Sat, 01 Jan 0000 00:00:00 GMT"},
	} {
		if got := string(AppendHTTPDate(nil, time.Unix(tc.u, 0))); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.u, got, tc.want)
		}
	}
}

func TestMatchETag(t *testing.T) {
	cases := []struct {
		rfc, list, etag string
		weak            bool
		match, valid    bool
	}{
		{"9110 §13.1.1 strong", `"xyzzy"`, `"xyzzy"`, false, true, true},
		{"9110 §13.1.1 list", `"a", "xyzzy", "b"`, `"xyzzy"`, false, true, true},
		{"9110 §13.1.1 weak theirs fails strong", `W/"xyzzy"`, `"xyzzy"`, false, false, true},
		{"9110 §13.1.1 weak mine fails strong", `"xyzzy"`, `W/"xyzzy"`, false, false, true},
		{"9110 §13.1.2 weak comparison", `W/"xyzzy"`, `"xyzzy"`, true, true, true},
		{"9110 §13.1.2 weak both", `W/"1"`, `W/"1"`, true, true, true},
		{"9110 §8.8.3.2 different", `"1"`, `"2"`, true, false, true},
		{"9110 §13.1.1 star", `*`, `"x"`, false, true, true},
		{"9110 §13.1.2 star", ` * `, `"x"`, true, true, true},
		{"9110 §8.8.3 comma inside tag", `"a,b"`, `"a,b"`, false, true, true},
		{"9110 §5.6.1 empty elements", `, "a" ,, `, `"a"`, false, true, true},
		{"9110 §8.8.3 unquoted", `xyzzy`, `"xyzzy"`, false, false, false},
		{"9110 §8.8.3 lower-case w/", `w/"x"`, `"x"`, true, false, false},
		{"9110 §8.8.3 star in list", `"a", *`, `"a"`, true, false, false},
		{"9110 §8.8.3 space in tag", `"a b"`, `"a b"`, true, false, false},
		{"9110 §13.1.1 empty", ``, `"a"`, false, false, false},
	}
	for _, tc := range cases {
		m, v := MatchETag([]byte(tc.list), []byte(tc.etag), tc.weak)
		if m != tc.match || v != tc.valid {
			t.Errorf("RFC %s: MatchETag(%q, %q, %v) = %v, %v; want %v, %v", tc.rfc, tc.list, tc.etag, tc.weak, m, v, tc.match, tc.valid)
		}
	}
}

func TestIfRangeMatch(t *testing.T) {
	const mod = 784111777
	cases := []struct {
		rfc, v, etag string
		lm           int64
		want         bool
	}{
		{"9110 §13.1.5 strong etag", `"a"`, `"a"`, mod, true},
		{"9110 §13.1.5 other etag", `"b"`, `"a"`, mod, false},
		{"9110 §13.1.5 weak etag never", `W/"a"`, `"a"`, mod, false},
		{"9110 §13.1.5 weak own etag never", `"a"`, `W/"a"`, mod, false},
		{"9110 §13.1.5 exact date", "Sun, 06 Nov 1994 08:49:37 GMT", `"a"`, mod, true},
		{"9110 §13.1.5 other date", "Sun, 06 Nov 1994 08:49:38 GMT", `"a"`, mod, false},
		{"9110 §13.1.5 weak date validator", "Sun, 06 Nov 1994 08:49:37 GMT", `"a"`, -1, false},
		{"9110 §13.1.5 a Wednesday is a date, not a weak etag", "Wed, 09 Nov 1994 08:49:37 GMT", `"a"`, mod + 3*86400, true},
		{"9110 §13.1.5 invalid", "yesterday", `"a"`, mod, false},
		{"9110 §13.1.5 list is invalid", `"a", "b"`, `"a"`, mod, false},
	}
	for _, tc := range cases {
		if got := IfRangeMatch([]byte(tc.v), []byte(tc.etag), tc.lm); got != tc.want {
			t.Errorf("RFC %s: IfRangeMatch(%q, %q, %d) = %v", tc.rfc, tc.v, tc.etag, tc.lm, got)
		}
	}
}

func TestParseAcceptEncoding(t *testing.T) {
	cases := []struct {
		rfc, in string
		want    Encodings
		ok      bool
		best    Coding // with br, zstd and gzip variants all available
	}{
		{"9110 §12.5.3", "gzip, deflate, br, zstd", Encodings{1000, 1000, 1000, 1}, true, CodingBr},
		{"9110 §12.5.3", "gzip", Encodings{0, 0, 1000, 1}, true, CodingGzip},
		{"9110 §12.5.3", "gzip;q=1.0, br;q=0.5", Encodings{500, 0, 1000, 1}, true, CodingGzip},
		{"9110 §12.5.3", "br;q=0.9, zstd;q=0.9, gzip;q=0.9", Encodings{900, 900, 900, 1}, true, CodingBr},
		{"9110 §12.5.3", "zstd, gzip", Encodings{0, 1000, 1000, 1}, true, CodingZstd},
		{"9110 §12.5.3", "*", Encodings{1000, 1000, 1000, 1000}, true, CodingBr},
		{"9110 §12.5.3", "*;q=0.5, gzip;q=0", Encodings{500, 500, 0, 500}, true, CodingBr},
		{"9110 §12.5.3", "identity;q=0", Encodings{0, 0, 0, 0}, true, CodingNone},
		{"9110 §12.5.3", "*;q=0", Encodings{0, 0, 0, 0}, true, CodingNone},
		{"9110 §12.5.3", "*;q=0, identity", Encodings{0, 0, 0, 1000}, true, CodingIdentity},
		{"9110 §12.5.3", "", Encodings{0, 0, 0, 1}, true, CodingIdentity},
		{"9110 §8.4.1.3", "x-gzip", Encodings{0, 0, 1000, 1}, true, CodingGzip},
		{"9110 §12.4.2", "GZIP ; Q=0.123", Encodings{0, 0, 123, 1}, true, CodingGzip},
		{"9110 §12.4.2", "gzip;q=0.", Encodings{0, 0, 0, 1}, true, CodingIdentity},
		{"9110 §12.5.3 first entry counts", "gzip;q=0, gzip", Encodings{0, 0, 0, 1}, true, CodingIdentity},
		{"9110 §12.4.2 q above 1", "gzip;q=1.5", Encodings{0, 0, 0, 1}, false, CodingIdentity},
		{"9110 §12.4.2 four decimals", "gzip;q=0.1234", Encodings{0, 0, 0, 1}, false, CodingIdentity},
		{"9110 §12.4.2 other parameter", "gzip;level=1", Encodings{0, 0, 0, 1}, false, CodingIdentity},
		{"9110 §12.5.3 not a token", "gz ip", Encodings{0, 0, 0, 1}, false, CodingIdentity},
	}
	for _, tc := range cases {
		got, ok := ParseAcceptEncoding([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("RFC %s: %q = %+v, %v; want %+v, %v", tc.rfc, tc.in, got, ok, tc.want, tc.ok)
		}
		if b := got.Best(true, true, true); b != tc.best {
			t.Errorf("RFC %s: %q: Best = %v, want %v", tc.rfc, tc.in, b, tc.best)
		}
	}
	e, _ := ParseAcceptEncoding([]byte("br, gzip;q=0.8"))
	if b := e.Best(false, false, true); b != CodingGzip {
		t.Errorf("Best without br = %v", b)
	}
}

func TestDecodePath(t *testing.T) {
	cases := []struct {
		rfc, in, path, query string
		status               int
	}{
		{"3986 §3.3", "/", "/", "", 0},
		{"3986 §3.3", "/a/b.html", "/a/b.html", "", 0},
		{"3986 §3.4", "/a?x=1&y=%2F", "/a", "x=1&y=%2F", 0},
		{"3986 §2.1", "/a%20b/%7Euser", "/a b/~user", "", 0},
		{"3986 §5.2.4", "/a/./b/../c", "/a/c", "", 0},
		{"3986 §5.2.4", "/a/b/..", "/a/", "", 0},
		{"3986 §5.2.4", "/a/b/.", "/a/b/", "", 0},
		{"3986 §5.2.4", "/a/..", "/", "", 0},
		{"3986 §5.2.4", "/a/%2e%2E/b", "/b", "", 0},
		{"3986 §5.2.4", "/a/.%2e", "/", "", 0},
		{"3986 §5.2.4", "/..a/b..", "/..a/b..", "", 0},
		{"3986 §5.2.4", "/.../", "/.../", "", 0},
		{"collapse slashes", "//a///b//", "/a/b/", "", 0},
		{"collapse then dots", "/a//..", "/", "", 0},
		{"9112 §3.2.2 absolute-form", "http://h:80/a/../b?q", "/b", "q", 0},
		{"9112 §3.2.2 absolute-form empty path", "http://h", "/", "", 0},
		{"climb above root", "/..", "", "", 400},
		{"climb above root", "/a/../..", "", "", 400},
		{"climb above root, encoded", "/%2e%2e/etc/passwd", "", "", 400},
		{"climb above root, deep", "/a/b/../../../c", "", "", 400},
		{"3986 §2.1 bad escape", "/a%zz", "", "", 400},
		{"3986 §2.1 truncated escape", "/a%2", "", "", 400},
		{"NUL", "/a%00b", "", "", 400},
		{"encoded slash", "/a%2Fb", "", "", 400},
		{"encoded slash, lower case", "/a%2f..%2f..%2fetc", "", "", 400},
		{"raw space", "/a b", "", "", 400},
		{"not a path", "a/b", "", "", 400},
		{"asterisk-form", "*", "", "", 400},
		{"empty", "", "", "", 400},
	}
	for _, tc := range cases {
		dst := make([]byte, 0, len(tc.in)+1)
		path, query, err := DecodePath(dst, []byte(tc.in))
		status := 0
		if err != nil {
			status = err.(*Error).Status
		}
		if status != tc.status || status == 0 && (string(path) != tc.path || string(query) != tc.query) {
			t.Errorf("%s: %q = %q, %q, %v; want %q, %q, %d", tc.rfc, tc.in, path, query, err, tc.path, tc.query, tc.status)
		}
	}
	// The query is nil without '?' and empty with a bare '?'.
	if _, q, _ := DecodePath(nil, []byte("/a")); q != nil {
		t.Error("query without ? is not nil")
	}
	if _, q, _ := DecodePath(nil, []byte("/a?")); q == nil || len(q) != 0 {
		t.Error("query with bare ? is not empty")
	}
}
