package main

import (
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
	got, err := replaceRegion(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Title\n\nprose\n" + regionBegin + "\nnew\n" + regionEnd + "\nmore prose\n"; got != want {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"no markers", regionEnd + regionBegin, regionBegin + regionEnd + regionEnd} {
		if _, err := replaceRegion(bad, "x"); err == nil {
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
