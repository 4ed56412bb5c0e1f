package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Machine describes where and when the results were taken.
type Machine struct {
	Date      string `json:"date"`
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemTotal  string `json:"mem_total"`
	Go        string `json:"go"`
	Nginx     string `json:"nginx"`
	Wrk       string `json:"wrk"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

// Summary is the spread over rounds of one server on one workload.
type Summary struct {
	Mode        string `json:"mode"`
	Workload    string `json:"workload"`
	Server      string `json:"server"`
	Errors      int64  `json:"errors"`
	RPS         Spread `json:"requests_per_sec"`
	MiBps       Spread `json:"mib_per_sec"`
	P50us       Spread `json:"p50_us"`
	P99us       Spread `json:"p99_us"`
	CPUusPerReq Spread `json:"cpu_us_per_request"`
	CPUmsPerGiB Spread `json:"cpu_ms_per_gib"`
	ColdMiBps   Spread `json:"cold_mib_per_sec"`
}

// Goal is one target from the issue and whether this run met it.
type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // "met", "missed" or "not measured"
}

// Results is everything one run of the harness wrote.
type Results struct {
	Machine   Machine         `json:"machine"`
	Command   string          `json:"command"`
	Servers   []string        `json:"servers"`
	Samples   []Sample        `json:"samples"`
	Summaries []Summary       `json:"summaries"`
	Syscalls  []SyscallResult `json:"syscalls"`
	Idle      []IdleResult    `json:"idle"`
	Profiles  []string        `json:"profiles"`
	Goals     []Goal          `json:"goals"`
	Notes     []string        `json:"notes"`
	modes     []mode
	workloads map[string][]workload // by mode name, in run order
}

// note records a problem that did not stop the run; it goes in the report.
func (r *Results) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Notes = append(r.Notes, msg)
	logf("note: %s", msg)
}

// summarise groups the samples by mode, workload and server.
func (r *Results) summarise() {
	type key struct{ mode, wl, srv string }
	var order []key
	groups := map[key][]Sample{}
	for _, s := range r.Samples {
		k := key{s.Mode, s.Workload, s.Server}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	r.Summaries = r.Summaries[:0]
	for _, k := range order {
		ss := groups[k]
		pick := func(f func(Sample) Num) Spread {
			xs := make([]float64, len(ss))
			for i, s := range ss {
				xs[i] = float64(f(s))
			}
			return spreadOf(xs)
		}
		sum := Summary{Mode: k.mode, Workload: k.wl, Server: k.srv,
			RPS:         pick(func(s Sample) Num { return s.RPS }),
			MiBps:       pick(func(s Sample) Num { return s.MiBps }),
			P50us:       pick(func(s Sample) Num { return s.P50us }),
			P99us:       pick(func(s Sample) Num { return s.P99us }),
			CPUusPerReq: pick(func(s Sample) Num { return s.CPUusPerReq }),
			CPUmsPerGiB: pick(func(s Sample) Num { return s.CPUmsPerGiB }),
		}
		if k.mode == coldMode {
			sum.ColdMiBps = pick(func(s Sample) Num { return s.ColdMiBps })
		} else {
			sum.ColdMiBps = spreadOf(nil)
		}
		for _, s := range ss {
			sum.Errors += s.Errors
		}
		r.Summaries = append(r.Summaries, sum)
	}
}

// find is the summary for (mode, workload, server), or nil.
func (r *Results) find(mode, wl, srv string) *Summary {
	for i := range r.Summaries {
		s := &r.Summaries[i]
		if s.Mode == mode && s.Workload == wl && s.Server == srv {
			return s
		}
	}
	return nil
}

// med is a median from a summary, NaN when the summary is missing.
func med(s *Summary, f func(*Summary) Spread) float64 {
	if s == nil {
		return nan
	}
	return float64(f(s).Median)
}

// syscallsOf is the syscall result for a server, or nil.
func (r *Results) syscallsOf(srv string) *SyscallResult {
	for i := range r.Syscalls {
		if r.Syscalls[i].Server == srv {
			return &r.Syscalls[i]
		}
	}
	return nil
}

// idleSpread is the spread of bytes per idle connection for srv.
func (r *Results) idleSpread(srv string) Spread {
	var xs []float64
	for _, ir := range r.Idle {
		if ir.Server == srv {
			xs = append(xs, float64(ir.BytesPerConn))
		}
	}
	return spreadOf(xs)
}

// The workload names the goals refer to.
const (
	wl1K   = "1KiB c64"
	wl64K  = "64KiB c64"
	wl100M = "100MiB c4"
	pinned = "pinned"
)

// evaluateGoals checks the targets against this run's medians.
func (r *Results) evaluateGoals() {
	get := func(wl, srv string, f func(*Summary) Spread) float64 { return med(r.find(pinned, wl, srv), f) }
	rps := func(s *Summary) Spread { return s.RPS }
	cpu := func(s *Summary) Spread { return s.CPUusPerReq }
	p99 := func(s *Summary) Spread { return s.P99us }
	mibs := func(s *Summary) Spread { return s.MiBps }
	gib := func(s *Summary) Spread { return s.CPUmsPerGiB }
	r.Goals = nil
	atLeast := func(goal string, a, b, want float64, what string) {
		got := ratio(a, b)
		r.addGoal(goal, fmt.Sprintf("%.2f× %s", got, what), got >= want, got)
	}
	atMost := func(goal string, a, b, want float64, what string) {
		got := ratio(a, b)
		r.addGoal(goal, fmt.Sprintf("%.2f× %s", got, what), got <= want, got)
	}
	atLeast("1 KiB req/s ≥ fasthttp", get(wl1K, srvEpfs, rps), get(wl1K, srvFastHTTP, rps), 1, "fasthttp")
	atLeast("1 KiB req/s ≥ 0.95× ceiling", get(wl1K, srvEpfs, rps), get(wl1K, srvCeiling, rps), 0.95, "ceiling")
	atMost("1 KiB CPU/req ≤ 0.7× nginx", get(wl1K, srvEpfs, cpu), get(wl1K, srvNginx, cpu), 0.7, "nginx")
	atMost("1 KiB CPU/req ≤ 1.15× ceiling", get(wl1K, srvEpfs, cpu), get(wl1K, srvCeiling, cpu), 1.15, "ceiling")
	// The Go responder is the same loop as the C one through x/sys and the
	// scheduler's syscall path: what any Go server pays. epfs, which parses,
	// looks up and logs, aims below it.
	atMost("1 KiB CPU/req < Go ceiling", get(wl1K, srvEpfs, cpu), get(wl1K, srvCeilingGo, cpu), 0.999, "Go ceiling")
	atLeast("1 KiB req/s ≥ Go ceiling", get(wl1K, srvEpfs, rps), get(wl1K, srvCeilingGo, rps), 1, "Go ceiling")
	atMost("100 MiB CPU/GiB ≤ Go ceiling", get(wl100M, srvEpfs, gib), get(wl100M, srvCeilingGo, gib), 1, "Go ceiling")
	atMost("1 KiB p99 ≤ nginx", get(wl1K, srvEpfs, p99), get(wl1K, srvNginx, p99), 1, "nginx")
	if sc := r.syscallsOf(srvEpfs); sc != nil {
		th := float64(sc.Thread)
		r.addGoal("syscalls/req on the loop thread ≤ 2.2",
			fmt.Sprintf("%.2f loop thread, %.2f process (%s)", th, float64(sc.Process), sc.Tool), th <= 2.2, th)
		by := sc.ThreadBy
		if by == nil {
			by = sc.ByName
		}
		ctl, so := by["epoll_ctl"], by["setsockopt"]
		r.addGoal("zero epoll_ctl and setsockopt per request",
			fmt.Sprintf("epoll_ctl %.3f, setsockopt %.3f per request", ctl, so), ctl < 0.01 && so < 0.01, ctl+so)
	} else {
		r.addGoal("syscalls/req on the loop thread ≤ 2.2", "not measured", false, nan)
	}
	atLeast("64 KiB req/s ≥ 1.1× nginx", get(wl64K, srvEpfs, rps), get(wl64K, srvNginx, rps), 1.1, "nginx")
	atLeast("100 MiB MiB/s ≥ 1.0× nginx", get(wl100M, srvEpfs, mibs), get(wl100M, srvNginx, mibs), 1, "nginx")
	atMost("100 MiB CPU/GiB ≤ nginx", get(wl100M, srvEpfs, gib), get(wl100M, srvNginx, gib), 1, "nginx")
	idle := float64(r.idleSpread(srvEpfs).Median)
	r.addGoal("idle keep-alive connection ≤ 512 B resident", fmt.Sprintf("%.0f B", idle), idle <= 512, idle)
}

func (r *Results) addGoal(goal, measured string, ok bool, value float64) {
	status := "missed"
	switch {
	case math.IsNaN(value):
		status, measured = "not measured", "—"
	case ok:
		status = "met"
	}
	r.Goals = append(r.Goals, Goal{Goal: goal, Measured: measured, Status: status})
}

// writeJSON writes the results as indented JSON.
func (r *Results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// thousands formats x rounded to an integer with comma separators.
func thousands(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fixed formats x with prec decimals, or "—" when missing.
func fixed(x float64, prec int) string {
	if math.IsNaN(x) {
		return "—"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// spreadCell is "median (min–max)" with f formatting each number.
func spreadCell(s Spread, f func(float64) string) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return f(float64(s.Median))
	}
	return fmt.Sprintf("%s (%s–%s)", f(float64(s.Median)), f(float64(s.Min)), f(float64(s.Max)))
}

// times is a ratio cell, "1.23×".
func times(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x)
}

func oneDec(x float64) string { return fixed(x, 1) }
func twoDec(x float64) string { return fixed(x, 2) }

// markdown renders the whole report body: one table per workload, the
// syscall and memory tables, the sweep, and the goals.
func (r *Results) markdown() string {
	var b strings.Builder
	for _, m := range r.modes {
		wls := r.workloads[m.Name]
		if len(wls) == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n", modeTitle(m))
		if m.Cold {
			r.coldTable(&b, m.Name, wls[0])
			continue
		}
		var sweep []workload
		for _, w := range wls {
			if m.Name == pinned && strings.HasPrefix(w.Name, "1KiB c") && w.Name != wl1K {
				sweep = append(sweep, w)
				continue
			}
			if w.Size >= 1<<20 {
				r.throughputTable(&b, m.Name, w)
			} else {
				r.requestTable(&b, m.Name, w)
			}
		}
		if len(sweep) > 0 {
			r.sweepTable(&b, wls)
		}
	}
	r.syscallTable(&b)
	r.idleTable(&b)
	if len(r.workloads[pinned]) > 0 {
		b.WriteString("### Goals (epfs, medians of this run, one core each)\n\n| goal | measured | |\n|---|---|---|\n")
		for _, g := range r.Goals {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", g.Goal, g.Measured, g.Status)
		}
		b.WriteString("\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("### Notes from the run\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func modeTitle(m mode) string {
	switch {
	case m.Cold:
		return fmt.Sprintf("Cold-cache mix: %d clients each download a different %d MiB file, evicted before every download, while wrk drives %s; server on CPU %s (1 loop / 1 worker / GOMAXPROCS=1, epfs its default loops+1), wrk -t%d and the downloaders on CPU %s",
			coldDownloads, coldFileSize>>20, "1 KiB on 64 keep-alive connections", m.ServerCPU, m.WrkThreads, m.WrkCPU)
	case m.AccessLog:
		return "Access log to a file (epfs and nginx), pinned as above"
	case m.ServerCPU != "":
		return fmt.Sprintf("One core each: server on CPU %s (1 loop / 1 worker / GOMAXPROCS=1, epfs its default loops+1), wrk -t%d on CPU %s",
			m.ServerCPU, m.WrkThreads, m.WrkCPU)
	default:
		return fmt.Sprintf("Whole machine, unpinned: --loops %d, nginx %d workers, GOMAXPROCS=%d (epfs: loops+1), wrk -t%d",
			m.Workers, m.Workers, m.Workers, m.WrkThreads)
	}
}

// coldTable is the cold mix: the hot requests' latency and rate, and the
// downloads' rate, per server. "epfs" runs --io-threads 2, "epfs io0"
// --io-threads 0; "nginx aio" has `aio threads;`.
func (r *Results) coldTable(b *strings.Builder, mode string, w workload) {
	b.WriteString("| server | hot p50 µs (min–max) | hot p99 µs (min–max) | hot req/s (min–max) | cold MiB/s (min–max) |\n|---|---|---|---|---|\n")
	for _, srv := range coldServers {
		s := r.find(mode, w.Name, srv)
		if s == nil {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", srv, spreadCell(s.P50us, thousands),
			spreadCell(s.P99us, thousands), spreadCell(s.RPS, thousands), spreadCell(s.ColdMiBps, thousands))
	}
	b.WriteString("\n")
}

// requestTable is a small-file workload: request rate and CPU per request,
// each against nginx, and the latency.
func (r *Results) requestTable(b *strings.Builder, mode string, w workload) {
	rps := func(s *Summary) Spread { return s.RPS }
	cpu := func(s *Summary) Spread { return s.CPUusPerReq }
	r.serverTable(b, mode, w, "| server | req/s (min–max) | × nginx | p50 µs | p99 µs | CPU µs/req (min–max) | × nginx |\n|---|---|---|---|---|---|---|\n",
		func(s, ng *Summary) []string {
			return []string{spreadCell(s.RPS, thousands), timesNginx(s, ng, rps),
				spreadCell(s.P50us, thousands), spreadCell(s.P99us, thousands),
				spreadCell(s.CPUusPerReq, twoDec), timesNginx(s, ng, cpu)}
		})
}

// throughputTable is a large-file workload: throughput and CPU per GiB,
// each against nginx.
func (r *Results) throughputTable(b *strings.Builder, mode string, w workload) {
	mibps := func(s *Summary) Spread { return s.MiBps }
	cpu := func(s *Summary) Spread { return s.CPUmsPerGiB }
	r.serverTable(b, mode, w, "| server | MiB/s (min–max) | × nginx | CPU ms/GiB (min–max) | × nginx |\n|---|---|---|---|---|\n",
		func(s, ng *Summary) []string {
			return []string{spreadCell(s.MiBps, thousands), timesNginx(s, ng, mibps),
				spreadCell(s.CPUmsPerGiB, oneDec), timesNginx(s, ng, cpu)}
		})
}

// serverTable writes one workload's table: its title, header, then a row
// per server measured, whose cells row gives from that server's summary
// and nginx's (nil when nginx was not measured).
func (r *Results) serverTable(b *strings.Builder, mode string, w workload, header string, row func(s, ng *Summary) []string) {
	fmt.Fprintf(b, "#### %s (%s, %d connections)\n\n", w.Name, w.Path, w.Conns)
	b.WriteString(header)
	ng := r.find(mode, w.Name, srvNginx)
	for _, srv := range r.Servers {
		s := r.find(mode, w.Name, srv)
		if s == nil {
			continue
		}
		fmt.Fprintf(b, "| %s | %s |\n", srv, strings.Join(row(s, ng), " | "))
	}
	b.WriteString("\n")
}

// timesNginx is a "× nginx" cell: the server's median of f over nginx's.
func timesNginx(s, ng *Summary, f func(*Summary) Spread) string {
	return times(ratio(float64(f(s).Median), med(ng, f)))
}

// sweepWorkloads are the pinned 1 KiB workloads in connection order.
func sweepWorkloads(wls []workload) []workload {
	var out []workload
	for _, w := range wls {
		if w.Size == 1<<10 {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b workload) int { return a.Conns - b.Conns })
	return out
}

func (r *Results) sweepTable(b *strings.Builder, wls []workload) {
	sw := sweepWorkloads(wls)
	b.WriteString("#### Concurrency sweep, 1 KiB: median req/s (× nginx)\n\n| server |")
	for _, w := range sw {
		fmt.Fprintf(b, " %d conns |", w.Conns)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(sw)) + "\n")
	for _, srv := range r.Servers {
		fmt.Fprintf(b, "| %s |", srv)
		for _, w := range sw {
			v := med(r.find(pinned, w.Name, srv), func(s *Summary) Spread { return s.RPS })
			n := med(r.find(pinned, w.Name, srvNginx), func(s *Summary) Spread { return s.RPS })
			fmt.Fprintf(b, " %s (%s) |", thousands(v), times(ratio(v, n)))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (r *Results) syscallTable(b *strings.Builder) {
	if len(r.Syscalls) == 0 {
		return
	}
	fmt.Fprintf(b, "### Syscalls per request (%s, pinned; a separate run under the tracer)\n\n", r.Syscalls[0].Workload)
	b.WriteString("| server | tool | whole process | busiest thread | × nginx (process) | breakdown per request (whole process) |\n|---|---|---|---|---|---|\n")
	ng := r.syscallsOf(srvNginx)
	for _, sc := range r.Syscalls {
		nr := nan
		if ng != nil {
			nr = ratio(float64(sc.Process), float64(ng.Process))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", sc.Server, sc.Tool,
			twoDec(float64(sc.Process)), twoDec(float64(sc.Thread)), times(nr), topSyscalls(sc.ByName, 10))
	}
	if sc := r.syscallsOf(srvEpfs); sc != nil && sc.ThreadBy != nil {
		fmt.Fprintf(b, "\nepfs loop thread alone: %s.\n", topSyscalls(sc.ThreadBy, 10))
	}
	b.WriteString("\n")
}

func (r *Results) idleTable(b *strings.Builder) {
	if len(r.Idle) == 0 {
		return
	}
	fmt.Fprintf(b, "### Resident memory per idle keep-alive connection (%d connections, one request each, fresh process)\n\n", r.Idle[0].Conns)
	b.WriteString("| server | bytes per connection (min–max) | × nginx |\n|---|---|---|\n")
	ng := float64(r.idleSpread(srvNginx).Median)
	for _, srv := range r.Servers {
		s := r.idleSpread(srv)
		if s.N == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", srv, spreadCell(s, thousands), times(ratio(float64(s.Median), ng)))
	}
	b.WriteString("\n")
}

// chart draws requests/s against connections, one line per server, from
// the pinned 1 KiB sweep, with a logarithmic connection axis.
func (r *Results) chart(path string) error {
	sw := sweepWorkloads(r.workloads[pinned])
	if len(sw) < 2 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "1 KiB keep-alive, one core each: requests/s (median of rounds)"
	p.X.Label.Text = "connections"
	p.Y.Label.Text = "requests/s"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks(connTicks(sw))
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	var lines []any
	for _, srv := range r.Servers {
		var xys plotter.XYs
		for _, w := range sw {
			v := med(r.find(pinned, w.Name, srv), func(s *Summary) Spread { return s.RPS })
			if !math.IsNaN(v) {
				xys = append(xys, plotter.XY{X: float64(w.Conns), Y: v})
			}
		}
		if len(xys) > 0 {
			lines = append(lines, srv, xys)
		}
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

func connTicks(sw []workload) []plot.Tick {
	t := make([]plot.Tick, len(sw))
	for i, w := range sw {
		t[i] = plot.Tick{Value: float64(w.Conns), Label: strconv.Itoa(w.Conns)}
	}
	return t
}

// safeName makes a server or workload name usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '_'
	}, s)
}
