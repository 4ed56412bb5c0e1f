//go:build linux

package poller_test

import (
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epfs/epfs/poller"
	"golang.org/x/sys/unix"
)

// BenchmarkSharedListenerSpread compares the two ways several loops can
// share one listening socket (a Unix socket, or one handed in by a service
// manager), on a load of short connections that each do one small echo:
//
//   - exclusive: every loop registers the socket with EPOLLEXCLUSIVE and
//     accepts for itself (what poller does);
//   - handoff: one loop accepts and hands each connection to the next loop
//     in turn through its Submit queue.
//
// It reports connections per second and the spread: the busiest loop's
// share of the connections against a perfect 1/loops. Run with
//
//	go test -run '^$' -bench SharedListenerSpread -benchtime 20000x ./poller/
func BenchmarkSharedListenerSpread(b *testing.B) {
	for _, mode := range []string{"exclusive", "handoff"} {
		b.Run(mode, func(b *testing.B) {
			const loops = 2
			path := filepath.Join(b.TempDir(), "s.sock")
			ln, err := poller.Listen("unix:"+path, poller.ListenConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			var ls [loops]*poller.Loop
			var served [loops]atomic.Int64
			var wg sync.WaitGroup
			for i := range ls {
				l, err := poller.New(poller.Options{})
				if err != nil {
					b.Fatal(err)
				}
				ls[i] = l
				wg.Add(1)
				go func() { defer wg.Done(); l.Run() }()
			}
			defer func() {
				for _, l := range ls {
					l.Stop()
				}
				wg.Wait()
			}()
			// serve registers fd on loop i with a one-shot echo handler.
			serve := func(i int, fd int) {
				l := ls[i]
				var id poller.ID
				buf := make([]byte, 64)
				id, err := l.Add(fd, poller.HandlerFunc(func(ev poller.Events) {
					if !ev.Readable() {
						return
					}
					n, _ := unix.Read(fd, buf)
					if n > 0 {
						unix.Write(fd, buf[:n])
						served[i].Add(1)
					}
					if n == 0 || (n < 0 && !ev.PeerClosed()) {
						return
					}
					l.Close(id)
				}))
				if err != nil {
					unix.Close(fd)
				}
			}
			var next int
			for i := range ls {
				i := i
				accept := func(fd int) { serve(i, fd) }
				if mode == "handoff" {
					if i > 0 {
						continue
					}
					accept = func(fd int) {
						to := next % loops
						next++
						if to == 0 {
							serve(0, fd)
							return
						}
						if ls[to].Submit(func() { serve(to, fd) }) != nil {
							unix.Close(fd)
						}
					}
				}
				done := make(chan error, 1)
				ls[i].Submit(func() { _, err := ls[i].Accept(ln, accept); done <- err })
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			start := time.Now()
			var cw sync.WaitGroup
			for range 32 {
				cw.Add(1)
				go func() {
					defer cw.Done()
					msg, got := []byte("ping"), make([]byte, 4)
					for left.Add(-1) >= 0 {
						c, err := net.Dial("unix", path)
						if err != nil {
							b.Error(err)
							return
						}
						c.Write(msg)
						c.Read(got)
						c.Close()
					}
				}()
			}
			cw.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			var total, most int64
			for i := range served {
				n := served[i].Load()
				total += n
				most = max(most, n)
			}
			if total == 0 {
				b.Fatal("nothing served")
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "conns/s")
			b.ReportMetric(float64(most)/float64(total)*loops, "busiest/fair")
			b.Logf("%s: per loop %s", mode, fmt.Sprint(served[0].Load(), " ", served[1].Load()))
		})
	}
}
