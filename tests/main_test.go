package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// epfsBin is the binary under test, built once by TestMain.
var epfsBin string

func TestMain(m *testing.M) {
	if os.Getenv("EPFS_TEST_LAUNCH") != "" {
		launch()
	}
	dir, err := os.MkdirTemp("", "epfs-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	epfsBin = filepath.Join(dir, "epfs")
	build := exec.Command("go", "build", "-o", epfsBin, "github.com/epfs/epfs/cmd/epfs")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building epfs:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running epfs process. One goroutine owns it: it reads the
// process's stderr to the end, then calls Wait once and closes exited;
// everyone else (stop, the test's cleanup, health checks) waits on exited
// and reads code after it, so nothing races with exec.Cmd's own fields.
type proc struct {
	cmd  *exec.Cmd
	addr string // from the start-up line

	mu     sync.Mutex
	logs   []map[string]any // every JSON line it logged
	done   chan struct{}    // closed when its stderr ends
	exited chan struct{}    // closed when Wait has returned
	code   int              // the exit code; read only after exited is closed
}

// startGuard is the hang guard for a start-up line: epfs prints it within
// milliseconds of starting; 20 s is room for a slow, busy machine.
const startGuard = 20 * time.Second

// stopGuard is the hang guard for an exit after a signal, beyond whatever
// the server is told to wait for (a shutdown timeout the test sets adds to
// it, see stopWithin): epfs exits within milliseconds when nothing holds it.
const stopGuard = 20 * time.Second

// startEpfs runs epfs with args and waits for a log line with message
// ready, whose "addr" field gives the bound address. The process is killed
// at the end of the test if it is still running.
func startEpfs(t testing.TB, ready string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(epfsBin, args...)}
	p.start(t, ready)
	return p
}

// start runs the prepared command and waits for its ready line.
func (p *proc) start(t testing.TB, ready string) {
	t.Helper()
	p.done, p.exited = make(chan struct{}), make(chan struct{})
	args := p.cmd.Args
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.hasExited() {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"raw": sc.Text()}
			}
			p.mu.Lock()
			p.logs = append(p.logs, m)
			p.mu.Unlock()
			if m["message"] == ready {
				if a, ok := m["addr"].(string); ok {
					addrc <- a
				}
			}
		}
		close(p.done)
		// Wait closes the stderr pipe, so it comes after the last read.
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	select {
	case p.addr = <-addrc:
	case <-p.done:
		t.Fatalf("epfs %v exited before %q: %v", args, ready, p.logLines())
	case <-time.After(startGuard):
		t.Fatalf("hang guard: epfs %v printed no %q line within %v", args, ready, startGuard)
	}
}

// hasExited reports whether the process has exited and been waited for.
func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *proc) logLines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.logs...)
}

// stop sends sig and waits for the exit code, for at most stopGuard. It
// may be called from any goroutine: on the hang guard it reports with
// t.Errorf, kills the process and returns -1.
func (p *proc) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	return p.stopWithin(t, sig, 0)
}

// stopWithin is stop for a server told to wait up to wait after sig (its
// --shutdown-timeout, say): the hang guard is wait plus stopGuard, derived
// from the same value so the two cannot drift.
func (p *proc) stopWithin(t testing.TB, sig syscall.Signal, wait time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	return p.exitWithin(t, sig, wait)
}

// exitWithin waits for the exit of a process already sent sig, told to
// wait up to wait after it, with the same hang guard as stopWithin.
func (p *proc) exitWithin(t testing.TB, sig syscall.Signal, wait time.Duration) int {
	t.Helper()
	guard := wait + stopGuard
	select {
	case <-p.exited:
		return p.code
	case <-time.After(guard):
		p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("hang guard: epfs did not exit within %v of %v (it was told to wait up to %v)", guard, sig, wait)
		return -1
	}
}

// cpuTime returns the process's user+system CPU time from /proc/PID/stat.
func (p *proc) cpuTime(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (100 Hz).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// runEpfs runs epfs to completion and returns its exit code and stderr.
func runEpfs(t testing.TB, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(epfsBin, args...)
	var out strings.Builder
	cmd.Stderr = &out
	cmd.Stdout = &out
	done := make(chan int, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		done <- cmd.ProcessState.ExitCode()
	}()
	select {
	case code := <-done:
		return code, out.String()
	case <-time.After(stopGuard):
		cmd.Process.Kill()
		<-done
		t.Fatalf("hang guard: epfs %v did not exit within %v", args, stopGuard)
		return -1, ""
	}
}

// launch is the re-exec helper for socket-activation tests: it sets
// LISTEN_PID to its own pid (which exec keeps) and LISTEN_FDS, then replaces
// itself with epfs. A test cannot set LISTEN_PID for a child directly: the
// child's pid is unknown until it exists.
func launch() {
	bin := os.Getenv("EPFS_TEST_LAUNCH")
	env := []string{"LISTEN_PID=" + strconv.Itoa(os.Getpid())}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "EPFS_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	if n := os.Getenv("EPFS_TEST_LISTEN_FDS"); n != "" {
		env = append(env, "LISTEN_FDS="+n)
	}
	if names := os.Getenv("EPFS_TEST_LISTEN_FDNAMES"); names != "" {
		env = append(env, "LISTEN_FDNAMES="+names)
	}
	args := append([]string{bin}, strings.Fields(os.Getenv("EPFS_TEST_ARGS"))...)
	err := syscall.Exec(bin, args, env)
	fmt.Fprintln(os.Stderr, "launch:", err)
	os.Exit(127)
}

// waitGuard is the hang guard for waitFor: what a test waits for (a log
// line, a count) takes milliseconds, seconds under -race on a busy machine.
const waitGuard = 30 * time.Second

// waitFor polls cond until it holds, failing the test if it has not within
// waitGuard. It is a hang guard, never an assertion on time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitGuard); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hang guard: no %s within %v", what, waitGuard)
		}
	}
}

// dial opens a TCP connection to addr, closed at the end of the test.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendOn opens a new connection to addr (dial), sets guard (a hang guard)
// as its deadline and writes req on it. The caller may close it before the
// test ends.
func sendOn(t testing.TB, addr, req string, guard time.Duration) net.Conn {
	t.Helper()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// get fetches base+path and returns the status and body.
func get(t testing.TB, base, path string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	r, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	return r.StatusCode, body(t, r), r.Header
}

// logLine returns the first line p logged with message msg (nil if none).
func logLine(p *proc, msg string) map[string]any {
	for _, m := range p.logLines() {
		if m["message"] == msg {
			return m
		}
	}
	return nil
}

// logField returns field of the first line p logged with message msg.
func logField(p *proc, msg, field string) any { return logLine(p, msg)[field] }

// dialSmall connects with SO_RCVBUF set before the handshake, so the window
// the server sees stays small and a response larger than a few buffers
// stalls on the server's side until the client reads.
func dialSmall(t testing.TB, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// firstLine returns s up to its first CRLF: a response's status line.
func firstLine(s string) string {
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
