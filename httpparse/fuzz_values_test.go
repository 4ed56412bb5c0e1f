package httpparse

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The value parsers of untrusted input, each fuzzed for a property beyond
// "no panic", and checked against net/http (or net/url) where the standard
// library has an equivalent. Seeds: the rule tables of helpers_values_test.go
// and testdata/fuzz/FuzzX.

// FuzzDecodePath: a decoded path starts with "/", never climbs above it
// (no "." or ".." segment, no empty segment, no NUL), and decodes to
// itself again once re-encoded; it is what net/url's PathUnescape and
// path.Clean make of the same origin-form target, up to the trailing slash
// DecodePath keeps. Where DecodePath refuses a target net/url accepts, the
// reason must be one of decodeDifferences.
func FuzzDecodePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a/./b/../c", "/%2e%2E/x", "/a%2Fb", "/a%00", "/..", "/x/../../a",
		"/a//b/", "/%41%42?q=%2F", "http://h/a/../b", "/caf%C3%A9", "/a b", "/%", "/%g0", "*", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, target []byte) {
		out, query, err := DecodePath(nil, target)
		if err != nil {
			if len(target) > 0 && target[0] == '/' {
				explainDecodeRefusal(t, target)
			}
			return
		}
		checkNormalised(t, out)
		if query != nil && !bytes.Contains(target, append([]byte{'?'}, query...)) {
			t.Fatalf("%q: query %q is not the target's", target, query)
		}
		again, _, err := DecodePath(nil, escapePath(out))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%q decoded to %q; re-encoded as %q it decodes to %q, %v", target, out, escapePath(out), again, err)
		}
		if target[0] != '/' {
			return // absolute-form: net/url has no origin-form equivalent
		}
		raw, _, _ := bytes.Cut(target, []byte("?"))
		theirs, uerr := url.PathUnescape(string(raw))
		if uerr != nil {
			t.Fatalf("%q: DecodePath accepts (%q), url.PathUnescape refuses: %v", target, out, uerr)
		}
		if path.Clean(theirs) != path.Clean(string(out)) {
			t.Fatalf("%q: DecodePath %q, net/url and path.Clean %q", target, out, path.Clean(theirs))
		}
	})
}

// decodeDifferences are the origin-form targets DecodePath refuses and
// net/url (PathUnescape, then path.Clean) accepts, each with its reason.
var decodeDifferences = []struct {
	reason  string
	applies func(raw []byte, decoded string) bool
}{
	{"RFC 3986 §3.3: a byte outside pchar and '/' is not part of a path (url.PathUnescape does not check the grammar)",
		func(raw []byte, _ string) bool {
			for _, c := range raw {
				if !isTargetChar[c] || c == '?' {
					return true
				}
			}
			return false
		}},
	{"NUL ends a C path string, so the file system and the server would see different names (RFC 3986 §7.3)",
		func(_ []byte, decoded string) bool { return strings.IndexByte(decoded, 0) >= 0 }},
	{"an encoded '/' would hide a segment boundary from anything that normalises before decoding (RFC 3986 §2.2: a reserved character's encoded form is not equivalent to it)",
		func(raw []byte, _ string) bool { return bytes.Contains(bytes.ToLower(raw), []byte("%2f")) }},
	{"a '..' above the root is a probe: RFC 3986 §5.2.4 (and path.Clean) would clamp it to '/', serving what the client never named",
		func(_ []byte, decoded string) bool { return climbsAboveRoot(decoded) }},
}

// explainDecodeRefusal fails unless DecodePath's refusal of an origin-form
// target is one net/url shares or a listed difference.
func explainDecodeRefusal(t *testing.T, target []byte) {
	raw, _, _ := bytes.Cut(target, []byte("?"))
	decoded, err := url.PathUnescape(string(raw))
	if err != nil {
		return // both refuse
	}
	for _, d := range decodeDifferences {
		if d.applies(raw, decoded) {
			return
		}
	}
	t.Fatalf("%q: DecodePath refuses, net/url accepts (%q), and no listed difference explains it", target, decoded)
}

// climbsAboveRoot walks the decoded path's segments the way RFC 3986
// §5.2.4 does and reports whether a ".." would leave the root.
func climbsAboveRoot(p string) bool {
	depth := 0
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if depth == 0 {
				return true
			}
			depth--
		default:
			depth++
		}
	}
	return false
}

// escapePath percent-encodes every byte of p but '/' and the unreserved
// set (RFC 3986 §2.3), making it a valid origin-form target again.
func escapePath(p []byte) []byte {
	var b []byte
	for _, c := range p {
		switch {
		case c == '/' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0:
			b = append(b, c)
		default:
			b = append(b, fmt.Sprintf("%%%02X", c)...)
		}
	}
	return b
}

// FuzzParseHTTPDate: a date that parses formats back (AppendHTTPDate) to
// an IMF-fixdate that parses to the same instant; an IMF-fixdate whose day
// name is the date's and whose second is not 60 formats back to itself
// byte for byte; and net/http's ParseTime reads the same instant, except
// where dateDifferences says why not.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Sun Nov 16 08:49:37 1994", "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Wed, 31 Dec 2025 23:59:60 GMT",
		"Mon, 29 Feb 2021 00:00:00 GMT", "sun, 06 Nov 1994 08:49:37 GMT", "Thursday, 01-Jan-70 00:00:00 GMT"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, ok := ParseHTTPDate(b)
		if !ok {
			return
		}
		formatted := AppendHTTPDate(nil, time.Unix(u, 0))
		if back, ok := ParseHTTPDate(formatted); !ok || back != u {
			t.Fatalf("%q is %d; formatted %q, which parses to %d, %v", b, u, formatted, back, ok)
		}
		leap := bytes.Contains(b, []byte(":60 ")) || bytes.HasSuffix(b, []byte(":60"))
		if len(b) == 29 && !leap && string(b[:3]) == string(formatted[:3]) && !bytes.Equal(formatted, b) {
			t.Fatalf("IMF-fixdate %q formats back as %q", b, formatted)
		}
		theirs, err := http.ParseTime(string(b))
		switch {
		case leap:
			// dateDifferences[0]: Go's time package has no second 60.
		case err != nil:
			t.Fatalf("%q: ParseHTTPDate %d, http.ParseTime refuses: %v", b, u, err)
		case theirs.Unix() != u && !(len(b) >= 30 && centuriesApart(theirs.Unix(), u)):
			t.Fatalf("%q: ParseHTTPDate %v, http.ParseTime %v", b, time.Unix(u, 0).UTC(), theirs.UTC())
		}
	})
}

// dateDifferences are where ParseHTTPDate and http.ParseTime disagree.
var dateDifferences = []string{
	"A second of 60 is accepted as the next second (RFC 9110 §5.6.7 allows 60 for a leap second); time.Parse refuses it.",
	"An rfc850-date's two-digit year is put in the century that makes it at most 50 years ahead (RFC 9110 §5.6.7); time.Parse puts 69-99 in the 1900s and 00-68 in the 2000s, whatever the year now.",
	"Day and month names are case-sensitive (RFC 9110 §5.6.7); time.Parse ignores their case.",
	"An rfc850-date must end in GMT (RFC 9110 §5.6.7); http.ParseTime takes any zone abbreviation there.",
}

// centuriesApart reports whether two instants differ by whole centuries,
// which is all the two-digit year rules can make them differ by.
func centuriesApart(a, b int64) bool {
	ta, tb := time.Unix(a, 0).UTC(), time.Unix(b, 0).UTC()
	return ta.Year() != tb.Year() && (ta.Year()-tb.Year())%100 == 0 &&
		ta.Month() == tb.Month() && ta.Day() == tb.Day() && ta.Format("15:04:05") == tb.Format("15:04:05")
}

// TestDatesAgainstNetHTTP runs the corpus both ways: every date one side
// accepts, the other accepts as the same instant, or the disagreement is
// one of dateDifferences (named by index).
func TestDatesAgainstNetHTTP(t *testing.T) {
	defer func(f func() int) { nowYear = f }(nowYear)
	nowYear = func() int { return 2026 } // two-digit years: 50 years ahead is 2076
	for _, tc := range []struct {
		in   string
		diff int // -1: both agree; else the index in dateDifferences
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", -1},
		{"Sunday, 06-Nov-94 08:49:37 GMT", -1},
		{"Sun Nov  6 08:49:37 1994", -1},
		{"Thu, 01 Jan 1970 00:00:00 GMT", -1},
		{"Mon, 29 Feb 2021 00:00:00 GMT", -1}, // no such day: both refuse
		{"Sun, 06 Nov 1994 08:49:37 UTC", -1},
		{"Wed, 31 Dec 2025 23:59:60 GMT", 0},
		{"Thursday, 01-Jan-50 00:00:00 GMT", -1}, // 2050 to both
		{"Wednesday, 01-Jan-70 00:00:00 GMT", 1}, // 2070 here, 1970 to time.Parse
		{"sun, 06 Nov 1994 08:49:37 GMT", 2},
		{"Sun, 06 NOV 1994 08:49:37 GMT", 2},
		{"Sunday, 06-Nov-94 08:49:37 PST", 3},
	} {
		ours, ok := ParseHTTPDate([]byte(tc.in))
		theirs, err := http.ParseTime(tc.in)
		agree := ok == (err == nil) && (!ok || ours == theirs.Unix())
		switch {
		case agree && tc.diff >= 0:
			t.Errorf("%q: listed as a difference (%s) but both agree", tc.in, dateDifferences[tc.diff])
		case !agree && tc.diff < 0:
			t.Errorf("%q: ParseHTTPDate %d %v, http.ParseTime %v %v: not a listed difference", tc.in, ours, ok, theirs, err)
		}
	}
}

// etagElem splits one element of an entity-tag list by the grammar of
// RFC 9110 §8.8.3 (an independent reading for the oracle below): its weak
// prefix and opaque-tag, or ok false. Bytes, not runes: obs-text is any
// byte from 0x80.
func etagElem(e string) (weak, opaque string, ok bool) {
	if strings.HasPrefix(e, "W/") {
		weak, e = "W/", e[2:]
	}
	if len(e) < 2 || e[0] != '"' || e[len(e)-1] != '"' {
		return "", "", false
	}
	for i := 1; i < len(e)-1; i++ {
		if c := e[i]; c != 0x21 && (c < 0x23 || c > 0x7e) && c < 0x80 {
			return "", "", false
		}
	}
	return weak, e, true
}

// referenceMatch is MatchETag written from the RFC with no shared code:
// split at commas outside quotes, trim OWS, skip empty elements, and
// compare each tag strongly or weakly (RFC 9110 §8.8.3.2).
func referenceMatch(list, etag string, weak bool) (match, valid bool) {
	if strings.Trim(list, " \t") == "*" {
		return true, true
	}
	mineWeak, mine, mineOK := etagElem(etag)
	var elems []string
	start, quoted := 0, false
	for i := 0; i <= len(list); i++ {
		if i == len(list) || list[i] == ',' && !quoted {
			elems = append(elems, strings.Trim(list[start:i], " \t"))
			start = i + 1
		} else if list[i] == '"' {
			quoted = !quoted
		}
	}
	n := 0
	for _, e := range elems {
		if e == "" {
			continue
		}
		n++
		theirsWeak, theirs, ok := etagElem(e)
		if !ok {
			return false, false
		}
		if mineOK && theirs == mine && (weak || mineWeak == "" && theirsWeak == "") {
			match = true
		}
	}
	return match, n > 0
}

// FuzzMatchETag: MatchETag agrees with referenceMatch on every list and
// tag, both comparisons; a strong match implies a weak one; and a list
// built of well-formed tags matches each of them. net/http's entity-tag
// comparison is unexported (ServeContent's checkIfMatch and
// checkIfNoneMatch), so the reference stands in for it.
func FuzzMatchETag(f *testing.F) {
	for _, s := range [][2]string{{`"xyzzy"`, `"xyzzy"`}, {`W/"xyzzy"`, `"xyzzy"`}, {`"a", W/"b" ,, "c"`, `W/"b"`},
		{`"a,b"`, `"a,b"`}, {` * `, `"x"`}, {``, `"x"`}, {`"a" "b"`, `"a"`}, {`w/"a"`, `"a"`}, {`"\x80"`, `"\x80"`}} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, list, etag []byte) {
		for _, weak := range []bool{false, true} {
			m, v := MatchETag(list, etag, weak)
			rm, rv := referenceMatch(string(list), string(etag), weak)
			if m != rm || v != rv {
				t.Fatalf("MatchETag(%q, %q, weak=%v) = %v, %v; the RFC reading gives %v, %v", list, etag, weak, m, v, rm, rv)
			}
		}
		if strong, _ := MatchETag(list, etag, false); strong {
			if weak, _ := MatchETag(list, etag, true); !weak {
				t.Fatalf("MatchETag(%q, %q): strong match but no weak one", list, etag)
			}
		}
		// Well-formed tags drawn from the inputs: a list of them matches each.
		var tags []string
		for _, b := range [][]byte{list, etag} {
			for _, e := range strings.Split(string(b), ",") {
				if _, _, ok := etagElem(strings.Trim(e, " \t")); ok && len(tags) < 8 {
					tags = append(tags, strings.Trim(e, " \t"))
				}
			}
		}
		joined := strings.Join(tags, ", ")
		for _, tag := range tags {
			if m, v := MatchETag([]byte(joined), []byte(tag), true); !m || !v {
				t.Fatalf("%q does not weakly match the list %q it is in", tag, joined)
			}
			strong := !strings.HasPrefix(tag, "W/")
			if got := IfRangeMatch([]byte(tag), []byte(tag), -1); got != strong {
				t.Fatalf("If-Range %q against itself: %v, want %v (strong comparison)", tag, got, strong)
			}
		}
	})
}

// aeElem is one Accept-Encoding element after OWS is trimmed (RFC 9110
// §12.5.3, §12.4.2), read independently of ParseAcceptEncoding.
var aeElem = regexp.MustCompile(`^([!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+)(?:[ \t]*;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?$`)

// referenceEncodings is ParseAcceptEncoding written from the RFC with no
// shared code: q-values in thousandths, the first listing of a coding
// counting, "*" standing for codings not listed, identity acceptable
// unless excluded.
func referenceEncodings(v string) (Encodings, bool) {
	q := map[string]int{}
	for _, e := range strings.Split(v, ",") {
		e = strings.Trim(e, " \t")
		if e == "" {
			continue
		}
		m := aeElem.FindStringSubmatch(e)
		if m == nil {
			return Encodings{Identity: 1}, false
		}
		w := 1000
		if m[2] != "" {
			w = int(m[2][0]-'0') * 1000
			for i, scale := 2, 100; i < len(m[2]); i, scale = i+1, scale/10 {
				w += int(m[2][i]-'0') * scale
			}
		}
		name := strings.ToLower(m[1])
		if name == "x-gzip" {
			name = "gzip"
		}
		if _, seen := q[name]; !seen {
			q[name] = w
		}
	}
	get := func(name string, def int) int {
		if w, ok := q[name]; ok {
			return w
		}
		if w, ok := q["*"]; ok {
			return w
		}
		return def
	}
	return Encodings{Br: get("br", 0), Zstd: get("zstd", 0), Gzip: get("gzip", 0), Identity: get("identity", 1)}, true
}

// FuzzAcceptEncoding: ParseAcceptEncoding agrees with referenceEncodings,
// and Best, for every set of variants, picks an available coding of the
// highest q-value above zero, ties going br, zstd, gzip, identity, or
// CodingNone when none is above zero. net/http has no Accept-Encoding
// parser (its gzip handling is in the client), so the reference stands in.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1", "identity;q=0, *;q=0", "", "*",
		"gzip;q=1.001", "GZIP ; Q=0.5", "x-gzip", "zstd;q=0.999,br;q=0.999", "gzip;q=", ",,gzip,,", "gzip;level=1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		e, ok := ParseAcceptEncoding(v)
		re, rok := referenceEncodings(string(v))
		if e != re || ok != rok {
			t.Fatalf("ParseAcceptEncoding(%q) = %+v, %v; the RFC reading gives %+v, %v", v, e, ok, re, rok)
		}
		for have := 0; have < 8; have++ {
			br, zs, gz := have&1 != 0, have&2 != 0, have&4 != 0
			got := e.Best(br, zs, gz)
			want, wantQ := CodingNone, 0
			for _, c := range []struct {
				coding Coding
				have   bool
				q      int
			}{{CodingBr, br, e.Br}, {CodingZstd, zs, e.Zstd}, {CodingGzip, gz, e.Gzip}, {CodingIdentity, true, e.Identity}} {
				if c.have && c.q > wantQ {
					want, wantQ = c.coding, c.q
				}
			}
			if got != want {
				t.Fatalf("%q %+v with br=%v zstd=%v gzip=%v: Best %v, want %v", v, e, br, zs, gz, got, want)
			}
		}
	})
}
