package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The cold-cache mix (-cold): coldDownloads clients each download a
// different coldFileSize file, evicted from the page cache before every
// download, while wrk drives the hot 1 KiB file on 64 keep-alive
// connections. What it measures is the hot requests' latency: whether a
// cold read stalls the loop (or nginx worker) that also answers them.
const (
	coldMode      = "cold"
	wlCold        = "1KiB c64 + 8 cold downloads"
	coldDownloads = 8
	coldFileSize  = 128 << 20
)

// coldServers are the servers of the cold mix, in round order.
var coldServers = []string{srvEpfs, srvEpfsNoPool, srvNginxAIO, srvNginx}

// coldFiles are the docroot names of the cold files.
func coldFiles() []string {
	names := make([]string, coldDownloads)
	for i := range names {
		names[i] = fmt.Sprintf("cold%d.bin", i)
	}
	return names
}

// makeColdFiles writes the cold files into dir: the same seeded random
// bytes with a different first word each (the page cache is per file, so
// equal contents do not share pages).
func makeColdFiles(dir string) error {
	buf := make([]byte, coldFileSize)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	for i, name := range coldFiles() {
		buf[0] = byte(i)
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// evict drops path from the page cache: fsync first, since
// POSIX_FADV_DONTNEED leaves dirty pages in place.
func evict(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// pinSelf moves every thread of this process to the CPUs in list (threads
// started later inherit it), so the downloaders share wrk's core.
func pinSelf(list string) error {
	var set unix.CPUSet
	for _, c := range splitCPUs(list) {
		set.Set(c)
	}
	if set.Count() == 0 {
		return fmt.Errorf("empty CPU list %q", list)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("sched_setaffinity %d: %w", tid, err)
		}
	}
	return nil
}

// splitCPUs reads a comma-separated list of CPU numbers (no ranges).
func splitCPUs(list string) []int {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n >= 0 {
			out = append(out, n)
		}
	}
	return out
}

// downloadLoop downloads url again and again until ctx ends, evicting path
// before each download so every one reads the disk; it adds the body bytes
// read to *n.
func downloadLoop(ctx context.Context, c *http.Client, url, path string, n *atomic.Int64) error {
	buf := make([]byte, 256<<10)
	for ctx.Err() == nil {
		if err := evict(path); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		for {
			k, err := resp.Body.Read(buf)
			n.Add(int64(k))
			if err == io.EOF {
				break
			}
			if err != nil {
				resp.Body.Close()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		resp.Body.Close()
	}
	return nil
}

// measureCold is one cold-mix run against s: the downloaders start with
// wrk and stop when it ends.
func (b *bench) measureCold(ctx context.Context, s *server, m mode, w workload, round int, d time.Duration) (Sample, error) {
	for _, name := range coldFiles() {
		if err := evict(filepath.Join(b.root, name)); err != nil {
			return Sample{}, err
		}
	}
	dctx, cancel := context.WithCancel(ctx)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: coldDownloads}}
	defer client.CloseIdleConnections()
	var bytes atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, coldDownloads)
	t0 := time.Now()
	for _, name := range coldFiles() {
		wg.Go(func() {
			if err := downloadLoop(dctx, client, "http://"+s.Addr+"/"+name, filepath.Join(b.root, name), &bytes); err != nil {
				errc <- err
			}
		})
	}
	smp, err := b.measure(ctx, s, m, w, round, d)
	cancel()
	wg.Wait()
	smp.ColdMiBps = Num(float64(bytes.Load()) / (1 << 20) / time.Since(t0).Seconds())
	select {
	case derr := <-errc:
		if err == nil {
			err = fmt.Errorf("%s download: %w", s.Name, derr)
		}
	default:
	}
	return smp, err
}

// runCold is the cold-mix mode: the four servers on CPU 0, wrk, the
// downloaders and the rest of this process on CPU 1, rounds interleaved.
func (b *bench) runCold(ctx context.Context, o options, res *Results) {
	m := mode{Name: coldMode, Workers: 1, ServerCPU: "0", WrkCPU: "1", WrkThreads: 1, Cold: true}
	w := workload{Name: wlCold, Path: "/1k.bin", Size: 1 << 10, Conns: 64}
	res.modes = append(res.modes, m)
	res.workloads[m.Name] = []workload{w}
	logf("cold: writing %d × %d MiB files", coldDownloads, coldFileSize>>20)
	if err := makeColdFiles(b.root); err != nil {
		res.note("cold: %v", err)
		return
	}
	defer func() {
		for _, name := range coldFiles() {
			os.Remove(filepath.Join(b.root, name))
		}
	}()
	if err := pinSelf(m.WrkCPU); err != nil {
		res.note("cold: pinning the downloaders: %v", err)
	}
	f, err := b.startFleet(m, coldServers, []workload{w})
	if err != nil {
		res.note("cold: %v", err)
		return
	}
	defer f.stop()
	if err := b.warm(ctx, f, m, coldServers, []workload{w}); err != nil {
		res.note("cold: %v", err)
	}
	logf("cold: %d runs of %v", len(coldServers)*o.rounds, o.duration)
	for r := 1; r <= o.rounds; r++ {
		for _, name := range coldServers {
			if ctx.Err() != nil {
				return
			}
			smp, err := b.measureCold(ctx, b.get(f, name, w), m, w, r, o.duration)
			if err != nil {
				res.note("cold round %d: %v", r, err)
				if smp.Requests == 0 {
					continue
				}
			}
			res.Samples = append(res.Samples, smp)
			logf("cold    round %d/%d  %-9s %10.0f req/s  p50 %6.0f µs  p99 %6.0f µs  cold %6.0f MiB/s",
				r, o.rounds, name, float64(smp.RPS), float64(smp.P50us), float64(smp.P99us), float64(smp.ColdMiBps))
		}
	}
}
