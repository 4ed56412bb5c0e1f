package tests

import (
	"bytes"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEchoCommand(t *testing.T) {
	for _, engine := range []string{"poller", "net"} {
		t.Run(engine, func(t *testing.T) {
			p := startEpfs(t, "echo listening", "echo", "--listen", "127.0.0.1:0", "--engine", engine, "--loops", "2")
			if !strings.HasPrefix(p.addr, "127.0.0.1:") || strings.HasSuffix(p.addr, ":0") {
				t.Fatalf("start-up line gives %q, want the real port", p.addr)
			}
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := bytes.Repeat([]byte("epfs "), 50000)
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %v", err)
			}
			c.Close()
			if code := p.stop(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("exit code %d after SIGTERM, want 0", code)
			}
			logs := p.logLines()
			if last := logs[len(logs)-1]; last["message"] != "echo stopped" {
				t.Fatalf("last log line %v, want the stop summary", last)
			}
		})
	}
}

// Bad input at start-up: a clear line naming the problem, a non-zero exit,
// never a stack trace.
func TestStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"echo", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"echo", "--loops", "many"}, 2, `invalid value "many" for flag -loops`},
		{[]string{"echo", "--loops", "0"}, 1, "flag --loops"},
		{[]string{"echo", "--engine", "threads"}, 1, "flag --engine"},
		{[]string{"echo", "--log-level", "loud"}, 1, "flag --log-level"},
		{[]string{"echo", "--log-format", "xml"}, 1, "flag --log-format"},
		{[]string{"echo", "--listen", busy.Addr().String()}, 1, "address already in use"},
		{[]string{"echo", "--listen", "127.0.0.1:70000"}, 1, "bad port"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
	} {
		code, out := runEpfs(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("epfs %v: exit %d, output %q; want exit %d and %q", tc.args, code, out, tc.code, tc.want)
		}
		if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
			t.Errorf("epfs %v printed a stack trace: %s", tc.args, out)
		}
		if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 {
			t.Errorf("epfs %v printed %d lines, want one: %q", tc.args, lines, out)
		}
	}
	code, out := runEpfs(t, "version")
	if code != 0 || !strings.HasPrefix(out, "epfs ") {
		t.Errorf("epfs version: %d %q", code, out)
	}
}
