//go:build linux

package server

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/epfs/epfs/httpparse"
)

// FuzzServe sends arbitrary bytes to one in-process server, then half-closes,
// and checks that the server answers within a deadline an order of magnitude
// above what any input needs (it must close after our end of stream, since a
// request can no longer complete), that every byte it sent parses as a
// sequence of HTTP/1.1 responses with net/http's ReadResponse, and that it
// still answers a fresh request with 200 afterwards. A panic on the loop
// kills the process, which the fuzzer reports. Seeds are in
// testdata/fuzz/FuzzServe: valid, pipelined, with bodies, and malformed.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /large.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /small.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9,20-29\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbodyGET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET /hello.txt HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET http://t/hello.txt?q HTTP/1.1\r\nHost: u\r\n\r\n",
		"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"G\x00T / HTTP/1.1\r\n\r\n",
		"\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /hello.txt HTTP/1.1\r\n\r\n",
		"GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: *\r\n\r\nGET /hello.txt HTTP/1.1\r\nHo",
	} {
		f.Add([]byte(s))
	}
	r := start(f, Config{Root: testRoot(f, false)})
	f.Fuzz(func(t *testing.T, in []byte) {
		exchange(t, r, in)
		if status, body := fresh(t, r); status != 200 || body != "hello, world\n" {
			t.Fatalf("after the input: %d %q, want 200", status, body)
		}
	})
}

// exchange sends in, half-closes, reads to EOF, parses what came back and
// returns it.
func exchange(t *testing.T, r *running, in []byte) []byte {
	c, err := net.Dial("tcp", r.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		c.Write(in) // fails once the server closes: fine
		c.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(c)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("no end of stream within 20 s after %d bytes of responses: the server hung", len(out))
	case errors.Is(err, syscall.ECONNRESET) && len(in) > lingerBytes:
		return out // the server stopped lingering with input left unread
	case err != nil:
		t.Fatalf("reading the responses: %v", err)
	}
	methods := requestMethods(in)
	br := bufio.NewReader(bytes.NewReader(out))
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err == io.EOF {
			return out
		}
		method := "GET"
		if i < len(methods) {
			method = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d does not parse: %v\nall responses: %q", i, err, out)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("response %d body: %v\nall responses: %q", i, err, out)
		}
		if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
			t.Fatalf("response %d is %s", i, resp.Proto)
		}
	}
}

// requestMethods lists the methods of the requests in, in order, as far as
// the server will answer them, so that the response to a HEAD is read
// without a body. It follows the server's reading: bodies up to maxDiscard
// are skipped, and reading stops after a request that closes the stream.
func requestMethods(in []byte) []string {
	var p httpparse.Parser
	var req httpparse.Request
	var methods []string
	for len(in) > 0 {
		n, err := p.Parse(in, &req)
		if err != nil {
			return methods
		}
		methods = append(methods, string(req.Method))
		in = in[n:]
		switch {
		case !req.KeepAlive, req.Framing == httpparse.BodyChunked,
			req.Framing == httpparse.BodyLength && (req.ContentLength > maxDiscard || req.Expect100):
			return methods
		case req.Framing == httpparse.BodyLength:
			in = in[min(int64(len(in)), req.ContentLength):]
		}
	}
	return methods
}

// fresh asks for /hello.txt on a new connection.
func fresh(t *testing.T, r *running) (int, string) {
	c, err := net.Dial("tcp", r.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// FuzzServeConfined is FuzzServe against a root with a sibling directory,
// "outside", whose files must never be served, and every kind of link out
// of the root that fsindex must refuse: relative and absolute symlinks to a
// file and to the directory, a link deep in a subdirectory, a chain of
// links, a dotfile link (dotfiles allowed), a precompressed variant and an
// index file that point out, and a fallback path that leads out. Listings,
// precompressed variants, dotfiles and the fallback are all on, so each of
// those paths to a file is open to the fuzzer. On top of FuzzServe's
// checks (responses parse, no hang, healthy after), no response may carry
// the outside files' token. Seeds are in testdata/fuzz/FuzzServeConfined.
func FuzzServeConfined(f *testing.F) {
	root, token := confinedRoot(f)
	r := start(f, Config{Root: root, Autoindex: true, AllowDotfiles: true, Precompressed: true,
		Fallback: "/out/secret.txt"})
	f.Fuzz(func(t *testing.T, in []byte) {
		if out := exchange(t, r, in); bytes.Contains(out, token) {
			t.Fatalf("a response carries a file from outside the root:\n%q", out)
		}
		if status, body := fresh(t, r); status != 200 || body != "hello, world\n" {
			t.Fatalf("after the input: %d %q, want 200", status, body)
		}
	})
}

// confinedRoot makes parent/root (testRoot's files) beside parent/outside,
// with links from the root to the outside, and returns the root and the
// token the outside files are made of: repeated, so that any leak of at
// least 2*len(token)-1 bytes of their content carries a whole one. The
// token holds a random nonce, so a response cannot contain it by echoing
// the fuzzer's input (a 301's Location does echo the path), and the file
// names stay fixed, so the seeds can name them.
func confinedRoot(t testing.TB) (string, []byte) {
	t.Helper()
	parent := t.TempDir()
	root, outside := filepath.Join(parent, "root"), filepath.Join(parent, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub"), filepath.Join(root, "index-out")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeRoot(t, root, false)
	nonce := make([]byte, 4)
	rand.Read(nonce)
	token := []byte("<outside-secret-" + hex.EncodeToString(nonce) + ">")
	secret := bytes.Repeat(token, 64)
	for _, name := range []string{"secret.txt", "secret.txt.gz", "index.html", ".hidden"} {
		if err := os.WriteFile(filepath.Join(outside, name), secret, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"escape.txt":           "../outside/secret.txt",
		"abs.txt":              filepath.Join(outside, "secret.txt"),
		"out":                  "../outside",
		"absdir":               outside,
		"sub/deep.txt":         "../../outside/secret.txt",
		"sub/up":               "..",
		"chain1":               "chain2",
		"chain2":               "sub/../../outside/secret.txt",
		".dot":                 "../outside/.hidden",
		"hello.txt.gz":         "../outside/secret.txt.gz",
		"index-out/index.html": "../../outside/index.html",
		"loop":                 "loop",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, token
}
