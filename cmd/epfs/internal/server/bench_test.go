//go:build linux

package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkServeKeepAlive: keep-alive GETs of a 1 KiB file (served from
// memory) from N raw-socket clients at once, each waiting for its response
// before the next request. The clients allocate nothing, so allocs/op is
// the server's; req/s is b.N over the wall time. Both loops run in the test
// process alongside the clients, so on a small machine the figure measures
// the pair, not the server alone.
func BenchmarkServeKeepAlive(b *testing.B) {
	for _, conns := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			r := start(b, Config{Root: testRoot(b, false), Loops: 2})
			clients := make([]*rawClient, conns)
			req := get("/small.bin")
			for i := range clients {
				clients[i] = dialRaw(b, r.addr)
				clients[i].roundTrip(b, req, 200)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := c.send(req); err != nil {
							b.Error(err)
							return
						}
						if status, _, err := c.response(); err != nil || status != 200 {
							b.Errorf("status %d, %v", status, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
