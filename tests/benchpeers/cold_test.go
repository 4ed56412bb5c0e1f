package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNginxConfAIO(t *testing.T) {
	for _, aio := range []bool{false, true} {
		var b strings.Builder
		if err := nginxConf.Execute(&b, map[string]any{"Workers": 1, "Dir": "/d", "Addr": "127.0.0.1:1",
			"Root": "/r", "AccessLog": false, "AIO": aio}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "aio threads;"); got != aio {
			t.Errorf("AIO %v: config has aio threads: %v\n%s", aio, got, b.String())
		}
	}
}

func TestEvict(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := evict(p); err != nil {
		t.Fatal(err)
	}
	if err := evict(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("evicting a missing file did not fail")
	}
}

func TestSplitCPUs(t *testing.T) {
	if got := splitCPUs("1, 3,x,-2"); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("splitCPUs = %v", got)
	}
}

func TestColdTable(t *testing.T) {
	res := &Results{workloads: map[string][]workload{}}
	m := mode{Name: coldMode, Workers: 1, ServerCPU: "0", WrkCPU: "1", WrkThreads: 1, Cold: true}
	res.modes = []mode{m}
	res.workloads[coldMode] = []workload{{Name: wlCold, Path: "/1k.bin", Size: 1 << 10, Conns: 64}}
	for _, srv := range coldServers {
		res.Samples = append(res.Samples, Sample{Mode: coldMode, Workload: wlCold, Server: srv,
			RPS: 10000, P50us: 3000, P99us: 20000, ColdMiBps: 1500})
	}
	res.summarise()
	res.evaluateGoals()
	md := res.markdown()
	for _, want := range []string{"| epfs io0 | 3,000 | 20,000 | 10,000 | 1,500 |",
		"| nginx aio |", "Cold-cache mix"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Goals") {
		t.Errorf("a cold-only report has a goals table:\n%s", md)
	}
}
