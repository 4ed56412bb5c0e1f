package tests

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture is a served root made for one test, with an outside directory
// beside it that must never be reachable.
type fixture struct {
	root    string
	outside string
	big     []byte // content of /big.bin
}

const bigSize = 8 << 20

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{root: filepath.Join(dir, "root"), outside: filepath.Join(dir, "outside")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(f.root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(content), 0o644))
	}
	must(os.MkdirAll(f.outside, 0o755))
	must(os.WriteFile(filepath.Join(f.outside, "secret.txt"), []byte("TOP SECRET\n"), 0o644))
	write("index.html", "<!doctype html><title>home</title>\n")
	write("hello.txt", "hello, world\n")
	write("style.css", "body{}\n")
	write("dir/index.html", "<p>dir index</p>\n")
	write("dir/file.txt", "in dir\n")
	write("list/a.txt", "a\n")
	write("list/<script>x</script>.txt", "xss\n")
	write(".hidden/secret.txt", "hidden\n")
	write(".env", "PASSWORD=1\n")
	write("app/index.html", "<p>spa</p>\n")
	write("compressed.js", strings.Repeat("console.log(1);\n", 100))
	write("compressed.js.gz", "GZIPPED-BYTES")
	write("compressed.js.br", "BROTLI-BYTES")
	r := rand.New(rand.NewPCG(1, 2))
	f.big = make([]byte, bigSize)
	for i := range f.big {
		f.big[i] = byte(r.Uint32())
	}
	must(os.WriteFile(filepath.Join(f.root, "big.bin"), f.big, 0o644))
	must(os.Symlink("../outside/secret.txt", filepath.Join(f.root, "escape.txt")))
	must(os.Symlink(filepath.Join(f.outside, "secret.txt"), filepath.Join(f.root, "absolute.txt")))
	must(os.Symlink("hello.txt", filepath.Join(f.root, "link.txt")))
	// The precompressed files must not be older than the original.
	now := time.Now()
	for _, n := range []string{"compressed.js.gz", "compressed.js.br"} {
		must(os.Chtimes(filepath.Join(f.root, n), now, now.Add(time.Second)))
	}
	return f
}

// serve starts `epfs serve` on the fixture with the access log off unless
// args turn it on, and returns the process and its base URL.
func serve(t testing.TB, f *fixture, args ...string) (*proc, string) {
	t.Helper()
	base := []string{"serve", "--root", f.root, "--listen", "127.0.0.1:0", "--loops", "2", "--access-log", "off"}
	p := startEpfs(t, "listening", append(base, args...)...)
	addr := strings.Split(p.addr, ",")[0]
	return p, "http://" + addr
}

// raw sends req on a fresh connection and returns everything the server
// sent until it closed the connection or went quiet for a second.
func raw(t testing.TB, addr, req string) string {
	t.Helper()
	c := sendOn(t, addr, req, 10*time.Second)
	defer c.Close()
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String()
}

// readResponses parses n responses from r.
func readResponses(t testing.TB, r *bufio.Reader, method string, n int) []*http.Response {
	t.Helper()
	var rs []*http.Response
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", i, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		rs = append(rs, resp)
	}
	return rs
}

func body(t testing.TB, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// listingDir fills dir, for a listing test: the directories dirs, the
// files (name: size in zero bytes), and a symlink "link" to linkTo.
func listingDir(t testing.TB, dir string, dirs []string, files map[string]int, linkTo string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, n := range files {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(linkTo, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
}
