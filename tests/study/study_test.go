package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis: fields are counted
	// from the last ')'. utime 150 and stime 50 ticks.
	stat := "1234 (ep fs)) S 1 1234 1234 0 -1 4194304 100 0 0 0 150 50 0 0 20 0 3 0 42 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * time.Second; got != want {
		t.Errorf("cpu %v, want %v", got, want)
	}
	if _, err := parseStatCPU("1234 (x) S 1 2"); err == nil {
		t.Error("a short line parsed")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# TYPE epfs_syscalls_total counter
epfs_syscalls_total{loop="0",result="ok",syscall="sendfile"} 10
epfs_syscalls_total{loop="0",result="eagain",syscall="sendfile"} 3
epfs_syscalls_total{loop="0",result="ok",syscall="read"} 7
# TYPE epfs_loop_thread_id gauge
epfs_loop_thread_id{loop="0"} 4242
`
	c, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if c.tid != 4242 || c.total("sendfile") != 13 || c.results("eagain") != 3 || c.total("read") != 7 {
		t.Errorf("parsed %+v", c)
	}
	earlier := counters{calls: map[string]map[string]float64{"sendfile": {"ok": 4}}}
	if d := c.sub(earlier); d.total("sendfile") != 9 || d.total("read") != 7 {
		t.Errorf("sub: %+v", d)
	}
}

func TestParseHead(t *testing.T) {
	status, n, err := parseHead([]byte("HTTP/1.1 200 OK\r\nServer: epfs\r\ncontent-length: 1024\r\n\r\n"))
	if err != nil || status != 200 || n != 1024 {
		t.Errorf("got %d %d %v", status, n, err)
	}
	for _, bad := range []string{"HTTP/1.1 200 OK\r\n\r\n", "SPDY 200\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"} {
		if _, _, err := parseHead([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTable(t *testing.T) {
	tb := table{header: []string{"name", "n"}, right: []bool{false, true}}
	tb.add("µs", "1")
	tb.add("long name", "1234")
	want := "" +
		"| name      |    n |\n" +
		"| --------- | ---: |\n" +
		"| µs        |    1 |\n" +
		"| long name | 1234 |\n"
	if got := tb.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1234.5: "1234", 12.34: "12.3", 1: "1.00", 0.001234: "<0.01", -2: "-2.00"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSizeLabel(t *testing.T) {
	for size, want := range map[int64]string{1 << 10: "1 KiB", 100 << 20: "100 MiB", 1500: "1500 B"} {
		if got := sizeLabel(size); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", size, got, want)
		}
	}
}

func TestReplaceRegion(t *testing.T) {
	doc := "# Title\n\nprose\n" + regionBegin + "\nold\n" + regionEnd + "\nmore prose\n"
	got, err := replaceRegion(doc, regionBegin, regionEnd, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Title\n\nprose\n" + regionBegin + "\nnew\n" + regionEnd + "\nmore prose\n"; got != want {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"no markers", regionEnd + regionBegin, regionBegin + regionEnd + regionEnd} {
		if _, err := replaceRegion(bad, regionBegin, regionEnd, "x"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The tables hold every cell and the region carries its provenance.
func TestRegion(t *testing.T) {
	res := &results{
		Date: "2026-01-02 03:04 UTC", Command: "go run ./tests/study", Cell: "2s",
		Machine: machine{CPU: "cpu", Cores: 2, Kernel: "6.18", Go: "go1.26", LoadAvg: "0.1 0.2 0.3"},
		Cells: []cellResult{{Strategy: "sendfile", Size: 1 << 20, Responses: 10, Seconds: 1,
			PerResp: map[string]float64{"sendfile": 2, "openat2": 0.1}, EAGAIN: 5, ProcCPU: 0.01, LoopCPU: 0.005, SegsIn: 250}},
		Baseline: []baseResult{{Sender: senders[0].name, Bytes: 16 << 20, Seconds: 0.1, Sendfile: 100, EAGAIN: 50}},
	}
	r := region(res)
	for _, want := range []string{"2026-01-02", "`go run ./tests/study`", "| sendfile | 1 MiB |", "0.50", "EPOLLOUT resume", "16 MiB"} {
		if !strings.Contains(r, want) {
			t.Errorf("region lacks %q:\n%s", want, r)
		}
	}
	if got := cpuModel("processor: 0\nmodel name\t: Some CPU @ 2GHz\n"); got != "Some CPU @ 2GHz" {
		t.Errorf("cpuModel: %q", got)
	}
}

// The charts draw from a small result set without error.
func TestDrawCharts(t *testing.T) {
	var cells []cellResult
	for _, s := range strategies {
		for _, size := range sizes {
			cells = append(cells, cellResult{Strategy: s, Size: size, Responses: 3, Seconds: 1,
				PerResp: map[string]float64{"read": 1}, EAGAIN: 1, ProcCPU: 0.01})
		}
	}
	base := []baseResult{{Sender: senders[0].name, Bytes: 1 << 20, Seconds: 0.1, SenderCPU: 0.001},
		{Sender: senders[1].name, Bytes: 1 << 20, Seconds: 0.2, SenderCPU: 0}}
	if err := drawCharts(t.TempDir(), "svg", &results{Cells: cells, Baseline: base}); err != nil {
		t.Fatal(err)
	}
}

func TestParsePerfCSV(t *testing.T) {
	text := "# started on Thu Dec  3 18:50:03 2026\n\n" +
		"1234,,syscalls:sys_enter_futex,5600123456,100.00,,\n" +
		"<not counted>,,syscalls:sys_enter_nanosleep,0,0.00,,\n" +
		"723000,,raw_syscalls:sys_enter,5600123456,100.00,,\n"
	c, err := parsePerfCSV(text)
	if err != nil {
		t.Fatal(err)
	}
	if c["syscalls:sys_enter_futex"] != 1234 || c["syscalls:sys_enter_nanosleep"] != 0 || c["raw_syscalls:sys_enter"] != 723000 {
		t.Errorf("parsed %v", c)
	}
	for _, bad := range []string{"", "# only a comment\n", "12x,,ev,1,100.00,,\n", "12\n"} {
		if _, err := parsePerfCSV(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

const wrkOutput = `Running 5s test @ http://127.0.0.1:40000/f1024.bin
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   820.31us  101.00us   4.20ms   90.00%
    Req/Sec    77.29k     2.01k   80.11k    80.00%
  361569 requests in 5.00s, 400.12MB read
Requests/sec:  72313.80
Transfer/sec:     80.02MB
`

func TestParseWrkText(t *testing.T) {
	w, err := parseWrkText(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	if w.requests != 361569 || w.rps != 72313.80 {
		t.Errorf("parsed %+v", w)
	}
	for _, extra := range []string{"  Socket errors: connect 0, read 3, write 0, timeout 0\n", "  Non-2xx or 3xx responses: 12\n"} {
		if _, err := parseWrkText(wrkOutput + extra); err == nil || !strings.Contains(err.Error(), strings.Fields(extra)[0]) {
			t.Errorf("%q: err %v", extra, err)
		}
	}
	if _, err := parseWrkText("Running 5s test\n"); err == nil {
		t.Error("no counts parsed")
	}
}

func TestParseContextSwitches(t *testing.T) {
	status := "Name:\tepfs\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t7\n"
	v, n, err := parseContextSwitches(status)
	if err != nil || v != 150 || n != 7 {
		t.Errorf("got %v %v %v", v, n, err)
	}
	if _, _, err := parseContextSwitches("Name:\tepfs\nvoluntary_ctxt_switches:\t150\n"); err == nil {
		t.Error("half the counts parsed")
	}
}

func TestSig(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.0040: "0.0040", 0.0731: "0.073", 0.5: "0.50", 12.484: "12.48",
		99.999: "100.00", 346.4: "346", 3898.2: "3,898", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := sig(v); got != want {
			t.Errorf("sig(%v) = %q, want %q", v, got, want)
		}
	}
	if got := minMax([]float64{6.18, 6.02, 6.1}); got != "6.02–6.18" {
		t.Errorf("minMax: %q", got)
	}
	if got := minMax([]float64{0.0041, 0.00404}); got != "0.0040" && got != "0.0040–0.0041" {
		t.Errorf("minMax: %q", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median %v", got)
	}
}

// runtimeFixture is a two-round runtime result: C, and a server at twice
// the C responder's CPU per request in one round and thrice in the other.
func runtimeFixture() []runtimeResult {
	round := func(cpu, futex float64) runtimeRound {
		return runtimeRound{Requests: 1000, RPS: 200, CPU: cpu, PerfSeconds: 5, Futex: futex, Nanosleep: 10,
			Syscalls: 2100, Voluntary: 2, Involuntary: 60}
	}
	return []runtimeResult{
		{Server: "C ceiling", Short: runtimeServers[0].short, Rounds: []runtimeRound{round(0.006, 0), round(0.006, 0)}},
		{Server: "epfs, 1 loop", Short: "epfs", Rounds: []runtimeRound{round(0.012, 40), round(0.018, 90)}},
	}
}

// The runtime table ranges every figure over the rounds and pairs each
// round with the C responder's of the same round.
func TestRuntimeTable(t *testing.T) {
	res := &results{Date: "2026-01-02 03:04 UTC", Command: "go run ./tests/study", RuntimeRound: "5s",
		Note: "The machine was shared.", Runtime: runtimeFixture()}
	r := runtimeRegion(res)
	for _, want := range []string{"2026-01-02", "The machine was shared.", "2 interleaved rounds", "-d5s",
		"| C ceiling", " 6.00 |", " 1.00 |", "12.00–18.00", "2.00–3.00", "0.040–0.090", "10.00–20.00", "0.060", "2.10", "runtime.svg"} {
		if !strings.Contains(r, want) {
			t.Errorf("runtime region lacks %q:\n%s", want, r)
		}
	}
	// Rounds that do not pair up give no ratio rather than a wrong one.
	rs := runtimeFixture()
	rs[1].Rounds = rs[1].Rounds[:1]
	if got := cpuRatios(&rs[1], &rs[0]); got != nil {
		t.Errorf("unpaired ratios %v", got)
	}
}

// The runtime chart draws in both formats.
func TestRuntimeChart(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"svg", "png"} {
		if err := drawCharts(dir, format, &results{Runtime: runtimeFixture()}); err != nil {
			t.Fatal(format, err)
		}
		if st, err := os.Stat(filepath.Join(dir, "runtime."+format)); err != nil || st.Size() == 0 {
			t.Errorf("runtime.%s: %v", format, err)
		}
	}
}

// Without its tools the runtime part fails a full run with one line that
// names the packages, and -quick says it skipped the part and why.
func TestRuntimeReadyWithoutTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cfg := &config{runtime: true, ceiling: t.TempDir()}
	var res results
	err := runtimeReady(cfg, &res)
	if err == nil || !strings.Contains(err.Error(), "apt-get install wrk") || strings.Contains(err.Error(), "\n") {
		t.Errorf("full run: %v", err)
	}
	cfg.quick = true
	if err := runtimeReady(cfg, &res); err != nil || !strings.Contains(res.RuntimeSkipped, "missing wrk") {
		t.Errorf("quick: %v, skipped %q", err, res.RuntimeSkipped)
	}
	cfg.runtime, res.RuntimeSkipped = false, ""
	if err := runtimeReady(cfg, &res); err != nil || !strings.Contains(res.RuntimeSkipped, "-runtime=false") {
		t.Errorf("-runtime=false: %v, skipped %q", err, res.RuntimeSkipped)
	}
}

// A doc gets both regions rewritten; without a runtime measurement its
// region keeps what it had.
func TestWriteOutputsRegions(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.md")
	text := "a\n" + regionBegin + "\nold\n" + regionEnd + "\nb\n" + runtimeBegin + "\nold runtime\n" + runtimeEnd + "\nc\n"
	if err := os.WriteFile(doc, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{out: dir, doc: doc, format: "svg"}
	if err := writeOutputs(cfg, &results{RuntimeSkipped: "test"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	if !strings.Contains(string(b), "old runtime") || strings.Contains(string(b), "\nold\n") {
		t.Errorf("without runtime:\n%s", b)
	}
	if err := writeOutputs(cfg, &results{Runtime: runtimeFixture(), RuntimeRound: "5s"}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(doc)
	if strings.Contains(string(b), "old runtime") || !strings.Contains(string(b), "| C ceiling") || !strings.HasSuffix(string(b), runtimeEnd+"\nc\n") {
		t.Errorf("with runtime:\n%s", b)
	}
}

func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "go run ./tests/study"},
		{[]string{"-epfs", "bin/epfs", "-note", "a shared machine", "-quick"}, "go run ./tests/study -epfs bin/epfs -quick"},
		{[]string{"-epfs", "bin/epfs", "--note=x y"}, "go run ./tests/study -epfs bin/epfs"},
	} {
		if got := commandLine(c.args); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
}
