package tests

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// `epfs serve DIR`: the root may be the argument, and flags before and
// after it mean the same; "--" ends the flags. Each run must serve the
// fixture (not the current directory) on the address the flags give.
func TestServeArguments(t *testing.T) {
	f := newFixture(t)
	dash := filepath.Join(t.TempDir(), "-site")
	if err := os.MkdirAll(dash, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dash, "hello.txt"), []byte("dash root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		root string
		want string
	}{
		{[]string{f.root, "--listen", "127.0.0.1:0", "--access-log", "off"}, f.root, "hello, world\n"},
		{[]string{"--listen", "127.0.0.1:0", f.root, "--access-log=off", "--loops", "1"}, f.root, "hello, world\n"},
		{[]string{"--autoindex", f.root, "--precompressed", "--listen=127.0.0.1:0", "--access-log", "off"}, f.root, "hello, world\n"},
		{[]string{"--root", f.root, "--listen", "127.0.0.1:0", "--access-log", "off"}, f.root, "hello, world\n"},
		{[]string{"--listen", "127.0.0.1:0", "--access-log", "off", "--", dash}, dash, "dash root\n"},
	} {
		p := startEpfs(t, "listening", append([]string{"serve"}, tc.args...)...)
		if got := logField(p, "listening", "root"); got != tc.root {
			t.Errorf("%v: root %v, want %s", tc.args, got, tc.root)
		}
		if !strings.HasPrefix(p.addr, "127.0.0.1:") {
			t.Errorf("%v: listening on %s, want 127.0.0.1", tc.args, p.addr)
		}
		if code, b, _ := get(t, "http://"+p.addr, "/hello.txt"); code != 200 || b != tc.want {
			t.Errorf("%v: %d %q, want %q", tc.args, code, b, tc.want)
		}
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("%v: exit %d", tc.args, code)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{f.root, "--root", f.root}, "epfs: " + f.root + " and --root both given: give the root once, as the argument or with --root (see 'epfs serve --help')"},
		{[]string{"--root=" + f.root, f.root}, "and --root both given"},
		{[]string{f.root, "extra"}, "epfs: extra: unexpected argument (want at most one DIR) (see 'epfs serve --help')"},
		{[]string{f.root, "--", "--listen"}, "epfs: --listen: unexpected argument (want at most one DIR)"},
	} {
		code, out := runEpfs(t, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line with %q", tc.args, code, out, tc.want)
		}
	}
}

// A TCP port another process serves is refused, whoever serves it: a
// second epfs would otherwise join the first one's SO_REUSEPORT group and
// take a share of its connections. --reuse-port allows it on purpose.
func TestServePortServed(t *testing.T) {
	f := newFixture(t)
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "hello.txt"), []byte("other root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startEpfs(t, "listening", "serve", f.root, "--listen", "127.0.0.1:0", "--access-log", "off", "--loops", "2")
	code, out := runEpfs(t, "serve", other, "--listen", a.addr, "--access-log", "off")
	want := "epfs: --listen " + a.addr + ": address already in use by another process (--reuse-port shares it on purpose, for a restart)"
	if code != 1 || strings.TrimSpace(out) != want {
		t.Fatalf("second epfs on %s: exit %d, %q; want exit 1 and %q", a.addr, code, out, want)
	}
	// Every request still reaches the first one: the refused process took
	// no share of the port, even for the instant its probe existed.
	for range 12 {
		if code, b, _ := get(t, "http://"+a.addr, "/hello.txt"); code != 200 || b != "hello, world\n" {
			t.Fatalf("after the refusal: %d %q", code, b)
		}
	}
	// The planned overlap: both serve the port; connections are spread
	// over both groups of sockets, so both roots answer within a bounded
	// number of fresh connections.
	b := startEpfs(t, "listening", "serve", other, "--listen", a.addr, "--access-log", "off", "--loops", "2", "--reuse-port")
	seen := map[string]int{}
	for i := 0; i < 400 && len(seen) < 2; i++ {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		r, err := c.Get("http://" + a.addr + "/hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		seen[body(t, r)]++
		r.Body.Close()
	}
	if len(seen) != 2 {
		t.Fatalf("with --reuse-port, answers came from %v; want both roots", seen)
	}
	a.stop(t, syscall.SIGTERM)
	b.stop(t, syscall.SIGTERM)
}

// gitVersion is what `make build` stamps: git describe, or nothing outside
// a git checkout (then the binary reports the toolchain's fallback).
func gitVersion(t *testing.T) string {
	out, err := exec.Command("git", "-C", "..", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return "devel"
	}
	return strings.TrimSpace(string(out))
}

// `make build` stamps the version from git; `epfs --version`, `epfs
// version` and the start-up line all report it.
func TestVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "epfs")
	mk := exec.Command("make", "-C", "..", "build", "BIN="+bin)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	want := gitVersion(t)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil || string(out) != "epfs "+want+"\n" {
			t.Errorf("epfs %v: %v %q, want %q", args, err, out, "epfs "+want)
		}
	}
	f := newFixture(t)
	p := &proc{cmd: exec.Command(bin, "serve", f.root, "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--access-log", "off"), done: make(chan struct{})}
	p.start(t, "listening")
	if v := logField(p, "listening", "version"); v != want {
		t.Errorf("start-up line version %v, want %s", v, want)
	}
	addrs := strings.Split(p.addr, ",")
	urls, _ := logField(p, "listening", "urls").([]any)
	if len(urls) != 2 || urls[0] != "http://"+addrs[0]+"/" || urls[1] != "http://"+addrs[1]+"/" {
		t.Errorf("start-up line urls %v for addr %s", urls, p.addr)
	}
	for _, u := range urls {
		if code, b, _ := get(t, strings.TrimSuffix(u.(string), "/"), "/hello.txt"); code != 200 || b != "hello, world\n" {
			t.Errorf("%s: %d %q", u, code, b)
		}
	}
	p.stop(t, syscall.SIGTERM)
}

// Console logs carry colour codes only on a terminal, and never with
// NO_COLOR set; the summary line names its duration's unit.
func TestLogColourAndUnits(t *testing.T) {
	for _, tc := range []struct {
		env    string
		tty    bool
		colour bool
	}{
		{"NO_COLOR=", false, false},
		{"NO_COLOR=", true, true},
		{"NO_COLOR=1", true, false},
	} {
		out := consoleOutput(t, tc.env, tc.tty)
		if !strings.Contains(out, "echo listening") || strings.Contains(out, "\x1b[") != tc.colour {
			t.Errorf("%s, terminal %v: %q; want colour codes %v", tc.env, tc.tty, out, tc.colour)
		}
	}

	f := newFixture(t)
	p, _ := serve(t, f)
	p.stop(t, syscall.SIGTERM)
	logs := p.logLines()
	last := logs[len(logs)-1]
	if u, ok := last["uptime_s"].(float64); last["message"] != "stopped" || !ok || u <= 0 || last["uptime"] != nil {
		t.Errorf("summary line %v: want uptime_s, a number of seconds, and no uptime", last)
	}
}

// consoleOutput runs `epfs echo --log-format console` with env added and
// stderr on a pipe or on a terminal (a pseudo-terminal's slave side), stops
// it once it has logged its start-up line, and returns what it logged.
func consoleOutput(t *testing.T, env string, tty bool) string {
	t.Helper()
	cmd := exec.Command(epfsBin, "echo", "--listen", "127.0.0.1:0", "--log-format", "console")
	cmd.Env = append(os.Environ(), env)
	var r io.Reader
	var pts *os.File
	if tty {
		var ptm *os.File
		ptm, pts = openPty(t)
		cmd.Stderr, r = pts, ptm
	} else {
		pr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		r = pr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if pts != nil {
		pts.Close() // the master reads EIO once the child's copy closes too
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	hang := time.After(waitGuard) // hang guard, never an assertion on time
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				return out.String()
			}
			out.WriteString(l + "\n")
			if strings.Contains(l, "echo listening") {
				cmd.Process.Signal(syscall.SIGTERM)
			}
		case <-hang:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("hang guard: epfs echo (%s, terminal %v) did not exit within %v: %q", env, tty, waitGuard, out.String())
		}
	}
}

// openPty opens a pseudo-terminal pair (pty(7)): the master, and the slave
// a program sees as its terminal.
func openPty(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptm.Close() })
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal("unlockpt:", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal("ptsname:", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptm, pts
}
