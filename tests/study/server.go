package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// strategies are the values of epfs serve --transmit, in table order.
var strategies = []string{"sendfile", "splice", "copy"}

// sizes are the body sizes studied, each served from its own file.
var sizes = []int64{1 << 10, 64 << 10, 1 << 20, 100 << 20}

func fileName(size int64) string { return "f" + strconv.FormatInt(size, 10) + ".bin" }

// sizeLabel renders a size the way the tables show it.
func sizeLabel(size int64) string {
	switch {
	case size >= 1<<20 && size%(1<<20) == 0:
		return strconv.FormatInt(size>>20, 10) + " MiB"
	case size >= 1<<10 && size%(1<<10) == 0:
		return strconv.FormatInt(size>>10, 10) + " KiB"
	}
	return strconv.FormatInt(size, 10) + " B"
}

// makeFiles writes one file per size, of pseudo-random bytes (a body of
// zeros could be served from the shared zero page and flatter the copy).
func makeFiles(root string) error {
	r := rand.New(rand.NewPCG(7, 11))
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for _, size := range sizes {
		f, err := os.Create(filepath.Join(root, fileName(size)))
		if err != nil {
			return err
		}
		for left := size; left > 0; {
			n := min(left, int64(len(buf)))
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
			left -= n
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// machine describes where the numbers were taken.
type machine struct {
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	Kernel  string `json:"kernel"`
	Go      string `json:"go"`
	LoadAvg string `json:"loadavg"` // at the start: the shared machine's noise
	// LoadAvgEnd is the load average when the measuring ended.
	LoadAvgEnd string `json:"loadavg_end,omitempty"`
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	return m
}

// loadAvg is the 1, 5 and 15 minute load averages (proc_loadavg(5)).
func loadAvg() string {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			return strings.Join(f[:3], " ")
		}
	}
	return ""
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// epfsProc is one running server under study: epfs serve, or (in the
// runtime part) a ceiling responder, which has no metrics.
type epfsProc struct {
	cmd     *exec.Cmd
	addr    string // the serving address
	metrics string // the /metrics URL; "" for a ceiling responder
	tid     int    // the loop's thread id
}

// startEpfs runs epfs serve on root with one loop and the given strategy,
// and waits for its start-up lines.
func startEpfs(ctx context.Context, bin, root, strategy string) (*epfsProc, error) {
	return launchEpfs(ctx, nil, nil, bin, "serve", "--root", root, "--listen", "127.0.0.1:0",
		"--loops", "1", "--transmit", strategy, "--access-log", "off", "--admin-listen", "127.0.0.1:0")
}

// launchEpfs starts epfs with args behind the command prefix (taskset, or
// nothing) and the extra environment, and waits until its start-up lines
// have named the serving and the metrics address and /metrics the loop's
// thread id.
func launchEpfs(ctx context.Context, prefix, env []string, bin string, args ...string) (*epfsProc, error) {
	argv := append(append(append([]string(nil), prefix...), bin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &epfsProc{cmd: cmd}
	// Buffered: a line sent while the loop below is busy with the one
	// before must wait, not be dropped (an unbuffered send with a default
	// lost the "listening" line on a loaded machine, and the start timed
	// out); once started, nobody reads, and the lines past the buffer are.
	lines := make(chan map[string]any, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case lines <- m:
				default: // nobody listens once started; keep draining
				}
			}
		}
	}()
	timeout := time.After(20 * time.Second)
	for p.addr == "" || p.metrics == "" {
		select {
		case m, ok := <-lines:
			if !ok {
				cmd.Wait()
				return nil, errors.New("epfs exited during start-up")
			}
			p.readStartLine(m)
		case <-timeout:
			p.stop()
			return nil, errors.New("epfs did not start within 20s")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); p.tid == 0; time.Sleep(10 * time.Millisecond) {
		s, err := scrape(p.metrics)
		if err != nil {
			p.stop()
			return nil, err
		}
		p.tid = s.tid
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("no epfs_loop_thread_id on /metrics")
		}
	}
	return p, nil
}

// readStartLine takes the addresses from epfs's "listening" and "admin
// listening" log lines.
func (p *epfsProc) readStartLine(m map[string]any) {
	switch m["message"] {
	case "listening":
		if a, ok := m["addr"].(string); ok {
			p.addr, _, _ = strings.Cut(a, ",")
		}
	case "admin listening":
		if u, ok := m["metrics"].(string); ok {
			p.metrics = u
		}
	}
}

func (p *epfsProc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// counters is one loop's counters from /metrics: calls by syscall and
// result ("ok", "eagain", ...), and the loop's thread id.
type counters struct {
	calls map[string]map[string]float64
	tid   int
}

// sub returns c minus earlier.
func (c counters) sub(earlier counters) counters {
	d := counters{calls: map[string]map[string]float64{}, tid: c.tid}
	for sc, byResult := range c.calls {
		d.calls[sc] = map[string]float64{}
		for r, v := range byResult {
			d.calls[sc][r] = v - earlier.calls[sc][r]
		}
	}
	return d
}

// total is the calls of sc whatever their result.
func (c counters) total(sc string) float64 {
	var n float64
	for _, v := range c.calls[sc] {
		n += v
	}
	return n
}

// results sums the calls of every syscall that ended with result r.
func (c counters) results(r string) float64 {
	var n float64
	for _, byResult := range c.calls {
		n += byResult[r]
	}
	return n
}

func scrape(url string) (counters, error) {
	r, err := http.Get(url)
	if err != nil {
		return counters{}, err
	}
	defer r.Body.Close()
	return parseMetrics(r.Body)
}

// parseMetrics reads the Prometheus text of /metrics for a one-loop server.
func parseMetrics(r io.Reader) (counters, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return counters{}, fmt.Errorf("/metrics: %w", err)
	}
	c := counters{calls: map[string]map[string]float64{}}
	for _, m := range fams["epfs_syscalls_total"].GetMetric() {
		var sc, res string
		for _, lp := range m.GetLabel() {
			switch lp.GetName() {
			case "syscall":
				sc = lp.GetValue()
			case "result":
				res = lp.GetValue()
			}
		}
		if c.calls[sc] == nil {
			c.calls[sc] = map[string]float64{}
		}
		c.calls[sc][res] += m.GetCounter().GetValue()
	}
	for _, m := range fams["epfs_loop_thread_id"].GetMetric() {
		c.tid = int(m.GetGauge().GetValue())
	}
	return c, nil
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports (the kernel scales to it for user space).
const clockTick = 10 * time.Millisecond

// cpuTime reads utime+stime from a /proc/…/stat file.
func cpuTime(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU takes utime and stime, fields 14 and 15 of proc_pid_stat(5),
// counting after the command name, which is parenthesised and may itself
// contain spaces and parentheses: hence the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}
