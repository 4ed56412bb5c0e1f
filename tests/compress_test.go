package tests

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// Issue 21: compressible files are compressed once, off the loops, and
// served from the cache in gzip, brotli and zstd.

// encClient sends the Accept-Encoding each test names and never decodes:
// the test sees the bytes on the wire.
var encClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// textFile returns n bytes of JavaScript-like text that compresses several
// times, as real scripts do, but is not one line repeated.
func textFile(n int, salt string) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "function %s_%d(a, b) { return a * %d + b.length; } // %s\n", salt, i, i*7%13, strings.Repeat("x", i%17))
	}
	return b.Bytes()[:n]
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// fetch makes one request with the given header lines ("Name: value") and
// returns the response as sent.
func fetch(t testing.TB, method, url string, lines ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ": ")
		req.Header.Set(k, v)
	}
	r, err := encClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{r.StatusCode, r.Header, b}
}

// decode undoes a content coding with Go's decoders.
func decode(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = z
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "zstd":
		z, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer z.Close()
		r = z
	case "":
		return b
	default:
		t.Fatalf("unknown coding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s decode: %v", enc, err)
	}
	return out
}

// awaitVariant polls until url is served in enc (the first requests may
// get identity while the variant is built) and returns that response.
func awaitVariant(t testing.TB, url, enc string) reply {
	t.Helper()
	var r reply
	waitFor(t, enc+" variant of "+url, func() bool {
		r = fetch(t, "GET", url, "Accept-Encoding: "+enc)
		return r.header.Get("Content-Encoding") == enc
	})
	return r
}

// compressRoot writes the files the compression tests serve and returns
// the root.
func compressRoot(t testing.TB) (root string, small, large []byte) {
	t.Helper()
	root = t.TempDir()
	small = textFile(4<<10, "s")  // held in the entry's Body
	large = textFile(48<<10, "l") // above the small-file cut-off: read from the descriptor
	files := map[string][]byte{
		"small.js":   small,
		"large.css":  large,
		"tiny.txt":   []byte("too small to pay\n"),
		"huge.txt":   textFile(1<<20+1, "h"), // one byte above the ceiling
		"zeros.bin":  make([]byte, 64<<10),   // compresses, but is not a compressible type
		"data.json":  textFile(8<<10, "j"),   // application/json
		"pic.svg":    textFile(8<<10, "v"),   // image/svg+xml
		"page.html":  textFile(8<<10, "p"),   // text/html
		"photo.png":  textFile(8<<10, "n"),   // image/png: not on the list
		"sidecar.js": textFile(8<<10, "c"),   // with .gz and .br beside it
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range map[string]string{"sidecar.js.gz": "GZIP-SIDECAR", "sidecar.js.br": "BROTLI-SIDECAR"} {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Second)
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	return root, small, large
}

func serveCompress(t testing.TB, root string, args ...string) (*proc, string) {
	t.Helper()
	base := []string{"serve", "--root", root, "--listen", "127.0.0.1:0", "--loops", "2", "--access-log", "off",
		"--admin-listen", "127.0.0.1:0"}
	p := startEpfs(t, "listening", append(base, args...)...)
	return p, "http://" + strings.Split(p.addr, ",")[0]
}

// TestCompressEncodings: for each coding, the body decodes to the file's
// bytes (small file from memory, larger one read from its descriptor);
// the headers carry Content-Encoding, Vary and an ETag of the coding's
// own; If-None-Match with it gives 304 with Vary and that ETag; HEAD gives
// the variant's Content-Length; identity carries Vary too.
func TestCompressEncodings(t *testing.T) {
	noLeaks(t)
	root, small, large := compressRoot(t)
	_, base := serveCompress(t, root)
	for _, tc := range []struct {
		path string
		want []byte
	}{{"/small.js", small}, {"/large.css", large}} {
		id := fetch(t, "GET", base+tc.path)
		if id.status != 200 || !bytes.Equal(id.body, tc.want) || id.header.Get("Content-Encoding") != "" {
			t.Fatalf("%s identity: %d %q, %d bytes", tc.path, id.status, id.header.Get("Content-Encoding"), len(id.body))
		}
		if v := id.header.Get("Vary"); v != "Accept-Encoding" {
			t.Errorf("%s identity: Vary %q, want Accept-Encoding", tc.path, v)
		}
		etags := map[string]string{id.header.Get("ETag"): "identity"}
		for _, enc := range []string{"gzip", "br", "zstd"} {
			r := awaitVariant(t, base+tc.path, enc)
			if got := decode(t, enc, r.body); !bytes.Equal(got, tc.want) {
				t.Errorf("%s %s: decodes to %d bytes, not the file's %d", tc.path, enc, len(got), len(tc.want))
			}
			if len(r.body) >= len(tc.want)/2 {
				t.Errorf("%s %s: %d bytes for %d of text", tc.path, enc, len(r.body), len(tc.want))
			}
			if r.header.Get("Vary") != "Accept-Encoding" || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
				t.Errorf("%s %s: Vary %q, Content-Length %q for %d bytes", tc.path, enc, r.header.Get("Vary"), r.header.Get("Content-Length"), len(r.body))
			}
			etag := r.header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || etags[etag] != "" {
				t.Errorf("%s %s: ETag %s not strong or the same as %s's", tc.path, enc, etag, etags[etag])
			}
			etags[etag] = enc
			nm := fetch(t, "GET", base+tc.path, "Accept-Encoding: "+enc, "If-None-Match: "+etag)
			if nm.status != 304 || nm.header.Get("ETag") != etag || nm.header.Get("Vary") != "Accept-Encoding" || len(nm.body) != 0 {
				t.Errorf("%s %s If-None-Match: %d ETag %s Vary %q", tc.path, enc, nm.status, nm.header.Get("ETag"), nm.header.Get("Vary"))
			}
			// The variant's tag does not match the identity, nor the reverse.
			if r := fetch(t, "GET", base+tc.path, "If-None-Match: "+etag); r.status != 200 || !bytes.Equal(r.body, tc.want) {
				t.Errorf("%s: identity with the %s tag in If-None-Match: %d", tc.path, enc, r.status)
			}
			head := fetch(t, "HEAD", base+tc.path, "Accept-Encoding: "+enc)
			if head.header.Get("Content-Length") != strconv.Itoa(len(r.body)) || head.header.Get("Content-Encoding") != enc || len(head.body) != 0 {
				t.Errorf("%s %s HEAD: Content-Length %s, want %d", tc.path, enc, head.header.Get("Content-Length"), len(r.body))
			}
			curlDecodes(t, base+tc.path, enc, tc.want)
		}
		idm := fetch(t, "GET", base+tc.path, "Accept-Encoding: gzip", "If-None-Match: "+id.header.Get("ETag"))
		if idm.status != 200 || idm.header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: gzip request with the identity's tag: %d %q, want the gzip variant", tc.path, idm.status, idm.header.Get("Content-Encoding"))
		}
	}
}

// curlDecodes checks that curl --compressed, asking for enc, decodes the
// body to want; skipped for a coding the installed curl lacks.
func curlDecodes(t testing.TB, url, enc string, want []byte) {
	t.Helper()
	feature := map[string]string{"gzip": "libz", "br": "brotli", "zstd": "zstd"}[enc]
	v, err := exec.Command("curl", "-V").Output()
	if err != nil || !strings.Contains(string(v), feature) {
		t.Logf("curl without %s: not checked with curl", feature)
		return
	}
	out, err := exec.Command("curl", "-sS", "--max-time", "10", "--compressed", "-H", "Accept-Encoding: "+enc,
		"-D", "/dev/stderr", url).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", enc, err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("curl --compressed %s: %d bytes, not the file's %d", enc, len(out), len(want))
	}
}

// TestCompressNegotiation: the precompressed path's rules (RFC 9110
// §12.5.3): the highest q-value wins, ties go br, zstd, gzip, identity;
// "identity;q=0" and "*;q=0" exclude what they name; a request that
// accepts nothing available gets identity (permitted instead of 406).
func TestCompressNegotiation(t *testing.T) {
	noLeaks(t)
	root, small, _ := compressRoot(t)
	_, base := serveCompress(t, root)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		awaitVariant(t, base+"/small.js", enc)
	}
	for _, tc := range []struct{ accept, want string }{
		{"gzip, br, zstd", "br"},
		{"gzip;q=1, br;q=0.5, zstd;q=0.9", "gzip"},
		{"*", "br"},
		{"gzip;q=0, *", "br"},
		{"br;q=0, zstd;q=0, *;q=0.3", "gzip"},
		{"identity;q=0, gzip;q=0.1", "gzip"},
		{"*;q=0, zstd", "zstd"},
		{"identity", ""},
		{"", ""},
		{"compress, deflate", ""},
		{"*;q=0", ""},        // nothing acceptable: identity anyway
		{"identity;q=0", ""}, // likewise: no coding named, identity refused
		{"gzip;q=0", ""},
	} {
		r := fetch(t, "GET", base+"/small.js", "Accept-Encoding: "+tc.accept)
		if got := r.header.Get("Content-Encoding"); got != tc.want || r.status != 200 {
			t.Errorf("Accept-Encoding %q: %d %q, want %q", tc.accept, r.status, got, tc.want)
			continue
		}
		if !bytes.Equal(decode(t, tc.want, r.body), small) || r.header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: body or Vary wrong (Vary %q)", tc.accept, r.header.Get("Vary"))
		}
	}
}

// TestCompressRange: a Range gets the identity's bytes (206, no
// Content-Encoding, Vary); with identity refused it gets the whole variant
// with 200, the Range ignored.
func TestCompressRange(t *testing.T) {
	noLeaks(t)
	root, _, large := compressRoot(t)
	_, base := serveCompress(t, root)
	gz := awaitVariant(t, base+"/large.css", "gzip")
	r := fetch(t, "GET", base+"/large.css", "Accept-Encoding: gzip, br, zstd", "Range: bytes=100-199")
	if r.status != 206 || r.header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, large[100:200]) ||
		r.header.Get("Vary") != "Accept-Encoding" || r.header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(large)) {
		t.Errorf("Range with codings accepted: %d %q %q, %d bytes", r.status, r.header.Get("Content-Encoding"), r.header.Get("Content-Range"), len(r.body))
	}
	r = fetch(t, "GET", base+"/large.css", "Accept-Encoding: gzip, identity;q=0", "Range: bytes=100-199")
	if r.status != 200 || r.header.Get("Content-Encoding") != "gzip" || !bytes.Equal(r.body, gz.body) || r.header.Get("Content-Range") != "" {
		t.Errorf("Range with identity refused: %d %q, %d bytes, want 200 and the whole gzip variant", r.status, r.header.Get("Content-Encoding"), len(r.body))
	}
}

// TestCompressNotTaken: files above the ceiling, below the floor, or of a
// type not on the list are never compressed. The one compression thread
// takes jobs in order, and these files are looked up before the one whose
// variants the test waits for, so by then their jobs would have run.
func TestCompressNotTaken(t *testing.T) {
	noLeaks(t)
	root, _, _ := compressRoot(t)
	p, base := serveCompress(t, root)
	never := []string{"/huge.txt", "/tiny.txt", "/zeros.bin", "/photo.png"}
	for _, path := range never {
		fetch(t, "GET", base+path, "Accept-Encoding: gzip")
	}
	for _, path := range []string{"/data.json", "/pic.svg", "/page.html"} {
		for _, enc := range []string{"gzip", "br", "zstd"} {
			awaitVariant(t, base+path, enc)
		}
	}
	for _, path := range never {
		r := fetch(t, "GET", base+path, "Accept-Encoding: gzip, br, zstd")
		if r.status != 200 || r.header.Get("Content-Encoding") != "" || r.header.Get("Vary") != "" {
			t.Errorf("%s: %d Content-Encoding %q Vary %q, want identity without Vary", path, r.status, r.header.Get("Content-Encoding"), r.header.Get("Vary"))
		}
	}
	fams := scrape(t, adminURL(t, p))
	if n := metric(fams, "epfs_compress_variants_built_total"); n != 9 {
		t.Errorf("%v variants built, want 9 (three files, three codings)", n)
	}
	if n := metric(fams, "epfs_compress_variants_held"); n != 9 {
		t.Errorf("%v variants held, want 9", n)
	}
	if metric(fams, "epfs_compress_variant_bytes") <= 0 || metric(fams, "epfs_encoding_bytes_saved_total") <= 0 {
		t.Errorf("variant bytes %v, bytes saved %v: want both above 0", metric(fams, "epfs_compress_variant_bytes"), metric(fams, "epfs_encoding_bytes_saved_total"))
	}
}

// TestCompressChange: a file replaced by rename gets new variants of the
// new bytes, every coding, within the freshness bound; the old ones are
// gone with the old entry.
func TestCompressChange(t *testing.T) {
	noLeaks(t)
	root, small, _ := compressRoot(t)
	p, base := serveCompress(t, root)
	old := map[string]string{}
	for _, enc := range []string{"gzip", "br", "zstd"} {
		old[enc] = awaitVariant(t, base+"/small.js", enc).header.Get("ETag")
	}
	next := textFile(len(small)+100, "changed")
	tmp := filepath.Join(root, ".small.js.new")
	if err := os.WriteFile(tmp, next, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "small.js")); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"gzip", "br", "zstd"} {
		waitFor(t, "the new "+enc+" variant", func() bool {
			r := fetch(t, "GET", base+"/small.js", "Accept-Encoding: "+enc)
			if r.header.Get("Content-Encoding") != enc {
				return false
			}
			return bytes.Equal(decode(t, enc, r.body), next)
		})
		if r := fetch(t, "GET", base+"/small.js", "Accept-Encoding: "+enc); r.header.Get("ETag") == old[enc] {
			t.Errorf("%s: the new variant has the old ETag %s", enc, old[enc])
		}
	}
	if n := metric(scrape(t, adminURL(t, p)), "epfs_compress_variants_held"); n != 3 {
		t.Errorf("%v variants held after the change, want 3 (the old entry's went with it)", n)
	}
}

// TestCompressSidecarWins: with --precompressed, name.gz and name.br on
// disk are served for gzip and br, and only zstd, which has no sidecar, is
// computed.
func TestCompressSidecarWins(t *testing.T) {
	noLeaks(t)
	root, _, _ := compressRoot(t)
	want, err := os.ReadFile(filepath.Join(root, "sidecar.js"))
	if err != nil {
		t.Fatal(err)
	}
	p, base := serveCompress(t, root, "--precompressed")
	zs := awaitVariant(t, base+"/sidecar.js", "zstd")
	if !bytes.Equal(decode(t, "zstd", zs.body), want) {
		t.Errorf("computed zstd does not decode to the file")
	}
	for enc, body := range map[string]string{"gzip": "GZIP-SIDECAR", "br": "BROTLI-SIDECAR"} {
		r := fetch(t, "GET", base+"/sidecar.js", "Accept-Encoding: "+enc)
		if r.header.Get("Content-Encoding") != enc || string(r.body) != body {
			t.Errorf("%s: %q %q, want the sidecar %q", enc, r.header.Get("Content-Encoding"), r.body, body)
		}
	}
	fams := scrape(t, adminURL(t, p))
	if metric(fams, "epfs_compress_variants_built_total", "encoding", "gzip")+metric(fams, "epfs_compress_variants_built_total", "encoding", "br") != 0 {
		t.Errorf("gzip or brotli computed beside a sidecar")
	}
}

// TestCompressOffLoops: every codec run happened on a compression
// thread, none on a loop (nor an I/O thread): the thread ids each run
// recorded with gettid are on /metrics beside the threads' own.
func TestCompressOffLoops(t *testing.T) {
	noLeaks(t)
	root, _, _ := compressRoot(t)
	p, base := serveCompress(t, root, "--compress-threads", "2")
	for _, path := range []string{"/small.js", "/large.css", "/data.json", "/page.html"} {
		awaitVariant(t, base+path, "br")
	}
	fams := scrape(t, adminURL(t, p))
	ids := func(name, label string) map[string]bool {
		out := map[string]bool{}
		for _, m := range fams[name].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out[strconv.Itoa(int(m.GetGauge().GetValue()))] = true
				}
			}
		}
		return out
	}
	compressTIDs, loopTIDs, ioTIDs := ids("epfs_compress_thread_id", "thread"), ids("epfs_loop_thread_id", "loop"), ids("epfs_io_thread_id", "thread")
	if len(compressTIDs) != 2 || len(loopTIDs) != 2 || compressTIDs["0"] || loopTIDs["0"] {
		t.Fatalf("thread ids: compression %v, loops %v", compressTIDs, loopTIDs)
	}
	runs := 0.0
	for _, m := range fams["epfs_compress_codec_runs_total"].GetMetric() {
		tid := m.GetLabel()[0].GetValue()
		runs += m.GetCounter().GetValue()
		if !compressTIDs[tid] || loopTIDs[tid] || ioTIDs[tid] {
			t.Errorf("codec runs on thread %s: compression threads %v, loops %v, I/O %v", tid, compressTIDs, loopTIDs, ioTIDs)
		}
	}
	if runs < 12 {
		t.Errorf("%v codec runs recorded, want at least 12 (four files, three codings)", runs)
	}
}

// TestCompressOff: --compress=false serves identity without Vary and runs
// no compression threads.
func TestCompressOff(t *testing.T) {
	noLeaks(t)
	root, small, _ := compressRoot(t)
	p, base := serveCompress(t, root, "--compress=false")
	r := fetch(t, "GET", base+"/small.js", "Accept-Encoding: gzip, br, zstd")
	if r.header.Get("Content-Encoding") != "" || r.header.Get("Vary") != "" || !bytes.Equal(r.body, small) {
		t.Errorf("--compress=false: Content-Encoding %q Vary %q", r.header.Get("Content-Encoding"), r.header.Get("Vary"))
	}
	if fams := scrape(t, adminURL(t, p)); fams["epfs_compress_thread_id"] != nil {
		t.Errorf("--compress=false: compression threads on /metrics")
	}
}

// TestCompressFlags: a bad compression flag is one clear line and exit 2.
func TestCompressFlags(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--compress-gzip-level", "10"}, "epfs: --compress-gzip-level 10: want 1 to 9"},
		{[]string{"--compress-gzip-level", "0"}, "epfs: --compress-gzip-level 0: want 1 to 9"},
		{[]string{"--compress-brotli-level", "12"}, "epfs: --compress-brotli-level 12: want 0 to 11"},
		{[]string{"--compress-brotli-level", "-1"}, "epfs: --compress-brotli-level -1: want 0 to 11"},
		{[]string{"--compress-zstd-level", "0"}, "epfs: --compress-zstd-level 0: want 1 to 22"},
		{[]string{"--compress-zstd-level", "23"}, "epfs: --compress-zstd-level 23: want 1 to 22"},
		{[]string{"--compress-threads", "0"}, "epfs: --compress-threads 0: want 1 to 64"},
		{[]string{"--compress-min", "0"}, "epfs: --compress-min 0: want a size in bytes, at least 1"},
		{[]string{"--compress-max", "100"}, "epfs: --compress-max 100: want at least --compress-min"},
		{[]string{"--compress-gzip-level", "x"}, "--compress-gzip-level"},
	} {
		code, out := runEpfs(t, append([]string{"serve", "--listen", "127.0.0.1:0", root}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line with %q", tc.args, code, out, tc.want)
		}
	}
}

// TestRulesFollowTheResource: a variant (computed or a sidecar), its 304,
// and a listing's JSON form are the same resource at the same path as the
// identity or the page, so they carry the same Cache-Control rule and the
// same path-scoped fields. Before, each representation's entry was asked
// for its own fields and had none: a br response of a hashed asset lost its
// year of caching and its CORS field.
func TestRulesFollowTheResource(t *testing.T) {
	root, _, _ := compressRoot(t)
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	const year = "public, max-age=31536000, immutable"
	_, base := serveCompress(t, root, "--precompressed", "--autoindex",
		"--cache-control", "/*.js="+year, "--cache-control", "no-cache",
		"--header", "/*.js=Access-Control-Allow-Origin: *")
	check := func(what string, r reply, cc string, cors bool) {
		t.Helper()
		if got := r.header.Get("Cache-Control"); got != cc {
			t.Errorf("%s: %d, Cache-Control %q, want %q", what, r.status, got, cc)
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); (got == "*") != cors {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want it %v", what, got, cors)
		}
	}
	check("identity", fetch(t, "GET", base+"/small.js"), year, true)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		r := awaitVariant(t, base+"/small.js", enc)
		check("computed "+enc, r, year, true)
		check("computed "+enc+" 304", fetch(t, "GET", base+"/small.js", "Accept-Encoding: "+enc, "If-None-Match: "+r.header.Get("ETag")), year, true)
	}
	r := fetch(t, "GET", base+"/sidecar.js", "Accept-Encoding: br")
	if r.header.Get("Content-Encoding") != "br" || string(r.body) != "BROTLI-SIDECAR" {
		t.Fatalf("sidecar: %q, %q", r.header.Get("Content-Encoding"), r.body)
	}
	check("sidecar br", r, year, true)
	page := fetch(t, "GET", base+"/dir/", "Accept: text/html")
	doc := fetch(t, "GET", base+"/dir/", "Accept: application/json")
	if page.header.Get("Content-Type") == doc.header.Get("Content-Type") {
		t.Fatalf("listing: both forms %q", page.header.Get("Content-Type"))
	}
	check("listing page", page, "no-cache", false)
	check("listing JSON", doc, "no-cache", false)
}
