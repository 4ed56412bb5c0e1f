package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
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

// proc is a running epfs process.
type proc struct {
	cmd  *exec.Cmd
	addr string // from the start-up line

	mu   sync.Mutex
	logs []map[string]any // every JSON line it logged
	done chan struct{}    // closed when its stderr ends
}

// startEpfs runs epfs with args and waits for a log line with message
// ready, whose "addr" field gives the bound address. The process is killed
// at the end of the test if it is still running.
func startEpfs(t testing.TB, ready string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(epfsBin, args...), done: make(chan struct{})}
	p.start(t, ready)
	return p
}

// start runs the prepared command and waits for its ready line.
func (p *proc) start(t testing.TB, ready string) {
	t.Helper()
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
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	addrc := make(chan string, 1)
	go func() {
		defer close(p.done)
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
	}()
	select {
	case p.addr = <-addrc:
	case <-p.done:
		t.Fatalf("epfs %v exited before %q: %v", args, ready, p.logLines())
	case <-time.After(20 * time.Second):
		t.Fatalf("epfs %v: no %q line within 20s", args, ready)
	}
}

func (p *proc) logLines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.logs...)
}

// stop sends sig and waits for the exit code.
func (p *proc) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case <-errc:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("epfs did not exit within 20s of %v", sig)
	}
	<-p.done
	return p.cmd.ProcessState.ExitCode()
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
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("epfs %v did not exit within 20s", args)
	}
	return cmd.ProcessState.ExitCode(), out.String()
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
