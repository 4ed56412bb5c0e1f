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
// the pair, not the server alone. rules=on adds what an operator of a
// single-page app would set: nosniff and HSTS on every response, a CORS
// field on one subtree, and three Cache-Control rules, all worked out per
// entry, so the head grows by about 200 bytes and the work per request by
// nothing but their copy.
func BenchmarkServeKeepAlive(b *testing.B) {
	for _, bc := range []struct {
		conns int
		rules bool
	}{{1, false}, {1, true}, {16, false}, {16, true}, {64, false}, {64, true}} {
		b.Run(fmt.Sprintf("conns=%d/rules=%v", bc.conns, bc.rules), func(b *testing.B) {
			conns := bc.conns
			cfg := Config{Root: testRoot(b, false), Loops: 2}
			if bc.rules {
				cfg.Headers = []HeaderRule{
					{Name: "X-Content-Type-Options", Value: "nosniff"},
					{Name: "Strict-Transport-Security", Value: "max-age=63072000; includeSubDomains"},
					{Glob: "/fonts/**", Name: "Access-Control-Allow-Origin", Value: "*"},
				}
				cfg.CacheControl = []CacheRule{{Glob: "/**/index.html", Value: "no-cache"}, {Glob: "/**/*.html", Value: "no-cache"}, {Glob: "*", Value: "public, max-age=31536000, immutable"}}
			}
			r := start(b, cfg)
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
