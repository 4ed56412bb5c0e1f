package tests

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

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
