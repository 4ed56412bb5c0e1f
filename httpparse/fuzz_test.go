package httpparse

import (
	"bytes"
	"testing"
)

// FuzzParse checks the parser's safety properties on arbitrary bytes:
//
//   - it never panics, and never indexes beyond the input (the input is
//     passed with cap == len, so any overread is a bounds panic);
//   - consumed is within the input, and zero on any error;
//   - the outcome does not depend on how the bytes arrive (one call, two
//     chunks, one byte at a time);
//   - a request that parses re-parses identically after re-serialisation;
//   - the value helpers and DecodePath never panic on any field, and
//     DecodePath's output is normalised.
//
// Seeds: the shared corpus and rule tables, plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range validCorpus {
		f.Add([]byte(s))
	}
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		var p Parser
		var req Request
		n, err := p.Parse(data, &req)
		if n < 0 || n > len(data) || (err != nil && n != 0) || (err == nil && n == 0) {
			t.Fatalf("consumed %d of %d, err %v", n, len(data), err)
		}
		if err != nil && err != ErrNeedMore {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
		}
		once := snapshot(n, err, &req)
		if got := parseChunks(data, Limits{}, len(data)/2); got != once {
			t.Fatalf("split in two:\n got %v\nwant %v", got, once)
		}
		if got := parseBytewise(data, Limits{}); got != once {
			t.Fatalf("byte at a time:\n got %v\nwant %v", got, once)
		}
		if err != nil {
			return
		}

		// Re-serialise and re-parse.
		var b []byte
		b = append(b, req.Method...)
		b = append(b, ' ')
		b = append(b, req.Target...)
		b = append(b, ' ')
		b = append(b, req.Version...)
		b = append(b, "\r\n"...)
		for _, f := range req.FieldList() {
			b = append(b, f.Name...)
			b = append(b, ": "...)
			b = append(b, f.Value...)
			b = append(b, "\r\n"...)
		}
		b = append(b, "\r\n"...)
		again := parseOnce(b, Limits{})
		once.Consumed = len(b)
		if again != once {
			t.Fatalf("re-serialised request parses differently:\n got %v\nwant %v\n%q", again, once, b)
		}

		// Helpers must cope with whatever the fields hold.
		dst := make([]byte, 0, len(req.Target)+1)
		if path, _, err := DecodePath(dst, req.Target); err == nil {
			checkNormalised(t, path)
		}
		var ranges [8]ByteRange
		for _, f := range req.FieldList() {
			ParseRange(f.Value, 1000, ranges[:])
			ParseHTTPDate(f.Value)
			MatchETag(f.Value, []byte(`"x"`), true)
			IfRangeMatch(f.Value, []byte(`"x"`), 0)
			ParseAcceptEncoding(f.Value)
		}
	})
}

// checkNormalised fails unless path is absolute and free of empty, "." and
// ".." segments and NUL bytes.
func checkNormalised(t *testing.T, path []byte) {
	t.Helper()
	if len(path) == 0 || path[0] != '/' || bytes.IndexByte(path, 0) >= 0 ||
		bytes.Contains(path, []byte("//")) {
		t.Fatalf("DecodePath returned %q", path)
	}
	for _, seg := range bytes.Split(path[1:], []byte("/")) {
		if string(seg) == "." || string(seg) == ".." {
			t.Fatalf("DecodePath returned %q", path)
		}
	}
}
