package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

// adminIdle is the admin idle timeout the admin tests run with; every
// wait for the server to act on it is derived from it.
const adminIdle = 500 * time.Millisecond

// adminRequest sends a keep-alive GET /metrics on c and reads the answer.
func adminRequest(c net.Conn, r *bufio.Reader, extra string) (*http.Response, error) {
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"+extra+"\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// Finding 4 of issue 17: the admin listener bounds its connections. An
// idle keep-alive connection is closed by the server after
// --admin-idle-timeout; no more than --admin-max-conns are open at once
// (one more is closed at once, unanswered, and a slot freed serves again);
// a request head over its limit is refused with 431.
func TestAdminListenerBounds(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const maxConns = 4
	// Two servers: one whose short idle timeout the first check waits
	// for, and one for the cap, whose held connections must not idle out
	// however slowly a busy machine runs the test.
	const capIdle = time.Minute
	start := func(idle time.Duration) (p *proc, port int, dial func() (net.Conn, *bufio.Reader)) {
		p, _ = serve(t, f, "--admin-listen", "127.0.0.1:0", "--admin-idle-timeout", idle.String(),
			"--admin-max-conns", strconv.Itoa(maxConns))
		u, err := url.Parse(adminURL(t, p))
		if err != nil {
			t.Fatal(err)
		}
		port, _ = strconv.Atoi(u.Port())
		return p, port, func() (net.Conn, *bufio.Reader) {
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			// A hang guard, ten times any wait the server should need.
			c.SetDeadline(time.Now().Add(20 * adminIdle))
			t.Cleanup(func() { c.Close() })
			return c, bufio.NewReader(c)
		}
	}
	_, _, dial := start(adminIdle)

	// Idle: one request, then nothing; the server closes within the
	// idle timeout (the guard gives it 20 times that).
	c, r := dial()
	if resp, err := adminRequest(c, r, ""); err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /metrics: %v %v", resp, err)
	}
	n, err := r.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("an idle admin connection still open %v after its request (idle timeout %v)", 20*adminIdle, adminIdle)
	}
	if n != 0 || err != io.EOF {
		t.Errorf("idle admin connection: read %d bytes, %v; want the server's close (EOF)", n, err)
	}
	c.Close()

	// The cap: maxConns held, each answered; one more is closed unanswered.
	p, port, dial := start(capIdle)
	var held []net.Conn
	for i := 0; i < maxConns; i++ {
		c, r := dial()
		if resp, err := adminRequest(c, r, ""); err != nil || resp.StatusCode != 200 {
			t.Fatalf("admin connection %d below the cap: %v %v", i, resp, err)
		}
		held = append(held, c)
	}
	if got := heldSockets(t, p.cmd.Process.Pid, port); got > maxConns {
		t.Errorf("%d admin connections held by the server, want at most %d", got, maxConns)
	}
	over, ro := dial()
	if resp, err := adminRequest(over, ro, ""); err == nil {
		t.Errorf("admin connection over the cap of %d answered %d, want it closed", maxConns, resp.StatusCode)
	} else if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("admin connection over the cap: neither answered nor closed within %v", 20*adminIdle)
	}
	if got := heldSockets(t, p.cmd.Process.Pid, port); got > maxConns {
		t.Errorf("%d admin connections held by the server, want at most %d", got, maxConns)
	}
	// Freeing one slot serves again: the server notices the close and a
	// new connection is answered. answered retries connections the cap
	// still closes until one is answered (or the guard passes).
	answered := func(extra string) (*http.Response, error) {
		var resp *http.Response
		var err error
		for deadline := time.Now().Add(20 * adminIdle); time.Now().Before(deadline); time.Sleep(adminIdle / 10) {
			c, r := dial()
			resp, err = adminRequest(c, r, extra)
			c.Close()
			if resp != nil {
				return resp, err
			}
		}
		return resp, err
	}
	held[0].Close()
	if resp, err := answered("Connection: close\r\n"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after a slot was freed: %v %v, want 200", resp, err)
	}

	// A head over the limit is refused.
	for _, h := range held[1:] {
		h.Close()
	}
	if resp, _ := answered("X-Big: " + strings.Repeat("a", 64<<10) + "\r\n"); resp == nil || resp.StatusCode != 431 {
		t.Errorf("a 64 KiB head to the admin listener: %v, want 431", resp)
	}
}

// The health probes on the admin listener: /healthz answers 200 while the
// process runs; /readyz answers 200 while the server accepts and 503 from
// the moment a shutdown begins, while a response in flight still drains,
// so that a balancer stops sending new clients before the process exits.
func TestAdminHealth(t *testing.T) {
	f := newFixture(t)
	const drain = time.Minute // long enough that only the test's reader ends the drain
	p, _ := serve(t, f, "--admin-listen", "127.0.0.1:0", "--shutdown-timeout", drain.String())
	admin := strings.TrimSuffix(adminURL(t, p), "/metrics")
	probe := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, nil)
		r, err := adminClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode < 400 && (r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8") {
			t.Errorf("%s %s: Cache-Control %q, Content-Type %q", method, path, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
		}
		return r.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"GET", "/readyz", 200, "ok\n"},
		{"HEAD", "/readyz", 200, ""},
		{"POST", "/readyz", 405, ""},
	} {
		code, body := probe(c.method, c.path)
		if code != c.code || c.code == 200 && body != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, code, body, c.code, c.body)
		}
	}

	// A response in flight, stalled by a small receive buffer: it holds
	// the shutdown open until it is read.
	c := dialSmall(t, strings.Split(p.addr, ",")[0], 16<<10)
	c.SetDeadline(time.Now().Add(drain))
	io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /big.bin: %v %v", err, resp)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "503 from /readyz after SIGTERM", func() bool {
		code, body := probe("GET", "/readyz")
		return code == 503 && body == "draining\n"
	})
	if code, body := probe("GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while draining: %d %q, want 200", code, body)
	}
	if p.hasExited() {
		t.Fatal("epfs exited with a response in flight")
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(b, f.big) {
		t.Errorf("the response in flight: %d of %d bytes, %v", len(b), len(f.big), err)
	}
	c.Close()
	// The drain is over: epfs exits on its own, without a second signal
	// (which would force the close).
	select {
	case <-p.exited:
		if p.code != 0 {
			t.Errorf("exit %d after the drain", p.code)
		}
	case <-time.After(stopGuard):
		t.Fatalf("hang guard: epfs did not exit within %v of its last response", stopGuard)
	}
}

// /metrics says what built the process and what the access log lost: the
// build_info labels match the start-up line and the toolchain, and writes
// that fail (here to /dev/full, which fails every write with ENOSPC) are
// counted rather than passed over.
func TestMetricsBuildInfoAndLogErrors(t *testing.T) {
	f := newFixture(t)
	p, base := serve(t, f, "--admin-listen", "127.0.0.1:0", "--access-log", "/dev/full")
	admin := adminURL(t, p)
	version := logField(p, "listening", "version")
	fams := scrape(t, admin)
	if got := metric(fams, "epfs_build_info", "version", fmt.Sprint(version), "goversion", runtime.Version()); got != 1 {
		t.Errorf("epfs_build_info{version=%q,goversion=%q} = %v, want 1; have %v", version, runtime.Version(), got, fams["epfs_build_info"])
	}
	for range 3 {
		if code, _, _ := get(t, base, "/hello.txt"); code != 200 {
			t.Fatalf("GET /hello.txt: %d", code)
		}
	}
	// The loop hands its buffer to the log writer after the response;
	// the write fails a moment later.
	waitFor(t, "a counted access-log write error", func() bool {
		return metric(scrape(t, admin), "epfs_access_log_write_errors_total") >= 1
	})
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// watched is an epfs process with its admin listener on, so that a fault
// test can read what the server holds: descriptors from /proc/PID/fd (the
// kernel's count), goroutines and counters from /metrics.
type watched struct {
	*proc
	f     *fixture
	addr  string // the first listening address, host:port
	base  string // "http://" + addr
	admin string // the /metrics URL
	rest  rest   // the server at rest after warming its cache
}

// rest is what a server holds with no client connected.
type rest struct {
	fds, goroutines int
}

func (r rest) String() string { return fmt.Sprintf("%d fds, %d goroutines", r.fds, r.goroutines) }

// adminClient opens a connection per scrape, so the admin listener keeps no
// idle connection (and no goroutine for it) between samples.
var adminClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// serveWatched starts epfs on f with the admin listener, warms the cache
// with the requests check makes, and records the server at rest.
func serveWatched(t *testing.T, f *fixture, args ...string) *watched {
	t.Helper()
	p, _ := serve(t, f, append([]string{"--admin-listen", "127.0.0.1:0"}, args...)...)
	return watch(t, p, f)
}

// watch is serveWatched for a process already started some other way.
func watch(t *testing.T, p *proc, f *fixture) *watched {
	t.Helper()
	addr := strings.Split(p.addr, ",")[0]
	w := &watched{proc: p, f: f, addr: addr, base: "http://" + addr, admin: adminURL(t, p)}
	w.check(t)
	w.rest = w.settle(t, nil)
	return w
}

// check asks for /hello.txt, and /big.bin when the fixture has one, each on
// its own connection with Connection: close, and verifies the bodies.
func (w *watched) check(t *testing.T) {
	t.Helper()
	want := map[string][]byte{"/hello.txt": []byte("hello, world\n")}
	if w.f.big != nil {
		want["/big.bin"] = w.f.big
	}
	for path, body := range want {
		c, err := net.Dial("tcp", w.addr)
		if err != nil {
			t.Fatalf("the server does not accept: %v", err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("GET %s: %v", path, err)
		}
		b, err := io.ReadAll(r.Body)
		c.Close()
		if err != nil || r.StatusCode != 200 || !bytes.Equal(b, body) {
			t.Fatalf("GET %s: status %d, %d bytes, %v; want 200 and the file", path, r.StatusCode, len(b), err)
		}
	}
}

// sample reads the descriptors the server holds now, its goroutines and
// its open connections.
func (w *watched) sample(t *testing.T) (rest, int64) {
	t.Helper()
	fams := scrape(t, w.admin)
	dir := fmt.Sprintf("/proc/%d/fd", w.cmd.Process.Pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin := adminSockets(t, w.cmd.Process.Pid, w.admin)
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(dir + "/" + fd.Name())
		switch {
		case err != nil:
			n++
		case strings.HasPrefix(target, "/sys/fs/cgroup/"):
			// The Go runtime (1.25+) opens the cgroup CPU limit files when
			// it first updates GOMAXPROCS and keeps them: not the server's.
		case admin[target]:
			// A connection of the admin listener, such as the scrape that
			// just asked for /metrics, which the server may not have
			// closed yet: the test's own, not the serving path's.
		default:
			n++
		}
	}
	return rest{fds: n, goroutines: int(metric(fams, "go_goroutines"))}, int64(metric(fams, "epfs_connections_open"))
}

// settle waits until the server has no connection open and holds what want
// says (nil: until two samples a tenth of a second apart agree), and returns
// the last sample. A connection the server has just closed may still be
// lingering for up to 2 s, so it allows 10. Fewer goroutines than want is
// no leak: the baseline may have caught an earlier scrape's connection
// goroutine on its way out (net/http's, not the serving path's).
func (w *watched) settle(t *testing.T, want *rest) rest {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var prev rest
	for {
		r, open := w.sample(t)
		if open == 0 && (want == nil && r == prev || want != nil && r.fds == want.fds && r.goroutines <= want.goroutines) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("hang guard: the server did not come to rest within 10 s: %d connections open, %v, want %v", open, r, want)
		}
		prev = r
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy checks the server after a fault: still running, still serving
// correct bodies, and back to the descriptors and goroutines it held at rest.
func (w *watched) healthy(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.Signal(0)); err != nil || w.hasExited() {
		t.Fatalf("the server is gone: %v; log: %v", err, w.logLines())
	}
	w.check(t)
	got := w.settle(t, &w.rest)
	t.Logf("at rest after the test: %v (before: %v)", got, w.rest)
}

// counter sums the server's counter or gauge name over every label set
// that includes labels (name, value pairs).
func (w *watched) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return metric(scrape(t, w.admin), name, labels...)
}

// scrape reads and parses /metrics.
func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	r, err := adminClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// metric sums the values of family name whose labels include every
// (name, value) pair given.
func metric(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var v float64
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if match {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
	}
	return v
}

// noLeaks checks, after the test and its clean-ups (the server killed, its
// log reader finished), that every goroutine the test started has ended:
// client goroutines blocked on a server that never answered would show
// here. Call it first, so its clean-up runs last.
func noLeaks(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// adminSockets returns the "socket:[inode]" names of the server's
// connections to its admin listener (the port of adminURL), read from
// /proc/PID/net/tcp and tcp6: those are the test's scrapes, not clients.
func adminSockets(t *testing.T, pid int, adminURL string) map[string]bool {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return portSockets(pid, port)
}

// portSockets returns the "socket:[inode]" names of the TCP connections
// (not listeners) in pid's network namespace whose local port is port,
// from /proc/PID/net/tcp and tcp6. A connection still in an accept queue
// has inode 0: no process holds it yet.
func portSockets(pid, port int) map[string]bool {
	want := fmt.Sprintf(":%04X", port)
	out := map[string]bool{}
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// local_address is field 1, st field 3 (0A is LISTEN, which
			// the listener's own descriptor is and stays), inode field 9.
			if len(f) > 9 && strings.HasSuffix(f[1], want) && f[3] != "0A" && f[9] != "0" {
				out["socket:["+f[9]+"]"] = true
			}
		}
	}
	return out
}

// heldSockets counts the descriptors pid holds for connections to port.
func heldSockets(t *testing.T, pid, port int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	conns := portSockets(pid, port)
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(dir + "/" + fd.Name()); err == nil && conns[target] {
			n++
		}
	}
	return n
}
