package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
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
	admin := adminSockets(t, w.cmd.Process.Pid, w.admin)
	n := 0
	for _, target := range fdTargets(t, w.cmd.Process.Pid) {
		switch {
		case target == "":
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

// fdTargets returns what each of the process's open descriptors refers to
// (readlink of /proc/PID/fd/N: a path, "socket:[inode]", "pipe:[inode]",
// ...), or "" for one that closed between the listing and the readlink.
func fdTargets(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	targets := make([]string, 0, len(fds))
	for _, fd := range fds {
		target, _ := os.Readlink(dir + "/" + fd.Name())
		targets = append(targets, target)
	}
	return targets
}

// fdKinds counts the process's open descriptors by what they refer to: a
// file's path, or the kind of a socket, pipe or anonymous inode without
// its inode number. Two counts are compared to name what a leak left open.
func fdKinds(t *testing.T, pid int) map[string]int {
	t.Helper()
	kinds := make(map[string]int)
	for _, target := range fdTargets(t, pid) {
		if k, _, ok := strings.Cut(target, ":["); ok {
			target = k
		}
		kinds[target]++
	}
	return kinds
}

// fdDiff lists the kinds whose counts differ between a and b.
func fdDiff(a, b map[string]int) []string {
	var out []string
	for k := range a {
		if a[k] != b[k] {
			out = append(out, fmt.Sprintf("%s: %d then %d", k, a[k], b[k]))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s: 0 then %d", k, b[k]))
		}
	}
	slices.Sort(out)
	return out
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
	conns := portSockets(pid, port)
	n := 0
	for _, target := range fdTargets(t, pid) {
		if conns[target] {
			n++
		}
	}
	return n
}

// adminURL is the /metrics URL of p's admin listener, from its start-up log.
func adminURL(t *testing.T, p *proc) string {
	t.Helper()
	for _, l := range p.logLines() {
		if l["message"] == "admin listening" {
			if u, ok := l["metrics"].(string); ok {
				return u
			}
		}
	}
	t.Fatal("no admin listening line with the /metrics URL")
	return ""
}

// statusBytes reads a size field (VmRSS, RssAnon, …) of /proc/PID/status.
func statusBytes(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/PID/status", field)
	return 0
}
