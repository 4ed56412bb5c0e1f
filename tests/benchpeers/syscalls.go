package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syscallCounts is how many syscalls each thread made, by syscall name.
// With strace, which cannot split by thread, everything is under thread 0.
type syscallCounts map[int]map[string]int64

// add records n calls of name by thread tid.
func (c syscallCounts) add(tid int, name string, n int64) {
	if c[tid] == nil {
		c[tid] = map[string]int64{}
	}
	c[tid][name] += n
}

// total is the number of calls by thread tid, or by every thread if tid < 0.
func (c syscallCounts) total(tid int) int64 {
	var n int64
	for t, m := range c {
		if tid >= 0 && t != tid {
			continue
		}
		for _, k := range m {
			n += k
		}
	}
	return n
}

// busiest is the thread that made the most syscalls: for epfs with one
// loop it is the loop's locked thread, for nginx the worker itself.
func (c syscallCounts) busiest() int {
	best, bestN := -1, int64(-1)
	for t := range c {
		if n := c.total(t); n > bestN || (n == bestN && t < best) {
			best, bestN = t, n
		}
	}
	return best
}

// byName sums the calls of thread tid (every thread if tid < 0) by name.
func (c syscallCounts) byName(tid int) map[string]int64 {
	out := map[string]int64{}
	for t, m := range c {
		if tid >= 0 && t != tid {
			continue
		}
		for k, n := range m {
			out[k] += n
		}
	}
	return out
}

// tracedSyscalls are the syscalls perf counts one by one: those on the
// serving path of any of the servers and those the Go runtime makes.
// Counting every syscalls:sys_enter_* tracepoint instead would open some
// 350 events per thread, which takes perf seconds per server to attach;
// raw_syscalls:sys_enter counts the rest, reported as "other".
var tracedSyscalls = []string{
	"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
	"sendfile64", "splice", "pread64", "pwrite64",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "accept", "accept4",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown", "close",
	"openat", "openat2", "newfstat", "newfstatat", "statx", "fcntl", "ioctl",
	"futex", "nanosleep", "clock_nanosleep", "sched_yield", "madvise", "mmap", "munmap",
	"rt_sigreturn", "rt_sigprocmask", "tgkill", "getpid", "gettid", "getrandom",
	"eventfd2", "timerfd_settime", "clock_gettime", "io_uring_enter",
}

// otherSyscalls is the name under which calls not in tracedSyscalls are
// counted.
const otherSyscalls = "other"

// parsePerfStat reads `perf stat --per-thread -x,` output. Each line is
// "comm-tid,count,unit,event,..."; a thread that never ran while counted
// shows "<not counted>" and counts as zero. raw_syscalls:sys_enter is
// every syscall; what the named events do not account for is "other".
func parsePerfStat(b []byte) (syscallCounts, error) {
	c := syscallCounts{}
	raw := map[int]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		dash := strings.LastIndexByte(f[0], '-')
		if dash < 0 {
			continue
		}
		tid, err := strconv.Atoi(f[0][dash+1:])
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n == 0 {
			continue // "<not counted>" or "<not supported>"
		}
		if f[3] == "raw_syscalls:sys_enter" {
			raw[tid] += n
		} else if name, ok := strings.CutPrefix(f[3], "syscalls:sys_enter_"); ok {
			c.add(tid, name, n)
		}
	}
	for tid, n := range raw {
		if rest := n - c.total(tid); rest > 0 {
			c.add(tid, otherSyscalls, rest)
		}
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("perf stat: no syscall counts in %q", tail(b, 400))
	}
	return c, nil
}

// parseStraceSummary reads the table `strace -c` writes:
//
//	% time     seconds  usecs/call     calls    errors syscall
//	------ ----------- ----------- --------- --------- ----------------
//	 62.10    0.123456           3     40000           writev
//	...
//	100.00    0.200000           2     80000       123 total
//
// The errors column is blank when a syscall never failed.
func parseStraceSummary(b []byte) (syscallCounts, error) {
	c := syscallCounts{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 && len(f) != 6 {
			continue
		}
		name := f[len(f)-1]
		if name == "total" || name == "syscall" {
			continue
		}
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			continue
		}
		c.add(0, name, n)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("strace: no summary table in %q", tail(b, 400))
	}
	return c, nil
}

// perfWorks reports whether perf can count syscall tracepoints here (it
// needs the perf binary, tracefs and a permissive perf_event_paranoid).
func perfWorks() bool {
	cmd := exec.Command("perf", "stat", "-e", "raw_syscalls:sys_enter", "true")
	return cmd.Run() == nil
}

// tracer counts the syscalls of running processes until stopped.
type tracer struct {
	cmd  *exec.Cmd
	out  string
	perf bool
	ctl  *os.File // perf's control FIFO, which we write
	ack  *os.File // perf's acknowledgement FIFO, which we read
}

// startTracer attaches perf stat (or strace -c -f) to pids, writing to
// out, and returns once counting has begun. perf starts with its events
// disabled (-D -1) and is enabled through its control FIFO: the "ack" that
// comes back proves it has attached to every thread, so the load that
// follows is counted from its first request.
func startTracer(usePerf bool, dir string, pids []int, out string) (*tracer, error) {
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	t := &tracer{out: out, perf: usePerf}
	if !usePerf {
		args := []string{"-c", "-f", "-q", "-o", out}
		for _, p := range list {
			args = append(args, "-p", p)
		}
		t.cmd = exec.Command("strace", args...)
		if err := t.cmd.Start(); err != nil {
			return nil, err
		}
		// strace has no readiness signal; attaching to a handful of
		// threads takes well under this.
		time.Sleep(time.Second)
		return t, nil
	}
	ctl, ack := filepath.Join(dir, "perf-ctl"), filepath.Join(dir, "perf-ack")
	for _, p := range []string{ctl, ack} {
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			return nil, err
		}
	}
	args := []string{"stat", "--per-thread", "-x,", "-o", out, "-D", "-1",
		"--control", "fifo:" + ctl + "," + ack, "-e", "raw_syscalls:sys_enter"}
	for _, name := range tracedSyscalls {
		args = append(args, "-e", "syscalls:sys_enter_"+name)
	}
	args = append(args, "-p", strings.Join(list, ","))
	t.cmd = exec.Command("perf", args...)
	var err error
	// O_RDWR opens of a FIFO never block on Linux, whoever opens first.
	if t.ctl, err = os.OpenFile(ctl, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	if t.ack, err = os.OpenFile(ack, os.O_RDWR, 0); err != nil {
		t.ctl.Close()
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		t.closeFIFOs()
		return nil, err
	}
	if err := t.command("enable"); err != nil {
		t.cmd.Process.Kill()
		t.cmd.Wait()
		t.closeFIFOs()
		return nil, err
	}
	return t, nil
}

// command sends perf a control command and waits for its "ack".
func (t *tracer) command(cmd string) error {
	if _, err := t.ctl.WriteString(cmd + "\n"); err != nil {
		return err
	}
	t.ack.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 16)
	n, err := t.ack.Read(buf)
	if err != nil {
		return fmt.Errorf("perf stat %s: no ack: %w", cmd, err)
	}
	if !strings.HasPrefix(string(buf[:n]), "ack") {
		return fmt.Errorf("perf stat %s: answered %q", cmd, buf[:n])
	}
	return nil
}

func (t *tracer) closeFIFOs() {
	t.ctl.Close()
	t.ack.Close()
}

// stop ends counting and parses the counts. perf is disabled first (so
// nothing after the load is counted), then both tools get SIGINT, on which
// they write their totals.
func (t *tracer) stop() (syscallCounts, error) {
	if t.perf {
		t.command("disable")
		defer t.closeFIFOs()
	}
	t.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.cmd.Process.Kill()
		<-done
	}
	b, err := os.ReadFile(t.out)
	if err != nil {
		return nil, err
	}
	if t.perf {
		return parsePerfStat(b)
	}
	return parseStraceSummary(b)
}

// SyscallResult is the syscall profile of one server on one workload.
type SyscallResult struct {
	Server   string             `json:"server"`
	Workload string             `json:"workload"`
	Tool     string             `json:"tool"` // "perf stat" or "strace -c -f"
	Requests int64              `json:"requests"`
	Process  Num                `json:"per_request_process"`
	Thread   Num                `json:"per_request_busiest_thread"` // NaN with strace
	ByName   map[string]float64 `json:"per_request_by_syscall"`     // whole process
	ThreadBy map[string]float64 `json:"per_request_by_syscall_busiest_thread,omitempty"`
}

// syscallResult turns counts over requests into per-request figures.
func syscallResult(server, workload string, usePerf bool, c syscallCounts, requests int64) SyscallResult {
	r := SyscallResult{Server: server, Workload: workload, Requests: requests, Tool: "strace -c -f"}
	per := func(n int64) Num { return Num(float64(n) / float64(requests)) }
	r.Process = per(c.total(-1))
	r.ByName = perMap(c.byName(-1), requests)
	r.Thread = Num(nan)
	if usePerf {
		r.Tool = "perf stat"
		t := c.busiest()
		r.Thread = per(c.total(t))
		r.ThreadBy = perMap(c.byName(t), requests)
	}
	return r
}

func perMap(m map[string]int64, requests int64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, n := range m {
		out[k] = float64(n) / float64(requests)
	}
	return out
}

// topSyscalls formats the largest entries of m as "name 1.00, name 0.50",
// leaving out those below 0.005 per request.
func topSyscalls(m map[string]float64, n int) string {
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range m {
		if v >= 0.005 {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return all[i].k < all[j].k
	})
	if len(all) > n {
		all = all[:n]
	}
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = fmt.Sprintf("%s %.2f", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}

// profile records a CPU profile of pids with perf record for d and writes
// perf report's listings to out. It is evidence for the
// report, so failure is returned rather than fatal.
func profile(ctx context.Context, pids []int, d time.Duration, dataFile, out string) error {
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	secs := strconv.Itoa(int(d.Seconds()))
	rec := exec.CommandContext(ctx, "perf", "record", "-F", "1999", "-g", "-o", dataFile,
		"-p", strings.Join(list, ","), "--", "sleep", secs)
	if b, err := rec.CombinedOutput(); err != nil {
		return fmt.Errorf("perf record: %w: %s", err, tail(b, 300))
	}
	// Three views: the split between kernel and user space; the flat
	// symbol list (in a VM without a PMU perf samples on cpu-clock, and
	// kernel samples pile up where interrupts are re-enabled, so read it
	// with care); and inclusive ("children") time by symbol, which charges
	// each syscall's kernel work to the Go or C function that made it.
	var b []byte
	for _, view := range [][]string{
		{"--no-children", "--sort", "dso"},
		{"--no-children", "--sort", "dso,symbol", "--percent-limit", "0.5"},
		{"--children", "--sort", "symbol", "--percent-limit", "3"},
	} {
		args := append([]string{"report", "-i", dataFile, "--stdio", "-g", "none"}, view...)
		rep, err := exec.CommandContext(ctx, "perf", args...).Output()
		if err != nil {
			return fmt.Errorf("perf %s: %w", strings.Join(args, " "), err)
		}
		b = append(b, fmt.Sprintf("\n#### perf %s\n", strings.Join(args, " "))...)
		b = append(b, rep...)
	}
	return os.WriteFile(out, b, 0o644)
}
