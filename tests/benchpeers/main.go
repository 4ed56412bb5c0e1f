// Command benchpeers runs epfs side by side with nginx, net/http's
// FileServer, fasthttp's FS and the ceiling responder (the cheapest
// keep-alive exchange the kernel allows, ../shared/ceiling) with its Go
// twin (the same loop through x/sys: the floor a Go server pays), under
// identical conditions, and writes a JSON file, a markdown report and a
// chart. `make bench-peers` runs it; flags pass through BENCH_FLAGS:
//
//	make bench-peers BENCH_FLAGS='-duration 10s -rounds 3'
//	make bench-peers BENCH_FLAGS=-quick          # about three minutes
//	make bench-peers BENCH_FLAGS='-cold -rounds 3 -duration 5s'  # about a minute
//	make bench-peers BENCH_FLAGS='-compress -rounds 3 -duration 5s'  # about ten minutes
//
// -cold runs only the cold-cache mix (cold.go) and writes cold.{json,md}:
// epfs with its I/O pool (--io-threads 2) and without (--io-threads 0),
// nginx with and without `aio threads;`, each answering a hot 1 KiB file
// on 64 connections while 8 clients download different 128 MiB files
// evicted from the page cache before every download. It is not part of the
// default or -quick run.
//
// -compress runs only the compression mode (compress.go) and writes
// compress.{json,md}: jQuery's and Bootstrap's files from npm (pinned
// versions, checked SHA-256) and a large HTML page, served by epfs
// identity and compressed, and by nginx with gzip on at levels 1 and 6.
//
// # Conditions
//
// In the main ("pinned") mode each server runs on CPU 0 with one worker —
// `epfs --loops 1` (which sizes its own scheduler: two Ps, see the README),
// nginx worker_processes 1, GOMAXPROCS=1 for every other Go server — and
// wrk -t1 runs on CPU 1. Rounds interleave the servers
// (A B C D E, A B C D E, …) so that drift on a shared machine hits all
// alike, and the report gives each median with its min and max. Server CPU
// time comes from utime+stime in /proc/PID/stat around each run; syscalls
// per request from `perf stat --per-thread -e syscalls:sys_enter_*` (or
// `strace -c -f` where perf cannot count) in a separate run; memory per
// idle connection from VmRSS before and after opening thousands of
// keep-alive connections to a fresh process. A second mode runs everything
// unpinned with two loops / two workers / GOMAXPROCS=2 for the
// whole-machine figure, and a third repeats the 1 KiB run with epfs and
// nginx both writing an access log to a file.
//
// Missing tools (nginx, wrk, gcc, perf, strace) are installed with apt-get
// when running as root. Every program is built into a temporary directory
// and every server binds 127.0.0.1 on a port picked at run time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// start is when the harness began, for the progress log.
var start = time.Now()

// logf prints a progress line to stderr with the elapsed time.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

// options are the command-line flags.
type options struct {
	duration    time.Duration
	rounds      int
	quick       bool
	out         string
	servers     string
	idleConns   int
	ceilingSrc  string
	skipInstall bool
	noProfile   bool
	noWhole     bool
	noLog       bool
	cold        bool
	compress    bool
}

func parseFlags() options {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured wrk run (whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; medians, min and max are over these")
	flag.BoolVar(&o.quick, "quick", false, "smoke-test mode: 2s runs, 1 round, a shorter sweep (about three minutes)")
	flag.StringVar(&o.out, "out", "tests/benchpeers/results", "directory for results.json, results.md, sweep.svg and evidence")
	flag.StringVar(&o.servers, "servers", strings.Join(allServers, ","), "servers to run, in round order")
	flag.IntVar(&o.idleConns, "idle-conns", 5000, "keep-alive connections held open for the idle-memory figure")
	flag.StringVar(&o.ceilingSrc, "ceiling", "../shared/ceiling/ceiling.c", "source of the ceiling responder (built with gcc at run time); its Go twin, the module in the go directory beside it, is built with go build")
	flag.BoolVar(&o.skipInstall, "skip-install", false, "do not apt-get install missing tools")
	flag.BoolVar(&o.noProfile, "no-profile", false, "skip the perf CPU profiles")
	flag.BoolVar(&o.noWhole, "no-whole-machine", false, "skip the unpinned two-core mode")
	flag.BoolVar(&o.noLog, "no-access-log", false, "skip the access-log mode")
	flag.BoolVar(&o.cold, "cold", false, "run only the cold-cache mix (epfs with and without its I/O pool, nginx with and without aio threads) and write cold.{json,md}")
	flag.BoolVar(&o.compress, "compress", false, "run only the compression mode (jQuery and Bootstrap from npm at pinned versions and a large HTML page; epfs identity and compressed against nginx gzip on at levels 1 and 6) and write compress.{json,md}")
	flag.Parse()
	if o.quick {
		o.duration, o.rounds = 2*time.Second, 1
	}
	if o.duration < time.Second {
		o.duration = time.Second
	}
	o.rounds = max(o.rounds, 1)
	return o
}

func main() {
	o := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchpeers:", err)
		os.Exit(1)
	}
}

// run does the whole benchmark; servers are stopped on every path out.
func run(ctx context.Context, o options) error {
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("need at least 2 CPUs to pin the server and wrk apart, have %d", runtime.NumCPU())
	}
	if !o.skipInstall {
		if err := ensureTools(logf); err != nil {
			return err
		}
	}
	if err := raiseNofile(); err != nil {
		return err
	}
	modRoot, err := moduleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(o.ceilingSrc) {
		o.ceilingSrc = filepath.Join(modRoot, o.ceilingSrc)
	}
	if !filepath.IsAbs(o.out) {
		o.out = filepath.Join(modRoot, o.out)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchpeers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// nginx's workers run as nobody and must reach the docroot.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	b := &bench{tmp: tmp, root: filepath.Join(tmp, "root"), usePerf: perfWorks()}
	logf("building epfs, the Go peers and the ceiling responder")
	if b.bins, err = buildPrograms(modRoot, o.ceilingSrc, filepath.Join(tmp, "bin")); err != nil {
		return err
	}
	if b.wrkLua, err = writeWrkScript(tmp); err != nil {
		return err
	}
	if o.compress {
		return b.runCompress(ctx, o)
	}
	if err := makeDocroot(b.root); err != nil {
		return err
	}
	res := &Results{Machine: machineInfo(), Command: strings.Join(append([]string{"benchpeers"}, os.Args[1:]...), " "),
		Servers: strings.Split(o.servers, ","), workloads: map[string][]workload{}}
	if !b.usePerf {
		res.note("perf cannot count syscall tracepoints here: syscalls come from strace -c -f, without a per-thread split")
	}
	if o.cold {
		res.Servers = coldServers
		b.runCold(ctx, o, res)
	} else {
		b.runAll(ctx, o, res)
	}
	res.Machine.LoadEnd = loadavg()
	if ctx.Err() != nil {
		res.note("interrupted: %v", ctx.Err())
	}
	return writeReport(o, res)
}

// runAll runs the three modes in turn.
func (b *bench) runAll(ctx context.Context, o options, res *Results) {
	servers := res.Servers
	one := mode{Name: pinned, Workers: 1, ServerCPU: "0", WrkCPU: "1", WrkThreads: 1}
	w1k := workload{Name: wl1K, Path: "/1k.bin", Size: 1 << 10, Conns: 64}
	w64k := workload{Name: wl64K, Path: "/64k.bin", Size: 64 << 10, Conns: 64}
	w100m := workload{Name: wl100M, Path: "/100m.bin", Size: 100 << 20, Conns: 4}
	sweep := []int{1, 16, 256, 1024}
	if o.quick {
		sweep = []int{1, 1024}
	}
	wls := []workload{w1k, w64k, w100m}
	for _, c := range sweep {
		wls = append(wls, workload{Name: fmt.Sprintf("1KiB c%d", c), Path: "/1k.bin", Size: 1 << 10, Conns: c})
	}
	modes := []struct {
		m       mode
		servers []string
		wls     []workload
	}{{one, servers, wls}}
	if !o.noLog {
		logMode := one
		logMode.Name, logMode.AccessLog = "log", true
		modes = append(modes, struct {
			m       mode
			servers []string
			wls     []workload
		}{logMode, only(servers, srvEpfs, srvNginx), []workload{w1k}})
	}
	if !o.noWhole {
		whole := mode{Name: "2core", Workers: 2, WrkThreads: 2}
		modes = append(modes, struct {
			m       mode
			servers []string
			wls     []workload
		}{whole, servers, []workload{w1k, w64k, w100m}})
	}
	runs := 0
	for _, md := range modes {
		runs += len(md.servers) * len(md.wls) * o.rounds
	}
	logf("%d measured runs of %v, plus warm-up, syscall counts, profiles and idle memory", runs, o.duration)

	for _, md := range modes {
		res.modes = append(res.modes, md.m)
		res.workloads[md.m.Name] = md.wls
		f, err := b.startFleet(md.m, md.servers, md.wls)
		if err != nil {
			res.note("%s: %v", md.m.Name, err)
			continue
		}
		if err := b.warm(ctx, f, md.m, md.servers, md.wls); err != nil {
			res.note("%s: %v", md.m.Name, err)
		}
		b.runRounds(ctx, f, md.m, md.servers, md.wls, o.rounds, o.duration, res)
		if md.m.Name == pinned {
			b.countSyscalls(ctx, f, md.m, md.servers, w1k, min(o.duration, 5*time.Second), o.out, res)
			if !o.noProfile && b.usePerf {
				pd := min(o.duration, 5*time.Second)
				for _, p := range []struct {
					srv string
					w   workload
				}{{srvEpfs, w1k}, {srvNginx, w1k}, {srvEpfs, w100m}, {srvNginx, w100m}} {
					if slicesContains(md.servers, p.srv) {
						b.recordProfile(ctx, f, md.m, p.srv, p.w, pd, o.out, res)
					}
				}
			}
		}
		f.stop()
		if md.m.Name == pinned {
			b.measureIdleAll(ctx, md.m, md.servers, o.idleConns, o.rounds, res)
		}
	}
}

// only keeps the names in have that are among want, in have's order.
func only(have []string, want ...string) []string {
	var out []string
	for _, h := range have {
		if slicesContains(want, h) {
			out = append(out, h)
		}
	}
	return out
}

func slicesContains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

// writeReport summarises and writes results.json, results.md and sweep.svg.
func writeReport(o options, res *Results) error {
	res.summarise()
	res.evaluateGoals()
	base := "results"
	if o.cold {
		base = "cold" // leave the main run's results in place
	} else if err := res.chart(filepath.Join(o.out, "sweep.svg")); err != nil {
		res.note("chart: %v", err)
	}
	if err := res.writeJSON(filepath.Join(o.out, base+".json")); err != nil {
		return err
	}
	md := fmt.Sprintf("## Results %s\n\nMachine: %s, %d cores, %s, Linux %s; %s; %s; %s. Load average %s at the start, %s at the end.\n\nCommand: `%s`\n\n%s",
		res.Machine.Date, res.Machine.CPU, res.Machine.Cores, res.Machine.MemTotal, res.Machine.Kernel,
		res.Machine.Go, res.Machine.Nginx, res.Machine.Wrk, res.Machine.LoadStart, res.Machine.LoadEnd,
		res.Command, res.markdown())
	if err := os.WriteFile(filepath.Join(o.out, base+".md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	logf("wrote %s/%s.{json,md}", o.out, base)
	return nil
}

// raiseNofile lifts the soft descriptor limit to the hard one. Calling
// Setrlimit explicitly (rather than relying on the Go runtime's own raise)
// also makes the children — wrk with 1,024 connections, the ceiling
// responder with 5,000 — inherit the raised limit: Go restores the
// original soft limit in children only if the program never set it.
func raiseNofile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur < 12000 {
		return fmt.Errorf("RLIMIT_NOFILE hard limit %d is below what 5,000 idle connections need", lim.Max)
	}
	return nil
}

// moduleRoot is the directory of the epfs go.mod.
func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from inside the epfs module (make bench-peers does)")
	}
	return filepath.Dir(gomod), nil
}

// machineInfo describes the machine for the report.
func machineInfo() Machine {
	m := Machine{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), Cores: runtime.NumCPU(),
		Go: runtime.Version(), LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(v, &kb)
				m.MemTotal = fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := exec.Command("nginx", "-v").CombinedOutput(); err == nil {
		m.Nginx = strings.TrimPrefix(strings.TrimSpace(string(b)), "nginx version: ")
	}
	if b, _ := exec.Command("wrk", "-v").CombinedOutput(); len(b) > 0 {
		m.Wrk = strings.Fields(string(b))[0] + " " + strings.Fields(string(b))[1]
	}
	return m
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
