//go:build linux

package server

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkColdMix is the cold-cache mix of docs/BENCHMARKS.md: 8 clients
// each download a different large file evicted from the page cache, while
// 64 keep-alive connections request a hot 1 KiB file one request at a
// time, on 2 loops. It reports the hot requests' latency percentiles with
// the I/O pool (the default) and without it (--io-threads 0), in the same
// run. Each iteration evicts the files again (fsync'd, so
// POSIX_FADV_DONTNEED drops them). Not a timed test: skipped with -short.
//
//	go test -run '^$' -bench ColdMix -benchtime 1x -count 3 ./cmd/epfs/internal/server/
func BenchmarkColdMix(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 1 GiB of test files")
	}
	const (
		downloads = 8
		fileSize  = 128 << 20
		hotConns  = 64
	)
	root := testRoot(b, false)
	paths := make([]string, downloads)
	for i := range paths {
		paths[i] = writeCold(b, root, fmt.Sprintf("cold%d.bin", i), fileSize)
	}
	for _, mode := range []struct {
		name    string
		threads int
	}{{"pool", 0}, {"no-pool", -1}} {
		b.Run(mode.name, func(b *testing.B) {
			r := start(b, Config{Root: root, Loops: 2, IOThreads: mode.threads})
			var lat []time.Duration
			var coldTime time.Duration
			for range b.N {
				for _, p := range paths {
					evict(b, p)
				}
				l, d := coldMix(b, r, downloads, hotConns, fileSize)
				lat = append(lat, l...)
				coldTime += d
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))].Microseconds())
			}
			b.ReportMetric(pct(0.5), "hot-p50-µs")
			b.ReportMetric(pct(0.99), "hot-p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "hot-max-µs")
			b.ReportMetric(float64(len(lat))/float64(b.N), "hot-reqs/op")
			b.ReportMetric(float64(downloads*fileSize*b.N)/coldTime.Seconds()/1e6, "cold-MB/s")
		})
	}
}

// coldMix runs one round: the downloads, and the hot connections until the
// last download ends. It returns every hot latency and how long the
// downloads took.
func coldMix(b *testing.B, r *running, downloads, hotConns int, size int64) ([]time.Duration, time.Duration) {
	var wg sync.WaitGroup
	stop := make(chan struct{})
	lats := make([][]time.Duration, hotConns)
	hot := make([]*rawClient, hotConns)
	for i := range hot {
		hot[i] = dialRaw(b, r.addr)
		hot[i].roundTrip(b, get("/small.bin"), 200) // cached, connected
	}
	for i, c := range hot {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := get("/small.bin")
			out := make([]time.Duration, 0, 4096)
			for {
				select {
				case <-stop:
					lats[i] = out
					return
				default:
				}
				t0 := time.Now()
				if err := c.send(req); err != nil {
					b.Error(err)
					return
				}
				if st, _, err := c.response(); err != nil || st != 200 {
					b.Errorf("hot request: %d %v", st, err)
					return
				}
				out = append(out, time.Since(t0))
			}
		}()
	}
	start := time.Now()
	var dl sync.WaitGroup
	for i := range downloads {
		c := dialRaw(b, r.addr)
		dl.Add(1)
		go func() {
			defer dl.Done()
			if err := c.send(get(fmt.Sprintf("/cold%d.bin", i))); err != nil {
				b.Error(err)
				return
			}
			if _, n, err := c.response(); err != nil || n != size {
				b.Errorf("download %d: %d bytes, %v", i, n, err)
			}
			c.close()
		}()
	}
	dl.Wait()
	took := time.Since(start)
	close(stop)
	wg.Wait()
	var all []time.Duration
	for i, c := range hot {
		all = append(all, lats[i]...)
		c.close()
	}
	return all, took
}
