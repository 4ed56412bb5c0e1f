package transmit

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/httpparse"
)

// FuzzRanges: what chooseRanges decides for any Range value and size.
// A 206's parts lie inside the representation, are sorted, and are
// coalesced (no two overlap or touch, RFC 9110 §14.2, §15.3.7.2); they
// cover exactly the bytes the satisfiable specs asked for, and never more
// than the representation holds. A 416 is a valid field no spec of which
// overlaps; everything else is 200. Seeds: the rule table's values and
// testdata/fuzz/FuzzRanges.
func FuzzRanges(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-500", "bytes=9500-", "bytes=0-0,-1", "bytes=500-600,601-999",
		"bytes=500-700,601-999", "bytes=0-99999", "bytes=1-1,0-0,2-2", "bytes=5-,-3", "Bytes=1-2", "bytes=",
		"bytes=-0", "bytes=3-2", "bytes= 1-2 ,, 4-5 ", "bytes=0-1,0-1", "items=0-1", "bytes=99999999999999999999999-"} {
		f.Add([]byte(s), int64(1000))
	}
	f.Add([]byte("bytes=0-"), int64(0))
	f.Add([]byte("bytes=-1"), int64(1))
	f.Fuzz(func(t *testing.T, v []byte, size int64) {
		if size < 0 {
			size = -(size + 1) // every size the fuzzer tries maps to one >= 0
		}
		rs := make([]httpparse.ByteRange, 16)
		status, n := chooseRanges(v, size, rs)
		asked := make([]httpparse.ByteRange, 16)
		an, res := httpparse.ParseRange(v, size, asked)
		switch status {
		case 416:
			if res != httpparse.RangeUnsatisfiable {
				t.Fatalf("%q size %d: 416, but ParseRange says %v", v, size, res)
			}
			return
		case 200:
			return
		case 206:
		default:
			t.Fatalf("%q size %d: status %d", v, size, status)
		}
		if n < 1 || n > an || res != httpparse.RangeOK {
			t.Fatalf("%q size %d: 206 with %d parts of %d asked (%v)", v, size, n, an, res)
		}
		var total int64
		for i, r := range rs[:n] {
			if r.Start < 0 || r.Length <= 0 || r.Start > size-r.Length {
				t.Fatalf("%q size %d: part %d %+v not inside the representation", v, size, i, r)
			}
			if i > 0 && r.Start <= rs[i-1].Start+rs[i-1].Length {
				t.Fatalf("%q size %d: parts %+v and %+v not sorted and coalesced", v, size, rs[i-1], r)
			}
			total += r.Length
		}
		if total > size {
			t.Fatalf("%q size %d: parts total %d", v, size, total)
		}
		// Every asked byte is in exactly one part, and every part byte was
		// asked for: the boundaries are the only bytes to check.
		in := func(x int64) bool {
			for _, r := range rs[:n] {
				if x >= r.Start && x < r.Start+r.Length {
					return true
				}
			}
			return false
		}
		asks := func(x int64) bool {
			for _, r := range asked[:an] {
				if x >= r.Start && x < r.Start+r.Length {
					return true
				}
			}
			return false
		}
		for _, r := range append(append([]httpparse.ByteRange(nil), asked[:an]...), rs[:n]...) {
			for _, x := range []int64{r.Start - 1, r.Start, r.Start + r.Length - 1, r.Start + r.Length} {
				if x >= 0 && x < size && in(x) != asks(x) {
					t.Fatalf("%q size %d: byte %d in the parts %v, asked %v (parts %v, asked %v)", v, size, x, in(x), asks(x), rs[:n], asked[:an])
				}
			}
		}
	})
}

// rangeDifferences are the Range values on which epfs and net/http's
// ServeContent answer differently, each with its reason. TestRanges-
// AgainstNetHTTP fails both when an unlisted value disagrees and when a
// listed one agrees.
var rangeDifferences = map[string]string{
	"items=0-1": "RFC 9110 §14.2: an origin server MUST ignore a Range with a unit it does not understand (200); net/http answers 416",
	"bytes=3-2": "RFC 9110 §14.2: a server MAY ignore an invalid Range (last-pos before first-pos, §14.1.1), and epfs does (200); net/http answers 416, which §15.5.17 reserves for ranges none of which overlaps",
	"bytes=a-b": "as above: not a range-spec, ignored (200); net/http 416",
	"Bytes=1-2": "RFC 9110 §14.1: range unit names are case-insensitive, so epfs serves it (206); net/http requires lower-case \"bytes=\" and answers 416",
	"bytes=-0":  "RFC 9110 §14.1.3: a suffix-length of 0 selects nothing, unsatisfiable (416); net/http ignores the spec and serves the whole body (200)",
	"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15,16-16": "RFC 9110 §14.2 lets a server ignore a Range with many small specs (a sign of abuse); epfs ignores more than MaxRanges (16) and serves 200, net/http serves 17 parts",
}

// TestRangesAgainstNetHTTP asks net/http's ServeContent and chooseRanges
// the same Range values for the same 1,000 bytes and compares the status
// and the bytes each would send (net/http does not coalesce, so parts are
// compared as sets of byte offsets).
func TestRangesAgainstNetHTTP(t *testing.T) {
	const size = 1000
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i * 7)
	}
	corpus := []string{"bytes=0-499", "bytes=500-999", "bytes=-500", "bytes=9500-", "bytes=900-", "bytes=0-0,-1",
		"bytes=500-600,601-999", "bytes=500-700,601-999", "bytes=0-99999", "bytes=-5000", "bytes=1-1,0-0",
		"bytes= 1-2 ,, 4-5 ", "bytes=0-1,0-1", "bytes=", "bytes=0-600,300-999", "bytes=990-,-5"}
	for v := range rangeDifferences {
		corpus = append(corpus, v)
	}
	for _, v := range corpus {
		rs := make([]httpparse.ByteRange, 16)
		status, n := chooseRanges([]byte(v), size, rs)
		ours := map[int64]bool{}
		for _, r := range rs[:n] {
			for x := r.Start; x < r.Start+r.Length; x++ {
				ours[x] = true
			}
		}
		theirStatus, theirs, err := serveContentRange(v, content)
		if err != nil {
			t.Fatalf("%q: net/http: %v", v, err)
		}
		agree := status == theirStatus && fmt.Sprint(ours) == fmt.Sprint(theirs)
		reason, listed := rangeDifferences[v]
		switch {
		case !agree && !listed:
			t.Errorf("%q: epfs %d %d bytes, net/http %d %d bytes: not a listed difference", v, status, len(ours), theirStatus, len(theirs))
		case agree && listed:
			t.Errorf("%q: listed as a difference (%s) but both answer %d", v, reason, status)
		}
	}
}

// serveContentRange asks http.ServeContent for content with Range v and
// returns the status and, for a 206, the offsets of the bytes it sends,
// each checked against content.
func serveContentRange(v string, content []byte) (int, map[int64]bool, error) {
	req := httptest.NewRequest("GET", "/f.bin", nil)
	req.Header.Set("Range", v)
	rec := httptest.NewRecorder()
	http.ServeContent(rec, req, "f.bin", time.Time{}, bytes.NewReader(content))
	got := map[int64]bool{}
	if rec.Code != 206 {
		return rec.Code, got, nil
	}
	add := func(contentRange string, body []byte) error {
		var start, end, total int64
		if _, err := fmt.Sscanf(contentRange, "bytes %d-%d/%d", &start, &end, &total); err != nil {
			return fmt.Errorf("Content-Range %q: %v", contentRange, err)
		}
		if !bytes.Equal(body, content[start:end+1]) {
			return fmt.Errorf("part %s: wrong bytes", contentRange)
		}
		for x := start; x <= end; x++ {
			got[x] = true
		}
		return nil
	}
	mt, params, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		return 206, got, add(rec.Header().Get("Content-Range"), rec.Body.Bytes())
	}
	mr := multipart.NewReader(rec.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return 206, got, nil
		}
		if err != nil {
			return 0, nil, err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return 0, nil, err
		}
		if err := add(p.Header.Get("Content-Range"), body); err != nil {
			return 0, nil, err
		}
	}
}
