package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkScript is a wrk Lua script that defines only done(), so wrk keeps its
// fast path (no per-request Lua) and prints the exact totals once, as one
// JSON line behind a marker, instead of the rounded text summary ("1.23GB").
const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKRESULT {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`

// wrkResult is what one wrk run measured, from the script's done() line.
type wrkResult struct {
	DurationMicros int64 `json:"duration_us"`
	Requests       int64 `json:"requests"`
	Bytes          int64 `json:"bytes"`
	ErrConnect     int64 `json:"err_connect"`
	ErrRead        int64 `json:"err_read"`
	ErrWrite       int64 `json:"err_write"`
	ErrStatus      int64 `json:"err_status"` // responses other than 2xx/3xx
	ErrTimeout     int64 `json:"err_timeout"`
	P50Micros      int64 `json:"p50_us"`
	P99Micros      int64 `json:"p99_us"`
	MaxMicros      int64 `json:"max_us"`
}

// Errors is the sum of every kind of error wrk counted.
func (r wrkResult) Errors() int64 {
	return r.ErrConnect + r.ErrRead + r.ErrWrite + r.ErrStatus + r.ErrTimeout
}

// RequestsPerSec is the completed request rate.
func (r wrkResult) RequestsPerSec() float64 {
	return float64(r.Requests) / (float64(r.DurationMicros) / 1e6)
}

// MiBPerSec is the rate of response bytes (headers included) read.
func (r wrkResult) MiBPerSec() float64 {
	return float64(r.Bytes) / (1 << 20) / (float64(r.DurationMicros) / 1e6)
}

// parseWrk finds the WRKRESULT line in wrk's output.
func parseWrk(out []byte) (wrkResult, error) {
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		js, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("WRKRESULT "))
		if !ok {
			continue
		}
		var r wrkResult
		if err := json.Unmarshal(js, &r); err != nil {
			return wrkResult{}, fmt.Errorf("wrk result line: %w", err)
		}
		if r.DurationMicros <= 0 {
			return wrkResult{}, fmt.Errorf("wrk result line: duration %d µs", r.DurationMicros)
		}
		return r, nil
	}
	return wrkResult{}, fmt.Errorf("no WRKRESULT line in wrk output: %q", tail(out, 400))
}

// tail is the last n bytes of b, for error messages.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// wrkRun describes one load run.
type wrkRun struct {
	URL      string
	Conns    int
	Threads  int
	Duration time.Duration
	CPU      string   // taskset CPU list for wrk, or "" to leave it unpinned
	Headers  []string // request header lines ("Name: value") every request carries
}

// writeWrkScript puts the done() script in dir and returns its path.
func writeWrkScript(dir string) (string, error) {
	p := filepath.Join(dir, "result.lua")
	return p, os.WriteFile(p, []byte(wrkScript), 0o644)
}

// runWrk runs wrk and parses its result. A run is bounded by its duration
// plus a grace period, so a wedged server cannot stall the whole benchmark.
func runWrk(ctx context.Context, script string, r wrkRun) (wrkResult, error) {
	args := []string{"wrk",
		"-t" + strconv.Itoa(r.Threads), "-c" + strconv.Itoa(r.Conns),
		"-d" + strconv.Itoa(int(r.Duration.Seconds())) + "s",
		"--timeout", "10s", "-s", script}
	for _, h := range r.Headers {
		args = append(args, "-H", h)
	}
	args = append(args, r.URL)
	if r.CPU != "" {
		args = append([]string{"taskset", "-c", r.CPU}, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, r.Duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, tail(out.Bytes(), 400))
	}
	return parseWrk(out.Bytes())
}
