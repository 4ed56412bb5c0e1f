package tests

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
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

// Bad input at start-up: one line naming the flag, the value and what is
// expected, never a stack trace; exit 2 for a usage error, 1 at run time.
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
		{[]string{"echo", "--bogus"}, 2, "epfs: --bogus: unknown flag (see 'epfs echo --help')"},
		{[]string{"echo", "--loops", "many"}, 2, "epfs: --loops many: want a whole number (see 'epfs echo --help')"},
		{[]string{"echo", "--loops", "0"}, 2, "epfs: --loops 0: want 1 to 1024"},
		{[]string{"echo", "--engine", "threads"}, 2, "epfs: --engine threads: want poller or net"},
		{[]string{"echo", "--log-level", "loud"}, 2, "epfs: --log-level loud: want debug, info, warn or error"},
		{[]string{"echo", "--log-format", "xml"}, 2, "epfs: --log-format xml: want json or console"},
		{[]string{"echo", "--listen", busy.Addr().String()}, 1, "address already in use"},
		{[]string{"echo", "--listen", "127.0.0.1:70000"}, 2, "epfs: --listen 127.0.0.1:70000: want a port from 0 to 65535"},
		{[]string{"echo", "stray"}, 2, "epfs: stray: unexpected argument"},
		{[]string{"frobnicate"}, 2, "epfs: frobnicate: unknown command (see 'epfs --help')"},
		{[]string{"--version", "--bogus"}, 2, "epfs: --bogus: unknown flag (see 'epfs --help')"},
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

// BenchmarkEchoPingPong measures round trips over loopback with 1,000
// connections, each sending 64 bytes and waiting for them back, against
// `epfs echo` on the poller (one loop) and on Go's goroutine-per-connection
// net package, in the same run. It reports round trips per second and the
// server's CPU time per round trip, read from /proc/PID/stat.
//
//	go test -run '^$' -bench EchoPingPong -benchtime 200000x ./tests/
func BenchmarkEchoPingPong(b *testing.B) {
	for _, engine := range []string{"poller", "net"} {
		b.Run(engine, func(b *testing.B) {
			p := startEpfs(b, "echo listening", "echo", "--listen", "127.0.0.1:0", "--engine", engine, "--loops", "1")
			defer p.stop(b, syscall.SIGTERM)
			const conns = 1000
			cs := make([]net.Conn, conns)
			for i := range cs {
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				cs[i] = c
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			cpu0 := p.cpuTime(b)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := make([]byte, 64)
					buf := make([]byte, 64)
					for left.Add(-1) >= 0 {
						if _, err := c.Write(msg); err != nil {
							b.Error(err)
							return
						}
						if _, err := io.ReadFull(c, buf); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			cpu := p.cpuTime(b) - cpu0
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rtt/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "server-cpu-µs/rtt")
		})
	}
}
