package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The runtime part: what the Go runtime costs a raw epoll loop. Each
// server runs pinned to runtimeServerCPU serving a 1 KiB body while wrk
// -t1 -c64 drives it from runtimeClientCPU; perf counts the futex and
// nanosleep calls of the whole process (the runtime's threads waking each
// other and sysmon sleeping) and all its syscalls; the loop thread's
// context switches come from /proc/PID/task/TID/status and the process's
// CPU from /proc/PID/stat. Rounds interleave the servers, so that a
// change in the shared machine's load lands on every server alike.
const (
	runtimeServerCPU = "0"
	runtimeClientCPU = "1"
	runtimeConns     = 64
	runtimeBody      = 1 << 10
	// perfLead is how long perf is attached before wrk starts (perf stat
	// prints nothing when it is ready, so the study gives it this long),
	// and perf stays attached as long again after wrk's run.
	perfLead = 200 * time.Millisecond
)

// runtimeServer is one row of the runtime table.
type runtimeServer struct {
	name  string // the table's label
	short string // the chart's label
	kind  string // "c", "go" (the ceiling responders) or "epfs"
	env   []string
}

// runtimeServers are the rows, in table order. The epfs rows differ only
// in GOMAXPROCS: its default (--loops + 1, a spare P for sysmon to find
// idle) and 1, which leaves the loop's P to be retaken (README, "Sizing
// the scheduler").
var runtimeServers = []runtimeServer{
	{name: "C ceiling", short: "C", kind: "c"},
	{name: "Go ceiling (x/sys, GOMAXPROCS=1)", short: "Go x/sys", kind: "go", env: []string{"GOMAXPROCS=1"}},
	{name: "epfs, 1 loop, GOMAXPROCS default (loops+1 = 2)", short: "epfs", kind: "epfs"},
	{name: "epfs, 1 loop, GOMAXPROCS=1", short: "epfs 1 P", kind: "epfs", env: []string{"GOMAXPROCS=1"}},
}

// runtimeResult is one server's rounds.
type runtimeResult struct {
	Server string         `json:"server"`
	Short  string         `json:"short"`
	Rounds []runtimeRound `json:"rounds"`
}

// runtimeRound is one measured wrk run against one server.
type runtimeRound struct {
	Requests    int64   `json:"requests"` // wrk's count
	RPS         float64 `json:"requests_per_second"`
	CPU         float64 `json:"process_cpu_seconds"` // utime+stime over wrk's run
	PerfSeconds float64 `json:"perf_seconds"`        // how long perf counted
	Futex       float64 `json:"futex"`               // whole process, over PerfSeconds
	Nanosleep   float64 `json:"nanosleep"`
	Syscalls    float64 `json:"syscalls"`    // every syscall of the process
	Voluntary   float64 `json:"loop_cs_vol"` // loop thread, over wrk's run
	Involuntary float64 `json:"loop_cs_invol"`
}

// CPUMicros is the process's CPU per request, in µs.
func (r *runtimeRound) CPUMicros() float64 { return r.CPU * 1e6 / float64(r.Requests) }

// Wakeups is futex plus nanosleep calls per second.
func (r *runtimeRound) Wakeups() float64 { return (r.Futex + r.Nanosleep) / r.PerfSeconds }

// perReq divides a count by the round's requests.
func (r *runtimeRound) perReq(v float64) float64 { return v / float64(r.Requests) }

// runtimeTool is a program the runtime part needs and the Debian package
// that has it.
type runtimeTool struct{ bin, pkg string }

var runtimeTools = []runtimeTool{{"wrk", "wrk"}, {"perf", "linux-perf"}, {"gcc", "gcc"}, {"taskset", "util-linux"}}

// runtimeMissing says what keeps the runtime part from running here, in
// one line that names the packages to install; "" if nothing does.
func runtimeMissing(ceiling string) string {
	var bins, pkgs []string
	for _, t := range runtimeTools {
		if _, err := exec.LookPath(t.bin); err != nil {
			bins, pkgs = append(bins, t.bin), append(pkgs, t.pkg)
		}
	}
	if len(bins) > 0 {
		return fmt.Sprintf("missing %s (apt-get install %s)", strings.Join(bins, ", "), strings.Join(pkgs, " "))
	}
	if _, err := os.Stat(filepath.Join(ceiling, "ceiling.c")); err != nil {
		return fmt.Sprintf("no ceiling responder (-ceiling): %v", err)
	}
	if runtime.NumCPU() < 2 {
		return fmt.Sprintf("%d CPU: the server and wrk need one each", runtime.NumCPU())
	}
	// perf needs the syscall tracepoints (tracefs, perf_event_paranoid).
	if b, err := exec.Command("perf", "stat", "-x,", "-e", "syscalls:sys_enter_futex", "--", "true").CombinedOutput(); err != nil {
		return fmt.Sprintf("perf cannot count syscalls:sys_enter_futex here: %v: %s", err, strings.TrimSpace(string(b)))
	}
	return ""
}

// buildCeilings builds the C responder with gcc and its Go twin with go
// build from the ceiling directory into dir, never into the source tree.
func buildCeilings(src, dir string) (cBin, goBin string, err error) {
	cBin, goBin = filepath.Join(dir, "ceiling"), filepath.Join(dir, "ceiling-go")
	if b, err := exec.Command("gcc", "-O2", "-o", cBin, filepath.Join(src, "ceiling.c")).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("gcc %s: %w: %s", filepath.Join(src, "ceiling.c"), err, b)
	}
	cmd := exec.Command("go", "build", "-o", goBin, ".")
	cmd.Dir = filepath.Join(src, "go")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build in %s: %w: %s", cmd.Dir, err, b)
	}
	return cBin, goBin, nil
}

// studyRuntime measures every runtime server for rounds interleaved rounds
// of d each; warm is the wrk run before each measured one (0: none).
func studyRuntime(ctx context.Context, cfg *config, root string) ([]runtimeResult, error) {
	tmp, err := os.MkdirTemp("", "epfs-study-runtime-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cBin, goBin, err := buildCeilings(cfg.ceiling, tmp)
	if err != nil {
		return nil, err
	}
	bins := map[string]string{"c": cBin, "go": goBin, "epfs": cfg.epfs}
	out := make([]runtimeResult, len(runtimeServers))
	for i, s := range runtimeServers {
		out[i] = runtimeResult{Server: s.name, Short: s.short}
	}
	for round := 1; round <= cfg.rounds; round++ {
		for i, s := range runtimeServers {
			r, err := runtimeRun(ctx, cfg, s, bins[s.kind], root, filepath.Join(tmp, "perf.csv"))
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", s.name, round, err)
			}
			fmt.Printf("study: runtime round %d %-48s %7.0f req/s  %6.2f µs CPU/req  %6.0f futex+nanosleep/s\n",
				round, s.name, r.RPS, r.CPUMicros(), r.Wakeups())
			out[i].Rounds = append(out[i].Rounds, r)
		}
	}
	return out, nil
}

// runtimeRun starts one server pinned to its CPU, checks one response,
// warms it up, and measures one wrk run under perf.
func runtimeRun(ctx context.Context, cfg *config, s runtimeServer, bin, root, perfOut string) (runtimeRound, error) {
	var res runtimeRound
	pin := []string{"taskset", "-c", runtimeServerCPU}
	var p *epfsProc
	var err error
	if s.kind == "epfs" {
		p, err = launchEpfs(ctx, pin, s.env, bin, "serve", "--root", root, "--listen", "127.0.0.1:0",
			"--loops", "1", "--access-log", "off", "--admin-listen", "127.0.0.1:0")
	} else {
		p, err = startCeiling(ctx, pin, s.env, bin)
	}
	if err != nil {
		return res, err
	}
	defer p.stop()
	url := "http://" + p.addr + "/" + fileName(runtimeBody)
	cl, err := dialClient(p.addr, "/"+fileName(runtimeBody))
	if err != nil {
		return res, err
	}
	err = cl.get(runtimeBody)
	cl.close()
	if err != nil {
		return res, fmt.Errorf("first response: %w", err)
	}
	if cfg.warm > 0 {
		if _, err := runWrkText(ctx, url, cfg.warm); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	pid := p.cmd.Process.Pid // taskset execs the server: its PID is the server's
	if p.tid == 0 {
		if p.tid, err = busiestThread(pid); err != nil {
			return res, err
		}
	}
	procStat := fmt.Sprintf("/proc/%d/stat", pid)
	loopStatus := fmt.Sprintf("/proc/%d/task/%d/status", pid, p.tid)
	window := cfg.round + 2*perfLead
	perf := exec.CommandContext(ctx, "perf", "stat", "-x,", "-o", perfOut,
		"-e", "syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,raw_syscalls:sys_enter",
		"-p", strconv.Itoa(pid), "--", "sleep", strconv.FormatFloat(window.Seconds(), 'f', 3, 64))
	var perfMsg strings.Builder
	perf.Stdout, perf.Stderr = &perfMsg, &perfMsg
	if err := perf.Start(); err != nil {
		return res, fmt.Errorf("perf stat: %w", err)
	}
	perfDone := make(chan error, 1)
	go func() {
		if err := perf.Wait(); err != nil {
			perfDone <- fmt.Errorf("perf stat: %w: %s", err, perfMsg.String())
		}
		close(perfDone)
	}()
	time.Sleep(perfLead) // the measuring harness, not a server, waits here
	v0, n0, err1 := contextSwitches(loopStatus)
	c0, err2 := cpuTime(procStat)
	w, err3 := runWrkText(ctx, url, cfg.round)
	v1, n1, err4 := contextSwitches(loopStatus)
	c1, err5 := cpuTime(procStat)
	err6 := <-perfDone
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return res, err
	}
	counts, err := readPerfCSV(perfOut)
	if err != nil {
		return res, err
	}
	res = runtimeRound{
		Requests: w.requests, RPS: w.rps, CPU: (c1 - c0).Seconds(), PerfSeconds: window.Seconds(),
		Futex: counts["syscalls:sys_enter_futex"], Nanosleep: counts["syscalls:sys_enter_nanosleep"],
		Syscalls: counts["raw_syscalls:sys_enter"], Voluntary: v1 - v0, Involuntary: n1 - n0,
	}
	if res.Requests == 0 {
		return res, errors.New("wrk completed no request")
	}
	return res, nil
}

// startCeiling runs a ceiling responder (PORT mem 1024) on a free port
// and waits until it accepts connections. A ceiling responder is one
// thread, or one goroutine locked to one: its loop thread is found after
// the warm-up, as the busiest.
func startCeiling(ctx context.Context, prefix, env []string, bin string) (*epfsProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), prefix...), bin, strconv.Itoa(port), "mem", strconv.Itoa(runtimeBody))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &epfsProc{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s: not listening on %s within 10s: %w", bin, p.addr, err)
		}
	}
}

// freePort is a loopback port nothing listens on now (the kernel's pick
// for port 0; another process could take it before the responder binds,
// which shows as a failed start).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// busiestThread is the thread of pid with the most CPU time; on a tie,
// the main thread (tid == pid), where both ceiling responders loop.
func busiestThread(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	best, bestCPU := pid, time.Duration(-1)
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cpu, err := cpuTime(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // the thread exited
		}
		if cpu > bestCPU || (cpu == bestCPU && tid == pid) {
			best, bestCPU = tid, cpu
		}
	}
	return best, nil
}

// contextSwitches reads a thread's voluntary and involuntary context
// switches from its status file (proc_pid_status(5)).
func contextSwitches(path string) (vol, invol float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	return parseContextSwitches(string(b))
}

func parseContextSwitches(status string) (vol, invol float64, err error) {
	found := 0
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "voluntary_ctxt_switches" && k != "nonvoluntary_ctxt_switches") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("status: %s %q", k, v)
		}
		if k == "voluntary_ctxt_switches" {
			vol = n
		} else {
			invol = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("status: no context switch counts")
	}
	return vol, invol, nil
}

// readPerfCSV reads perf stat -x, output: one line per event, the count
// first and the event's name third (perf-stat(1), "CSV FORMAT"). A count
// of "<not counted>" is an event that never ran: the process did not run
// while perf watched, so 0.
func readPerfCSV(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parsePerfCSV(string(b))
}

func parsePerfCSV(text string) (map[string]float64, error) {
	counts := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			return nil, fmt.Errorf("perf stat line %q", line)
		}
		switch f[0] {
		case "<not counted>", "<not supported>":
			counts[f[2]] = 0
			continue
		}
		n, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("perf stat line %q", line)
		}
		counts[f[2]] = n
	}
	if len(counts) == 0 {
		return nil, errors.New("perf stat wrote no counts")
	}
	return counts, nil
}

// wrkText is what the study takes from wrk's summary.
type wrkText struct {
	requests int64
	rps      float64
}

// runWrkText runs wrk -t1 -c64 for d (whole seconds: wrk's -d has no
// smaller unit) pinned to the client CPU, and reads its text summary.
func runWrkText(ctx context.Context, url string, d time.Duration) (wrkText, error) {
	secs := max(1, int(d.Round(time.Second).Seconds()))
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "taskset", "-c", runtimeClientCPU, "wrk", "-t1",
		"-c"+strconv.Itoa(runtimeConns), "-d"+strconv.Itoa(secs)+"s", "--timeout", "10s", url)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return wrkText{}, fmt.Errorf("wrk: %w: %s", err, b)
	}
	return parseWrkText(string(b))
}

// parseWrkText reads "N requests in …", "Requests/sec: R", and refuses a
// run with errors ("Socket errors: …", "Non-2xx or 3xx responses: …").
func parseWrkText(out string) (wrkText, error) {
	var w wrkText
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return w, fmt.Errorf("wrk: %q", sc.Text())
			}
			w.requests = n
		case len(f) == 2 && f[0] == "Requests/sec:":
			r, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return w, fmt.Errorf("wrk: %q", sc.Text())
			}
			w.rps = r
		case slices.Contains([]string{"Socket", "Non-2xx"}, firstField(f)):
			return w, fmt.Errorf("wrk: %s", strings.TrimSpace(sc.Text()))
		}
	}
	if w.requests == 0 || w.rps == 0 {
		return w, fmt.Errorf("wrk: no request count in %q", out)
	}
	return w, nil
}

func firstField(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
