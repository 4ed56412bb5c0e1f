package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// workload is one wrk load: a file at a number of connections.
type workload struct {
	Name  string // e.g. "1KiB c64"
	Path  string // URL path in the docroot
	Size  int64  // body bytes
	Conns int
}

// Sample is one measured run of one server.
type Sample struct {
	Mode        string `json:"mode"`
	Workload    string `json:"workload"`
	Server      string `json:"server"`
	Round       int    `json:"round"`
	Requests    int64  `json:"requests"`
	Bytes       int64  `json:"bytes"`
	Errors      int64  `json:"errors"`
	RPS         Num    `json:"requests_per_sec"`
	MiBps       Num    `json:"mib_per_sec"`
	P50us       Num    `json:"p50_us"`
	P99us       Num    `json:"p99_us"`
	CPUusPerReq Num    `json:"cpu_us_per_request"`
	CPUmsPerGiB Num    `json:"cpu_ms_per_gib"`
	ColdMiBps   Num    `json:"cold_mib_per_sec,omitempty"` // the cold mix's downloads
}

// variantFor is what the ceiling responder must be started with to answer
// w (it serves one fixed thing per process); other servers have none.
func (b *bench) variantFor(name string, w workload) string {
	if name != srvCeiling && name != srvCeilingGo {
		return ""
	}
	if w.Size == 1<<10 {
		return "mem 1024"
	}
	return "file " + filepath.Join(b.root, w.Path)
}

// fleet is the set of running servers of one mode, keyed by name+variant.
type fleet map[string]*server

func fleetKey(name, variant string) string { return name + "|" + variant }

// startFleet starts every server needed for wls under m. They all stay up
// for the whole mode: an idle epoll server costs no CPU, and keeping them
// up lets rounds interleave servers without restart costs in between.
func (b *bench) startFleet(m mode, servers []string, wls []workload) (fleet, error) {
	f := fleet{}
	for _, name := range servers {
		for _, w := range wls {
			v := b.variantFor(name, w)
			if f[fleetKey(name, v)] != nil {
				continue
			}
			s, err := b.startServer(name, v, m)
			if err != nil {
				f.stop()
				return nil, err
			}
			f[fleetKey(name, v)] = s
		}
	}
	return f, nil
}

func (f fleet) stop() {
	for _, s := range f {
		s.stop()
	}
}

// get is the server that answers w.
func (b *bench) get(f fleet, name string, w workload) *server {
	return f[fleetKey(name, b.variantFor(name, w))]
}

// wrkFor describes a wrk run of w against s under m.
func (b *bench) wrkFor(s *server, m mode, w workload, d time.Duration) wrkRun {
	threads := m.WrkThreads
	if w.Conns < threads {
		threads = w.Conns
	}
	return wrkRun{URL: "http://" + s.Addr + w.Path, Conns: w.Conns, Threads: threads, Duration: d, CPU: m.WrkCPU}
}

// measure runs w against s once, reading the server's CPU time around it.
func (b *bench) measure(ctx context.Context, s *server, m mode, w workload, round int, d time.Duration) (Sample, error) {
	smp := Sample{Mode: m.Name, Workload: w.Name, Server: s.Name, Round: round}
	cpu0, err := cpuMicros(s.pids)
	if err != nil {
		return smp, err
	}
	res, err := runWrk(ctx, b.wrkLua, b.wrkFor(s, m, w, d))
	if err != nil {
		return smp, err
	}
	cpu1, err := cpuMicros(s.pids)
	if err != nil {
		return smp, err
	}
	smp.Requests, smp.Bytes, smp.Errors = res.Requests, res.Bytes, res.Errors()
	smp.RPS = Num(res.RequestsPerSec())
	smp.MiBps = Num(res.MiBPerSec())
	smp.P50us, smp.P99us = Num(res.P50Micros), Num(res.P99Micros)
	cpu := cpu1 - cpu0
	smp.CPUusPerReq = Num(nan)
	smp.CPUmsPerGiB = Num(nan)
	if res.Requests > 0 {
		smp.CPUusPerReq = Num(cpu / float64(res.Requests))
		smp.CPUmsPerGiB = Num(cpu / 1e3 / (float64(res.Bytes) / (1 << 30)))
	}
	if smp.Errors > 0 {
		return smp, fmt.Errorf("%s %s: wrk counted %d errors", s.Name, w.Name, smp.Errors)
	}
	return smp, nil
}

// warm runs each server briefly on each workload's file so that page
// cache, open-file caches and Go heaps are in their steady state before
// the first measured round.
func (b *bench) warm(ctx context.Context, f fleet, m mode, servers []string, wls []workload) error {
	for _, name := range servers {
		for _, w := range wls {
			s := b.get(f, name, w)
			r := b.wrkFor(s, m, w, time.Second)
			r.Conns = min(w.Conns, 16)
			r.Threads = min(r.Threads, r.Conns)
			if _, err := runWrk(ctx, b.wrkLua, r); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	return nil
}

// runRounds measures every (workload, server) pair once per round, in the
// same order each round, so slow drift on the machine hits all alike.
func (b *bench) runRounds(ctx context.Context, f fleet, m mode, servers []string, wls []workload, rounds int, d time.Duration, res *Results) {
	for r := 1; r <= rounds; r++ {
		for _, w := range wls {
			for _, name := range servers {
				if ctx.Err() != nil {
					return
				}
				smp, err := b.measure(ctx, b.get(f, name, w), m, w, r, d)
				if err != nil {
					res.note("%s round %d: %v", m.Name, r, err)
					if smp.Requests == 0 {
						continue
					}
				}
				res.Samples = append(res.Samples, smp)
				logf("%-7s round %d/%d  %-12s %-9s %10.0f req/s %8.1f MiB/s  p99 %6.0f µs  %6.2f µs CPU/req",
					m.Name, r, rounds, w.Name, name, float64(smp.RPS), float64(smp.MiBps),
					float64(smp.P99us), float64(smp.CPUusPerReq))
			}
		}
	}
}

// countSyscalls measures syscalls per request for each server on w, in a
// run of its own: attaching a tracer costs the server time, so these runs
// are not among the throughput samples.
func (b *bench) countSyscalls(ctx context.Context, f fleet, m mode, servers []string, w workload, d time.Duration, outDir string, res *Results) {
	for _, name := range servers {
		if ctx.Err() != nil {
			return
		}
		s := b.get(f, name, w)
		// The tool's own output is kept beside the results as evidence.
		out := filepath.Join(outDir, fmt.Sprintf("syscalls-%s.txt", safeName(name)))
		t, err := startTracer(b.usePerf, b.tmp, s.pids, out)
		if err != nil {
			res.note("syscalls %s: %v", name, err)
			continue
		}
		wr, werr := runWrk(ctx, b.wrkLua, b.wrkFor(s, m, w, d))
		counts, err := t.stop()
		if werr != nil || err != nil {
			res.note("syscalls %s: wrk: %v, tracer: %v", name, werr, err)
			continue
		}
		sr := syscallResult(name, w.Name, b.usePerf, counts, wr.Requests)
		res.Syscalls = append(res.Syscalls, sr)
		logf("syscalls %-9s %5.2f/req process, %5.2f/req busiest thread: %s",
			name, float64(sr.Process), float64(sr.Thread), topSyscalls(sr.ByName, 8))
	}
}

// recordProfile takes a perf CPU profile of s while wrk drives w.
func (b *bench) recordProfile(ctx context.Context, f fleet, m mode, name string, w workload, d time.Duration, outDir string, res *Results) {
	s := b.get(f, name, w)
	if s == nil || ctx.Err() != nil {
		return
	}
	wrkDone := make(chan error, 1)
	go func() {
		_, err := runWrk(ctx, b.wrkLua, b.wrkFor(s, m, w, d+2*time.Second))
		wrkDone <- err
	}()
	time.Sleep(time.Second)
	file := fmt.Sprintf("profile-%s-%s.txt", safeName(name), safeName(w.Name))
	err := profile(ctx, s.pids, d, filepath.Join(b.tmp, "perf.data"), filepath.Join(outDir, file))
	if werr := <-wrkDone; werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		res.note("profile %s %s: %v", name, w.Name, err)
		return
	}
	res.Profiles = append(res.Profiles, file)
	logf("profile %s %s → %s", name, w.Name, file)
}

// measureIdleAll measures idle-connection memory on a fresh process of
// each server, rounds times, interleaved like the load rounds.
func (b *bench) measureIdleAll(ctx context.Context, m mode, servers []string, n, rounds int, res *Results) {
	w := workload{Name: "idle", Path: "/1k.bin", Size: 1 << 10}
	for r := 1; r <= rounds; r++ {
		for _, name := range servers {
			if ctx.Err() != nil {
				return
			}
			s, err := b.startServer(name, b.variantFor(name, w), m)
			if err != nil {
				res.note("idle %s: %v", name, err)
				continue
			}
			ir, err := measureIdle(ctx, s, n, w.Path)
			s.stop()
			if err != nil {
				res.note("idle %s round %d: %v", name, r, err)
				continue
			}
			res.Idle = append(res.Idle, ir)
			logf("idle    round %d/%d  %-9s %7.0f bytes per idle connection (RSS %d → %d KiB)",
				r, rounds, name, float64(ir.BytesPerConn), ir.RSSBefore>>10, ir.RSSAfter>>10)
		}
	}
}
