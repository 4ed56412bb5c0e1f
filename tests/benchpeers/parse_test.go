package main

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		name          string
		in            []float64
		med, min, max float64
		n             int
	}{
		{"odd", []float64{3, 1, 2}, 2, 1, 3, 3},
		{"even averages the middle two", []float64{4, 1, 3, 2}, 2.5, 1, 4, 4},
		{"one", []float64{7}, 7, 7, 7, 1},
		{"failed runs are left out", []float64{math.NaN(), 5, 1}, 3, 1, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spreadOf(tc.in)
			if float64(s.Median) != tc.med || float64(s.Min) != tc.min || float64(s.Max) != tc.max || s.N != tc.n {
				t.Errorf("spreadOf(%v) = %+v, want median %v min %v max %v n %d", tc.in, s, tc.med, tc.min, tc.max, tc.n)
			}
		})
	}
	if s := spreadOf(nil); s.N != 0 || !math.IsNaN(float64(s.Median)) {
		t.Errorf("spreadOf(nil) = %+v, want N 0 and NaN", s)
	}
}

func TestNumJSON(t *testing.T) {
	for _, tc := range []struct {
		in   Num
		want string
	}{{Num(1.5), "1.5"}, {Num(math.NaN()), "null"}, {Num(math.Inf(1)), "null"}} {
		b, err := tc.in.MarshalJSON()
		if err != nil || string(b) != tc.want {
			t.Errorf("MarshalJSON(%v) = %s, %v; want %s", float64(tc.in), b, err, tc.want)
		}
	}
	var n Num
	if err := n.UnmarshalJSON([]byte("null")); err != nil || !math.IsNaN(float64(n)) {
		t.Errorf("UnmarshalJSON(null) = %v, %v; want NaN", float64(n), err)
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with a space and a parenthesis, as a thread may have:
	// only the last ')' ends it.
	line := "4242 (my (srv) x) S 17 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 3 0 12345 1000000 500 18446744073709551615\n"
	s, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.Comm != "my (srv) x" || s.PPID != 17 || s.Utime != 250 || s.Stime != 75 {
		t.Errorf("parseProcStat = %+v", s)
	}
	for _, bad := range []string{"", "12 noparen S 1", "12 (x) S 1 2 3"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) did not fail", bad)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tnginx\nVmPeak:\t   20000 kB\nVmRSS:\t    5120 kB\nThreads:\t1\n"
	if n, err := parseVmRSS([]byte(status)); err != nil || n != 5120<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", n, err, 5120<<10)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS line did not fail")
	}
}

func TestProcSelf(t *testing.T) {
	// The parsers must agree with the running kernel's format.
	if _, err := cpuMicros([]int{os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if n, err := rssBytes([]int{os.Getpid()}); err != nil || n <= 0 {
		t.Fatalf("rssBytes(self) = %d, %v", n, err)
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:4000/1k.bin
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   500.00us  100.00us   5.00ms   90.00%
  1000000 requests in 10.00s, 1.20GB read
Requests/sec: 100000.00
Transfer/sec:    123.00MB
WRKRESULT {"duration_us":10000000,"requests":1000000,"bytes":1258291200,"err_connect":0,"err_read":0,"err_write":0,"err_status":2,"err_timeout":1,"p50_us":480,"p99_us":900,"max_us":5000}
`
	r, err := parseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 1_000_000 || r.P50Micros != 480 || r.P99Micros != 900 || r.Errors() != 3 {
		t.Errorf("parseWrk = %+v", r)
	}
	if got := r.RequestsPerSec(); got != 100_000 {
		t.Errorf("RequestsPerSec = %v", got)
	}
	if got := r.MiBPerSec(); got != 120 {
		t.Errorf("MiBPerSec = %v", got)
	}
	if _, err := parseWrk([]byte("Requests/sec: 5\n")); err == nil {
		t.Error("output without a result line did not fail")
	}
}

func TestParsePerfStat(t *testing.T) {
	out := `# started on Mon Jan  1 00:00:00 2026

epfs-100,2010,,raw_syscalls:sys_enter,1000,100.00,,
epfs-100,5,,syscalls:sys_enter_epoll_pwait,1000,100.00,,
epfs-100,1000,,syscalls:sys_enter_read,1000,100.00,,
epfs-100,1000,,syscalls:sys_enter_writev,1000,100.00,,
epfs-101,<not counted>,,syscalls:sys_enter_read,0,100.00,,
epfs-102,7,,raw_syscalls:sys_enter,1000,100.00,,
epfs-102,7,,syscalls:sys_enter_futex,1000,100.00,,Events disabled
my-prog-103,0,,syscalls:sys_enter_close,1000,100.00,,
`
	c, err := parsePerfStat([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.busiest(); got != 100 {
		t.Errorf("busiest = %d, want 100", got)
	}
	// raw_syscalls:sys_enter is the total; 5 calls of thread 100 are
	// not among the named ones.
	if got := c.total(-1); got != 2017 {
		t.Errorf("total = %d, want 2017", got)
	}
	r := syscallResult("epfs", "w", true, c, 1000)
	if float64(r.Thread) != 2.01 || float64(r.Process) != 2.017 || r.ByName["futex"] != 0.007 || r.ByName["other"] != 0.005 {
		t.Errorf("syscallResult = %+v", r)
	}
	if got, want := topSyscalls(r.ByName, 2), "read 1.00, writev 1.00"; got != want {
		t.Errorf("topSyscalls = %q, want %q", got, want)
	}
}

func TestParseStraceSummary(t *testing.T) {
	out := `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.060000           3     20000           writev
 30.00    0.030000           1     20000      5000 read
 10.00    0.010000          10      1000           epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00    0.100000           2     41000      5000 total
`
	c, err := parseStraceSummary([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	r := syscallResult("nginx", "w", false, c, 20000)
	if float64(r.Process) != 2.05 || r.ByName["read"] != 1 || !math.IsNaN(float64(r.Thread)) {
		t.Errorf("syscallResult = %+v", r)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567.6, "1,234,568"}, {-12345, "-12,345"}, {math.NaN(), "—"}} {
		if got := thousands(tc.in); got != tc.want {
			t.Errorf("thousands(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	s := spreadOf([]float64{100000, 90000, 120000})
	if got, want := spreadCell(s, thousands), "100,000 (90,000–120,000)"; got != want {
		t.Errorf("spreadCell = %q, want %q", got, want)
	}
}

func TestReportTables(t *testing.T) {
	// Two rounds of two servers: the markdown shows medians, the spread
	// and each server's ratio to nginx.
	res := &Results{Servers: []string{srvEpfs, srvNginx}, workloads: map[string][]workload{}}
	m := mode{Name: pinned, Workers: 1, ServerCPU: "0", WrkCPU: "1", WrkThreads: 1}
	w := workload{Name: wl1K, Path: "/1k.bin", Size: 1 << 10, Conns: 64}
	res.modes = []mode{m}
	res.workloads[pinned] = []workload{w}
	add := func(srv string, rps, cpu float64) {
		res.Samples = append(res.Samples, Sample{Mode: pinned, Workload: wl1K, Server: srv,
			RPS: Num(rps), CPUusPerReq: Num(cpu), P50us: 400, P99us: 900, MiBps: 1, CPUmsPerGiB: 1})
	}
	add(srvEpfs, 150000, 4)
	add(srvEpfs, 130000, 5)
	add(srvNginx, 100000, 8)
	add(srvNginx, 100000, 8)
	res.summarise()
	res.evaluateGoals()
	md := res.markdown()
	for _, want := range []string{
		"| epfs | 140,000 (130,000–150,000) | 1.40× |",
		"| 4.50 (4.00–5.00) | 0.56× |",
		"| nginx | 100,000 (100,000–100,000) | 1.00× |",
		"| 1 KiB CPU/req ≤ 0.7× nginx | 0.56× nginx | met |",
		"| 1 KiB req/s ≥ fasthttp | — | not measured |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
