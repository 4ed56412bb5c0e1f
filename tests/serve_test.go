package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Go's http.Client with keep-alive: every kind of response a browser meets.
func TestServeHTTPClient(t *testing.T) {
	f := newFixture(t)
	_, base := serve(t, f, "--cache-control", "public, max-age=60", "--server-header", "epfs-test")
	client := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	r := get("/hello.txt")
	if r.StatusCode != 200 || body(t, r) != "hello, world\n" {
		t.Fatalf("GET /hello.txt: %d", r.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":   "text/plain; charset=utf-8",
		"Content-Length": "13",
		"Accept-Ranges":  "bytes",
		"Cache-Control":  "public, max-age=60",
		"Server":         "epfs-test",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	etag, lastMod := r.Header.Get("ETag"), r.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || lastMod == "" || r.Header.Get("Date") == "" {
		t.Errorf("validators: ETag %q Last-Modified %q Date %q", etag, lastMod, r.Header.Get("Date"))
	}

	// The big file goes through the body pipe; bytes intact.
	r = get("/big.bin")
	if b, _ := io.ReadAll(r.Body); r.StatusCode != 200 || sum(b) != sum(f.big) {
		t.Fatalf("big.bin: status %d, %d bytes, checksum mismatch", r.StatusCode, len(b))
	}

	// Conditionals (RFC 9110 §13).
	if r := get("/hello.txt", "If-None-Match", etag); r.StatusCode != 304 || r.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}
	if r := get("/hello.txt", "If-Modified-Since", lastMod); r.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", r.StatusCode)
	}
	if r := get("/hello.txt", "If-Match", `"nope"`); r.StatusCode != 412 {
		t.Errorf("If-Match mismatch: %d", r.StatusCode)
	}

	// Ranges (RFC 9110 §14).
	r = get("/big.bin", "Range", "bytes=1000-1999")
	if b := body(t, r); r.StatusCode != 206 || b != string(f.big[1000:2000]) || r.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", bigSize) {
		t.Errorf("range: %d %q", r.StatusCode, r.Header.Get("Content-Range"))
	}
	r = get("/big.bin", "Range", "bytes=-10")
	if b := body(t, r); r.StatusCode != 206 || b != string(f.big[bigSize-10:]) {
		t.Errorf("suffix range: %d", r.StatusCode)
	}
	r = get("/hello.txt", "Range", "bytes=100-200")
	if r.StatusCode != 416 || r.Header.Get("Content-Range") != "bytes */13" {
		t.Errorf("unsatisfiable range: %d %q", r.StatusCode, r.Header.Get("Content-Range"))
	}
	r = get("/hello.txt", "Range", "bytes=0-1,5-6")
	if b := body(t, r); r.StatusCode != 206 || !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/byteranges; boundary=") || !strings.Contains(b, "he") {
		t.Errorf("multipart range: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	r = get("/hello.txt", "Range", "bytes=0-1", "If-Range", `"stale"`)
	if r.StatusCode != 200 {
		t.Errorf("If-Range mismatch must send the whole file: %d", r.StatusCode)
	}

	// HEAD: GET's fields, no body.
	hr, err := client.Head(base + "/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != 200 || hr.Header.Get("Content-Length") != "13" || hr.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %v", hr.StatusCode, hr.Header)
	}

	// Directories: index, redirect with the query kept, 404, dotfiles.
	if r := get("/dir/"); r.StatusCode != 200 || body(t, r) != "<p>dir index</p>\n" {
		t.Errorf("/dir/: %d", r.StatusCode)
	}
	if r := get("/dir?x=1"); r.StatusCode != 301 || r.Header.Get("Location") != "/dir/?x=1" {
		t.Errorf("/dir?x=1: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	for _, p := range []string{"/nope.txt", "/.env", "/.hidden/secret.txt"} {
		if r := get(p); r.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, r.StatusCode)
		}
	}
	if r := get("/list/"); r.StatusCode != 403 {
		t.Errorf("/list/ without --autoindex: %d, want 403", r.StatusCode)
	}
	if r := get("/link.txt"); r.StatusCode != 200 || body(t, r) != "hello, world\n" {
		t.Errorf("relative symlink inside the root: %d", r.StatusCode)
	}
}

// Traversal and symlinks out of the root never reach the outside file.
func TestServeTraversal(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f)
	for _, target := range []string{
		"/../outside/secret.txt",
		"/%2e%2e/outside/secret.txt",
		"/dir/../../outside/secret.txt",
		"/dir/%2E%2E/%2e%2e/outside/secret.txt",
		"/..%2foutside/secret.txt",
		"/escape.txt",
		"/absolute.txt",
		"/hello.txt%00.html",
		"http://x/../outside/secret.txt",
	} {
		out := raw(t, strings.Split(p.addr, ",")[0], "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if strings.Contains(out, "TOP SECRET") {
			t.Fatalf("%s served a file outside the root", target)
		}
		status := strings.SplitN(out, " ", 3)
		if len(status) < 2 || (status[1] != "400" && status[1] != "403" && status[1] != "404") {
			t.Errorf("%s: %q, want 400, 403 or 404", target, firstLine(out))
		}
	}
}

// Malformed requests get their RFC status and the connection closes;
// smuggling attempts never yield a second response from body bytes.
func TestServeMalformed(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f, "--max-header-bytes", "2048")
	addr := strings.Split(p.addr, ",")[0]
	for _, tc := range []struct {
		name, req, status string
	}{
		// Requests the parser refuses: the stream cannot be trusted, so
		// the answer carries Connection: close.
		{"no host", "GET / HTTP/1.1\r\n\r\n", "400"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", "400"},
		{"bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n", "400"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"},
		{"garbage version", "GET / HTTX/1.1\r\nHost: x\r\n\r\n", "400"},
		{"long target", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
		{"big head", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("b", 3000) + "\r\n\r\n", "431"},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"two CLs", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
		{"bad CL", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", "400"},
		{"TE not chunked", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "400"},
		// A target DecodePath refuses is a refused request too (issue 17).
		{"encoded slash", "GET /dir%2ffile.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := raw(t, addr, tc.req)
			if got := firstLine(out); !strings.HasPrefix(got, "HTTP/1.1 "+tc.status+" ") {
				t.Fatalf("got %q, want status %s", got, tc.status)
			}
			if strings.Count(out, "HTTP/1.1 ") != 1 {
				t.Fatalf("more than one response: %q", out)
			}
			if !strings.Contains(out, "Connection: close") {
				t.Errorf("error response without Connection: close: %q", out)
			}
		})
	}
	// Well-framed requests the server will not serve: the connection stays
	// usable, and the next request on it is answered.
	for _, tc := range []struct {
		name, req, status string
	}{
		{"unknown method", "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", "501"},
		{"known method", "DELETE /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := raw(t, addr, tc.req+"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if got := firstLine(out); !strings.HasPrefix(got, "HTTP/1.1 "+tc.status+" ") {
				t.Fatalf("got %q, want status %s", got, tc.status)
			}
			if !strings.HasSuffix(out, "hello, world\n") {
				t.Fatalf("next request on the connection not answered: %q", out)
			}
		})
	}
	// A body followed by a pipelined request: the body is read and
	// dropped, never parsed as a request; the real second request is served.
	out := raw(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\n"+
		"GET /.env HTTP/1.1\r\nHost: smuggled\r\n\r\n"+
		"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if strings.Count(out, "HTTP/1.1 200 ") != 2 || strings.Contains(out, "HTTP/1.1 404 ") || !strings.Contains(out, "body{}") {
		t.Errorf("body + pipelined request: %q", out)
	}
}

// Pipelining, HTTP/1.0, byte-at-a-time, and a half-close after the last
// request.
func TestServeRawSockets(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f)
	addr := strings.Split(p.addr, ",")[0]

	// Three pipelined requests in one write: three responses, in order.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	// Half-close: every request already sent must still be answered.
	c.(*net.TCPConn).CloseWrite()
	rs := readResponses(t, bufio.NewReader(c), "GET", 3)
	if body(t, rs[0]) != "hello, world\n" || body(t, rs[1]) != "body{}\n" || sum([]byte(body(t, rs[2]))) != sum(f.big) {
		t.Fatal("pipelined responses out of order or damaged")
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the last response to a half-closed client: %v, want EOF", err)
	}
	c.Close()

	// HTTP/1.0 without keep-alive: response, then close.
	out := raw(t, addr, "GET /hello.txt HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.HasSuffix(out, "hello, world\n") {
		t.Errorf("HTTP/1.0: %q", out)
	}
	// HTTP/1.0 with keep-alive: two requests on one connection.
	out = raw(t, addr, "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /style.css HTTP/1.0\r\n\r\n")
	if strings.Count(out, "HTTP/1.1 200 ") != 2 {
		t.Errorf("HTTP/1.0 keep-alive: %q", out)
	}

	// One byte at a time.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET /hello.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
	for i := 0; i < len(req); i++ {
		c.Write([]byte{req[i]})
		time.Sleep(time.Millisecond)
	}
	rs = readResponses(t, bufio.NewReader(c), "GET", 1)
	if rs[0].StatusCode != 200 || body(t, rs[0]) != "hello, world\n" {
		t.Fatalf("byte-at-a-time: %d", rs[0].StatusCode)
	}
}

// 10,000 pipelined requests on one connection, written while responses are
// read: all answered, in order.
func TestServeTenThousandPipelined(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f)
	c, err := net.Dial("tcp", strings.Split(p.addr, ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	const n = 10000
	go func() {
		w := bufio.NewWriterSize(c, 64<<10)
		for i := 0; i < n; i++ {
			path := "/hello.txt"
			if i%2 == 1 {
				path = "/style.css"
			}
			fmt.Fprintf(w, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		}
		w.Flush()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		want := "hello, world\n"
		if i%2 == 1 {
			want = "body{}\n"
		}
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("response %d: %d %q", i, resp.StatusCode, b)
		}
	}
}

// curl, the client operators use.
func TestServeCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed: .ci/run installs it")
	}
	f := newFixture(t)
	_, base := serve(t, f, "--precompressed")
	out, err := exec.Command(curl, "-sS", "--max-time", "20", base+"/hello.txt").Output()
	if err != nil || string(out) != "hello, world\n" {
		t.Fatalf("curl: %v %q", err, out)
	}
	out, err = exec.Command(curl, "-sS", "--max-time", "20", "-r", "0-4", base+"/big.bin").Output()
	if err != nil || !bytes.Equal(out, f.big[:5]) {
		t.Fatalf("curl range: %v %d bytes", err, len(out))
	}
	hdr, err := exec.Command(curl, "-sS", "--max-time", "20", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip, br", base+"/compressed.js").Output()
	if err != nil {
		t.Fatal(err)
	}
	h := strings.ToLower(string(hdr))
	if !strings.Contains(h, "content-encoding: br") || !strings.Contains(h, "vary: accept-encoding") {
		t.Errorf("precompressed: %s", hdr)
	}
	// Two URLs on one curl command reuse the connection.
	out, err = exec.Command(curl, "-sS", "--max-time", "20", base+"/hello.txt", base+"/style.css").CombinedOutput()
	if err != nil || string(out) != "hello, world\nbody{}\n" {
		t.Fatalf("curl keep-alive: %v %q", err, out)
	}
}

// Flags that change what is served: autoindex, dotfiles, fallback, index,
// server header off, the transmit strategies.
func TestServeFlags(t *testing.T) {
	f := newFixture(t)
	_, base := serve(t, f, "--autoindex", "--dotfiles", "allow", "--fallback", "/app/index.html", "--server-header", "", "--index", "index.html")
	get := func(path string) (*http.Response, string) {
		t.Helper()
		r, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		return r, body(t, r)
	}
	r, b := get("/list/")
	if r.StatusCode != 200 || !strings.Contains(b, "a.txt") || strings.Contains(b, "<script>x") || !strings.Contains(b, "&lt;script&gt;") {
		t.Errorf("autoindex: %d %q", r.StatusCode, b)
	}
	if r, b := get("/.env"); r.StatusCode != 200 || b != "PASSWORD=1\n" {
		t.Errorf("--dotfiles allow: %d", r.StatusCode)
	}
	if r, b := get("/some/client/route"); r.StatusCode != 200 || b != "<p>spa</p>\n" {
		t.Errorf("--fallback: %d %q", r.StatusCode, b)
	}
	if r.Header.Get("Server") != "" {
		t.Errorf("--server-header '' still sends Server: %q", r.Header.Get("Server"))
	}
	for _, strategy := range []string{"sendfile", "splice", "copy"} {
		t.Run(strategy, func(t *testing.T) {
			_, base := serve(t, f, "--transmit", strategy)
			r, err := http.Get(base + "/big.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			if sum(b) != sum(f.big) {
				t.Fatalf("%s: checksum mismatch (%d bytes)", strategy, len(b))
			}
		})
	}
}

// Timeouts and --max-conns.
func TestServeTimeoutsAndLimits(t *testing.T) {
	f := newFixture(t)
	const timeout = 300 * time.Millisecond
	p, _ := serve(t, f, "--header-timeout", timeout.String(), "--idle-timeout", timeout.String(), "--max-conns", "4", "--loops", "1")
	addr := strings.Split(p.addr, ",")[0]
	// closed reports whether the server closed c; the deadline is a hang
	// guard, not a bound on the timers.
	closed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(timeout + waitGuard))
		_, err := io.ReadAll(c)
		return err == nil // EOF from the server, not our deadline
	}
	// Header timeout: a partial head is cut off.
	c1, _ := net.Dial("tcp", addr)
	defer c1.Close()
	io.WriteString(c1, "GET / HTTP/1.1\r\nHost:")
	// Idle timeout: a connection that says nothing is closed.
	c2, _ := net.Dial("tcp", addr)
	defer c2.Close()
	if !closed(c1) || !closed(c2) {
		t.Fatal("header or idle timeout did not close the connection")
	}
	// --max-conns 4: the fifth concurrent connection gets 503.
	var held []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(50 * time.Millisecond) // let the loop accept them
	out := raw(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 503 ") {
		t.Fatalf("over --max-conns: %q", firstLine(out))
	}
	for _, c := range held {
		c.Close()
	}
}

// The access log: one JSON line per response, in the file named, reopened
// on SIGHUP.
func TestServeAccessLog(t *testing.T) {
	f := newFixture(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	p, base := serve(t, f, "--access-log", logPath, "--log-format", "json", "--log-level", "info")
	for _, path := range []string{"/hello.txt", "/nope", "/big.bin"} {
		r, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	// Lines reach the file within about a second (each loop hands its
	// buffer to the writer a second after its first line, by a one-shot
	// timer, so a loop never waits on the disk).
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Rotate: move the file away, SIGHUP; later lines go to a new file.
	rotated := logPath + ".1"
	os.Rename(logPath, rotated)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if len(lines) != 3 {
		t.Fatalf("access log has %d lines, want 3: %q", len(lines), lines)
	}
	for i, want := range []string{`"path":"/hello.txt"`, `"status":404`, `"body":8388608`} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `"method":"GET"`) || !strings.Contains(lines[i], `"end":"complete"`) {
			t.Errorf("line %d: %s (want %s)", i, lines[i], want)
		}
	}
	// A duration says its unit in its name.
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if d, ok := m["dur_ms"].(float64); !ok || d < 0 || m["dur"] != nil {
			t.Errorf("line %d: want a dur_ms number and no dur: %s", i, l)
		}
	}
	settleLog := func() bool {
		r, err := http.Get(base + "/style.css")
		if err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "/style.css")
	}
	deadline = time.Now().Add(10 * time.Second)
	for !settleLog() {
		if time.Now().After(deadline) {
			t.Fatal("hang guard: no line in the reopened access log after SIGHUP")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Shutdown with a large transfer in flight lets it complete; new
// connections are refused; exit 0 with a summary line.
func TestServeGracefulShutdown(t *testing.T) {
	f := newFixture(t)
	p, base := serve(t, f, "--shutdown-timeout", "30s")
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Read a little, so the transfer is surely in flight and blocked.
	first := make([]byte, 1024)
	io.ReadFull(resp.Body, first)
	time.Sleep(100 * time.Millisecond)
	var exit int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); exit = p.stop(t, syscall.SIGTERM) }()
	time.Sleep(200 * time.Millisecond)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("transfer in flight cut: %v", err)
	}
	if sum(append(first, rest...)) != sum(f.big) {
		t.Fatal("transfer in flight damaged")
	}
	wg.Wait()
	if exit != 0 {
		t.Fatalf("exit code %d", exit)
	}
	logs := p.logLines()
	if last := logs[len(logs)-1]; last["message"] != "stopped" || last["requests"] == nil {
		t.Fatalf("last line %v, want the summary", last)
	}
}

// Start-up errors of `epfs serve`: one line naming the flag, the value and
// what is expected; exit 2 for a mistake in the command line, 1 for a
// failure at run time (a missing root or file, a port in use).
func TestServeStartupErrors(t *testing.T) {
	f := newFixture(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notDir := filepath.Join(f.root, "hello.txt")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--root", "/no/such/dir"}, 1, "epfs: --root /no/such/dir: no such directory"},
		{[]string{"--root", notDir}, 1, "epfs: --root " + notDir + ": not a directory"},
		{[]string{"--listen", busy.Addr().String()}, 1, "address already in use"},
		{[]string{"--header-timeout", "soon"}, 2, "epfs: --header-timeout soon: want a duration such as 500ms, 10s or 1m30s (see 'epfs serve --help')"},
		{[]string{"--idle-timeout", "-1s"}, 2, "epfs: --idle-timeout -1s: want a positive duration"},
		{[]string{"--dotfiles", "maybe"}, 2, "epfs: --dotfiles maybe: want allow or deny"},
		{[]string{"--transmit", "carrier-pigeon"}, 2, "epfs: --transmit carrier-pigeon: want sendfile, splice or copy"},
		{[]string{"--max-conns", "0"}, 2, "epfs: --max-conns 0: want a positive number"},
		{[]string{"--admin-max-conns", "0"}, 2, "epfs: --admin-max-conns 0: want a positive number"},
		{[]string{"--admin-max-conns", "-3"}, 2, "epfs: --admin-max-conns -3: want a positive number"},
		{[]string{"--admin-idle-timeout", "0"}, 2, "epfs: --admin-idle-timeout 0s: want a positive duration"},
		{[]string{"--admin-idle-timeout", "-1s"}, 2, "epfs: --admin-idle-timeout -1s: want a positive duration"},
		{[]string{"--access-log", "/no/such/dir/log"}, 1, "epfs: --access-log /no/such/dir/log: no such file or directory"},
		{[]string{"--fallback", "index.html"}, 2, "epfs: --fallback index.html: want a URL path starting with /"},
		{[]string{"--fallback", "/missing.html"}, 1, "epfs: --fallback /missing.html: no such file in --root"},
		{[]string{"--index", ""}, 2, `epfs: --index "": want a file name such as index.html`},
		{[]string{"--index", "a/b.html"}, 2, "epfs: --index a/b.html: want a file name, not a path"},
		{[]string{"--listen", "8080"}, 2, "epfs: --listen 8080: want host:port, [::]:port or unix:/path (did you mean :8080?)"},
		{[]string{"--listen", "http://127.0.0.1:8080"}, 2, "epfs: --listen http://127.0.0.1:8080: want host:port, [::]:port or unix:/path, not a URL (did you mean 127.0.0.1:8080?)"},
		{[]string{"--listen", "unix:"}, 2, "epfs: --listen unix:: want unix:/path/to/socket"},
		{[]string{"--loops"}, 2, "epfs: --loops: needs a value (want a whole number)"},
		{[]string{"--pprof"}, 2, "epfs: --pprof: needs --admin-listen"},
		{[]string{"--cache-control", "a\x01b"}, 2, `epfs: --cache-control "a\x01b": want a field value without control characters`},
		{[]string{"--bogus"}, 2, "epfs: --bogus: unknown flag (see 'epfs serve --help')"},
		{[]string{"--mime-type", "vtt"}, 2, "epfs: --mime-type vtt: want EXT=TYPE, such as vtt=text/vtt"},
		{[]string{"--mime-type", "vtt=text"}, 2, "epfs: --mime-type vtt=text: want EXT=TYPE, such as vtt=text/vtt (not a media type: no type/subtype)"},
		{[]string{"--mime-type", "tar.gz=application/gzip"}, 2, "epfs: --mime-type tar.gz=application/gzip: want EXT=TYPE"},
		{[]string{"--mime-type", "x=text/plain\r\nSet-Cookie: a=b"}, 2, `epfs: --mime-type "x=text/plain\r\nSet-Cookie: a=b": want EXT=TYPE, such as vtt=text/vtt (control character '\r' in a media type)`},
		{[]string{"--mime-type", "x=a/b,X=c/d"}, 2, "epfs: --mime-type X=c/d: want one type per extension, and x already has a/b"},
		{[]string{"--mime-types-file", "/no/such/mime.types"}, 1, "epfs: --mime-types-file /no/such/mime.types: no such file or directory"},
	} {
		args := append([]string{"serve", "--root", f.root, "--listen", "127.0.0.1:0"}, tc.args...)
		code, out := runEpfs(t, args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, out, tc.code, tc.want)
		}
		if strings.Contains(out, "goroutine ") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%v: want one line, got %q", tc.args, out)
		}
	}
}

// Several --listen addresses at once: IPv4, IPv6 and a Unix socket, each
// reported with its real address; OPTIONS in both forms.
func TestServeListenersAndOptions(t *testing.T) {
	f := newFixture(t)
	sock := filepath.Join(t.TempDir(), "epfs.sock")
	p := startEpfs(t, "listening", "serve", "--root", f.root, "--access-log", "off",
		"--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--listen", "unix:"+sock)
	addrs := strings.Split(p.addr, ",")
	if len(addrs) != 3 || !strings.HasPrefix(addrs[1], "[::1]:") || addrs[2] != "unix:"+sock {
		t.Fatalf("start-up line addresses: %q", addrs)
	}
	for _, a := range addrs[:2] {
		out := raw(t, a, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if !strings.HasSuffix(out, "hello, world\n") {
			t.Errorf("%s: %q", a, firstLine(out))
		}
	}
	uc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	r, err := uc.Get("http://unix/style.css")
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, r); r.StatusCode != 200 || b != "body{}\n" {
		t.Errorf("unix socket: %d %q", r.StatusCode, b)
	}
	r.Body.Close()
	out := raw(t, addrs[0], "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if strings.Count(out, "HTTP/1.1 204 ") != 2 || !strings.Contains(out, "Allow: GET, HEAD, OPTIONS") {
		t.Errorf("OPTIONS: %q", out)
	}
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left behind after shutdown: %v", err)
	}
}

// --write-timeout: a client that stops reading a large response is cut off
// once the transfer has made no progress for that long.
func TestServeWriteTimeout(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f, "--write-timeout", "300ms", "--loops", "1")
	// A small receive buffer set before connecting, so the window the
	// server sees stays small and the transfer stalls well short of 8 MiB.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", strings.Split(p.addr, ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(2 * time.Second) // read nothing: the server's sends stall
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("reading after the stall: %v (the connection was not closed)", err)
	}
	if n >= bigSize {
		t.Fatalf("received %d bytes: the whole file, the stalled transfer was not cut", n)
	}
}

// The observatory from outside: /metrics parses as Prometheus text and its
// counters move as requests are served; SIGUSR1 logs a counter summary;
// --trace tells one request's story syscall by syscall.
func TestServeMetricsAndTrace(t *testing.T) {
	f := newFixture(t)
	p, base := serve(t, f, "--admin-listen", "127.0.0.1:0", "--pprof", "--loops", "1")
	admin := adminURL(t, p)
	before := scrape(t, admin)
	for i := 0; i < 5; i++ {
		r, err := http.Get(base + "/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	r, _ := http.Get(base + "/nope")
	r.Body.Close()
	wants := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"epfs_requests_total", nil, 6},
		{"epfs_responses_total", []string{"code", "2xx"}, 5},
		{"epfs_responses_total", []string{"code", "4xx"}, 1},
		{"epfs_syscalls_total", []string{"syscall", "sendfile"}, 5},
		{"epfs_bytes_total", []string{"direction", "sent"}, 5 * bigSize},
		{"epfs_transmit_total", []string{"tally", "responses"}, 6},
	}
	// The loop counts a response once its last byte is written, which the
	// client may see first: scrape until the counts are in (a hang guard).
	var after map[string]*dto.MetricFamily
	short := func() (msgs []string) {
		for _, c := range wants {
			if d := metric(after, c.name, c.labels...) - metric(before, c.name, c.labels...); d < c.min {
				msgs = append(msgs, fmt.Sprintf("%s%v moved by %v, want at least %v", c.name, c.labels, d, c.min))
			}
		}
		return msgs
	}
	for deadline := time.Now().Add(waitGuard); ; time.Sleep(20 * time.Millisecond) {
		after = scrape(t, admin)
		if len(short()) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range short() {
		t.Error(m)
	}
	// A Step writes at most the 2 MiB fairness budget, so each 8 MiB body
	// took at least 8 Steps, all but the last ending in a yield or on a
	// full socket.
	moved := func(tally string) float64 {
		return metric(after, "epfs_transmit_total", "tally", tally) - metric(before, "epfs_transmit_total", "tally", tally)
	}
	if got, want := moved("yields")+moved("would_blocks"), float64(5*(bigSize/(2<<20)-1)); got < want {
		t.Errorf("epfs_transmit_total: %v yields and would_blocks for 5 bodies of %d bytes, want at least %v", got, bigSize, want)
	}
	if _, ok := after["epfs_epoll_wait_events"]; !ok {
		t.Error("no epoll_wait histogram")
	}
	// The loop thread has slept at least once (a blocking epoll_wait is a
	// voluntary switch), and both kinds are exported.
	if cs := after["epfs_loop_context_switches_total"]; len(cs.GetMetric()) != 2 {
		t.Errorf("epfs_loop_context_switches_total: %v, want one series per kind for the one loop", cs)
	} else if metric(after, "epfs_loop_context_switches_total", "loop", "0", "kind", "voluntary") < 1 {
		t.Error("the loop thread has no voluntary context switch")
	}
	if r, err := http.Get(strings.TrimSuffix(admin, "/metrics") + "/debug/pprof/"); err != nil || r.StatusCode != 200 {
		t.Errorf("--pprof: %v", err)
	} else {
		r.Body.Close()
	}

	p.cmd.Process.Signal(syscall.SIGUSR1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := false
		for _, l := range p.logLines() {
			if l["message"] == "counters" && l["sendfile"] != nil && l["requests"] != nil {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hang guard: no counter summary after SIGUSR1")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// --trace: one connection, one request, every syscall in order.
	tp, tbase := serve(t, f, "--trace", "--loops", "1")
	r, err := http.Get(tbase + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	var story []string
	deadline = time.Now().Add(10 * time.Second)
	for {
		story = story[:0]
		for _, l := range tp.logLines() {
			if l["message"] == "syscall" && l["syscall"] != "epoll_wait" {
				story = append(story, l["syscall"].(string))
			}
		}
		if len(story) > 0 && story[len(story)-1] == "close" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Trace lines are at trace level, and name an errno as the kernel
	// does: the accept4 that drains the queue ends with EAGAIN.
	eagain := false
	for _, l := range tp.logLines() {
		if l["message"] != "syscall" {
			continue
		}
		if l["level"] != "trace" {
			t.Errorf("trace line at level %v: %v", l["level"], l)
			break
		}
		if e, ok := l["errno"].(string); ok {
			if !strings.HasPrefix(e, "E") || strings.Contains(e, " ") {
				t.Errorf("errno %q: want the kernel's name, such as EAGAIN", e)
			}
			eagain = eagain || e == "EAGAIN"
		}
	}
	if !eagain {
		t.Error("no trace line with errno EAGAIN")
	}
	s := strings.Join(story, " ")
	// Before the first accept4 come the start-up registrations.
	if i := strings.Index(s, "accept4"); i > 0 {
		s = s[i:]
	}
	t.Logf("trace: %s", s)
	// accept4 first, then the connection's one epoll_ctl; then the request read, the lookup, the head and the
	// body by sendfile; the client's close seen by read; close last.
	for _, want := range []string{"accept4", "read", "openat2", "fstat", "sendfile", "close"} {
		if !strings.Contains(s, want) {
			t.Errorf("trace lacks %s: %s", want, s)
		}
	}
	if !strings.HasPrefix(s, "accept4") || !strings.HasSuffix(s, "close") ||
		strings.Index(s, "read") > strings.Index(s, "sendfile") {
		t.Errorf("trace out of order: %s", s)
	}
}

// Finding 8 of issue 17: a higher minor version of HTTP/1 is answered as
// HTTP/1.1 (RFC 9110 §2.5, RFC 9112 §2.3), with 1.1's persistence, and the
// answer carries the server's own version; another major version is 505.
func TestHigherMinorVersion(t *testing.T) {
	f := newFixture(t)
	p, _ := serve(t, f)
	addr := strings.Split(p.addr, ",")[0]
	for _, v := range []string{"HTTP/1.2", "HTTP/1.9"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang guard
		// Two requests on one connection: the first kept it open, as an
		// HTTP/1.1 request without Connection: close does.
		io.WriteString(c, "GET /hello.txt "+v+"\r\nHost: x\r\n\r\nGET /style.css "+v+"\r\nHost: x\r\nConnection: close\r\n\r\n")
		rs := readResponses(t, bufio.NewReader(c), "GET", 2)
		c.Close()
		for i, want := range []string{"hello, world\n", "body{}\n"} {
			if rs[i].StatusCode != 200 || rs[i].Proto != "HTTP/1.1" || body(t, rs[i]) != want {
				t.Errorf("%s request %d: %s %d, want HTTP/1.1 200 with %q", v, i, rs[i].Proto, rs[i].StatusCode, want)
			}
		}
		if rs[0].Close {
			t.Errorf("%s: the first answer closes the connection", v)
		}
		// An HTTP/1.1 rule applies: no Host, 400.
		if out := raw(t, addr, "GET /hello.txt "+v+"\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Errorf("%s without Host: %q, want 400", v, firstLine(out))
		}
	}
	for _, v := range []string{"HTTP/2.0", "HTTP/3.1", "HTTP/0.9"} {
		if out := raw(t, addr, "GET /hello.txt "+v+"\r\nHost: x\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 505 ") {
			t.Errorf("%s: %q, want 505", v, firstLine(out))
		}
	}
}
