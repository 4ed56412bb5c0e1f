// Command study measures what epfs does in the kernel per response, and
// writes the tables and charts of docs/SYSCALLS.md.
//
// For each body strategy (epfs serve --transmit sendfile, splice, copy) and
// each file size (1 KiB, 64 KiB, 1 MiB, 100 MiB) it runs the built epfs
// binary with one loop, sends keep-alive GETs on one connection for a fixed
// time, and reads epfs's own counters from /metrics before and after (the
// counters that tests/kernelcount_test.go checks against perf and strace),
// the process's CPU time from /proc/PID/stat and the loop thread's from
// /proc/PID/task/TID/stat, and the TCP segments the client received from
// TCP_INFO. A second part compares, on a loopback socket with a small send
// buffer and a slow reader, a sender that resumes on EPOLLOUT (the poller)
// with senders that sleep a fixed time after each EAGAIN — a baseline that
// exists only here, never in the server. A third, the runtime part
// (runtime.go), runs the ceiling responders of ../shared/ceiling (C, and
// the same loop in Go through x/sys) and epfs, each pinned to CPU 0, under
// wrk -t1 -c64 on CPU 1, and counts the runtime's futex and nanosleep
// calls with perf, the loop thread's context switches and the CPU per
// request: what the Go runtime costs a raw epoll loop.
//
// Usage:
//
//	go run ./tests/study -epfs bin/epfs            # full run: ~2 minutes, rewrites docs/
//	go run ./tests/study -epfs bin/epfs -quick     # seconds; writes to a temp dir
//	go run ./tests/study -render docs/syscalls/results.json  # redraw, measure nothing
//
// `make study` builds bin/epfs and runs the full study.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// config is the study's settings from the command line.
type config struct {
	epfs    string        // the epfs binary
	out     string        // directory for charts and results.json
	doc     string        // markdown file whose study region is rewritten; empty: none
	format  string        // chart format: svg or png
	quick   bool          // short cells, small baseline file
	render  string        // results.json to draw and tabulate again, measuring nothing
	cell    time.Duration // how long each strategy × size cell sends requests
	command string        // the command line, recorded in the doc
	note    string        // -note, recorded in the doc

	// The runtime part (runtime.go).
	runtime bool          // measure it at all
	ceiling string        // the directory of ceiling.c and its Go twin in go/
	rounds  int           // interleaved rounds
	round   time.Duration // each measured wrk run
	warm    time.Duration // the wrk run before each measured one; 0: none
}

func main() {
	var cfg config
	flag.StringVar(&cfg.epfs, "epfs", "bin/epfs", "the epfs binary to study")
	flag.StringVar(&cfg.out, "out", "", "directory for charts and results.json (default docs/syscalls, or a temp dir with -quick)")
	flag.StringVar(&cfg.doc, "doc", "", "markdown file whose study region is rewritten (default docs/SYSCALLS.md; none with -quick)")
	flag.StringVar(&cfg.format, "format", "svg", "chart format: svg or png")
	flag.BoolVar(&cfg.quick, "quick", false, "a short run for checking the study itself: 0.25 s cells")
	flag.StringVar(&cfg.render, "render", "", "redraw the charts and tables from this results.json without measuring")
	flag.DurationVar(&cfg.cell, "cell", 0, "time per strategy and size (default 2s, 250ms with -quick)")
	flag.StringVar(&cfg.note, "note", "", "a sentence on the run's circumstances for the doc's provenance lines (\"the machine was shared with other jobs\")")
	flag.BoolVar(&cfg.runtime, "runtime", true, "measure the runtime part: the C and Go ceiling responders and epfs under wrk, pinned (needs wrk, perf, gcc, taskset and 2 CPUs)")
	flag.StringVar(&cfg.ceiling, "ceiling", filepath.Join("..", "shared", "ceiling"), "directory of the ceiling responders (ceiling.c, and the Go module in go/)")
	flag.IntVar(&cfg.rounds, "rounds", 0, "interleaved rounds of the runtime part (default 3, 1 with -quick)")
	flag.DurationVar(&cfg.round, "round", 0, "each measured wrk run of the runtime part, whole seconds (default 5s, 1s with -quick)")
	flag.DurationVar(&cfg.warm, "warm", -1, "the wrk run before each measured one (default 1s, none with -quick)")
	flag.Parse()
	cfg.command = commandLine(os.Args[1:])
	if err := cfg.defaults(); err != nil {
		fmt.Fprintln(os.Stderr, "study:", err)
		os.Exit(2)
	}
	// A hard bound on the whole run, whatever the machine does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "study:", err)
		os.Exit(1)
	}
}

// commandLine is the study's command line as the doc records it: -note
// is left out, as the provenance line quotes it in full anyway.
func commandLine(args []string) string {
	var kept []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimPrefix(args[i], "-")
		switch {
		case a == "note" || a == "-note":
			i++ // and its value
		case strings.HasPrefix(a, "note=") || strings.HasPrefix(a, "-note="):
		default:
			kept = append(kept, args[i])
		}
	}
	return strings.TrimSpace("go run ./tests/study " + strings.Join(kept, " "))
}

func (cfg *config) defaults() error {
	if cfg.cell == 0 {
		cfg.cell = 2 * time.Second
		if cfg.quick {
			cfg.cell = 250 * time.Millisecond
		}
	}
	if cfg.rounds == 0 {
		cfg.rounds = 3
		if cfg.quick {
			cfg.rounds = 1
		}
	}
	if cfg.round == 0 {
		cfg.round = 5 * time.Second
		if cfg.quick {
			cfg.round = time.Second
		}
	}
	if cfg.warm < 0 {
		cfg.warm = time.Second
		if cfg.quick {
			cfg.warm = 0
		}
	}
	if cfg.rounds < 1 || cfg.round < time.Second {
		return fmt.Errorf("-rounds %d -round %v: want at least 1 round of at least 1s (wrk counts whole seconds)", cfg.rounds, cfg.round)
	}
	if cfg.out == "" {
		if cfg.quick {
			dir, err := os.MkdirTemp("", "epfs-study-")
			if err != nil {
				return err
			}
			cfg.out = dir
		} else {
			cfg.out = filepath.Join("docs", "syscalls")
		}
	}
	if cfg.doc == "" && !cfg.quick {
		cfg.doc = filepath.Join("docs", "SYSCALLS.md")
	}
	if cfg.format != "svg" && cfg.format != "png" {
		return fmt.Errorf("-format %q: want svg or png", cfg.format)
	}
	if _, err := os.Stat(cfg.epfs); err != nil && cfg.render == "" {
		return fmt.Errorf("-epfs: %w (make build makes bin/epfs)", err)
	}
	return os.MkdirAll(cfg.out, 0o755)
}

// results is everything one run measured; it is also written as JSON.
type results struct {
	Date     string       `json:"date"`
	Machine  machine      `json:"machine"`
	Command  string       `json:"command"`
	Cell     string       `json:"cell"`
	Note     string       `json:"note,omitempty"` // -note: what the run's circumstances were
	Cells    []cellResult `json:"cells"`
	Baseline []baseResult `json:"baseline"`
	// The runtime part; empty when it was not measured, and then
	// RuntimeSkipped says why.
	Runtime        []runtimeResult `json:"runtime,omitempty"`
	RuntimeRound   string          `json:"runtime_round,omitempty"` // each measured wrk run
	RuntimeSkipped string          `json:"runtime_skipped,omitempty"`
}

func run(ctx context.Context, cfg *config) error {
	if cfg.render != "" {
		return render(cfg)
	}
	started := time.Now()
	res := results{
		Date:    started.UTC().Format("2006-01-02 15:04 UTC"),
		Machine: describeMachine(),
		Command: cfg.command,
		Cell:    cfg.cell.String(),
		Note:    cfg.note,
	}
	if err := runtimeReady(cfg, &res); err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "epfs-study-root-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if err := makeFiles(root); err != nil {
		return err
	}
	for _, strategy := range strategies {
		cells, err := studyStrategy(ctx, cfg, root, strategy)
		if err != nil {
			return fmt.Errorf("%s: %w", strategy, err)
		}
		res.Cells = append(res.Cells, cells...)
	}
	bsize := int64(16 << 20)
	if cfg.quick {
		bsize = 2 << 20
	}
	res.Baseline, err = studyBaseline(ctx, root, bsize)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if res.RuntimeSkipped == "" {
		if res.Runtime, err = studyRuntime(ctx, cfg, root); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
		res.RuntimeRound = cfg.round.String()
	}
	res.Machine.LoadAvgEnd = loadAvg()
	fmt.Println(cellTable(res.Cells))
	fmt.Println(syscallTable(res.Cells))
	fmt.Println(baselineTable(res.Baseline))
	if len(res.Runtime) > 0 {
		fmt.Println(runtimeTable(res.Runtime))
	}
	if err := writeOutputs(cfg, &res); err != nil {
		return err
	}
	fmt.Printf("study: done in %v; charts and results.json in %s\n", time.Since(started).Round(time.Second), cfg.out)
	if cfg.doc != "" {
		fmt.Printf("study: rewrote the study region of %s\n", cfg.doc)
	}
	return nil
}

// runtimeReady checks up front that the runtime part can run, so that a
// full run without its tools fails at once, naming what to install, not
// after the other parts; with -quick it says that the part will be
// skipped, and why, and the run goes on. -runtime=false skips it on
// purpose.
func runtimeReady(cfg *config, res *results) error {
	if !cfg.runtime {
		res.RuntimeSkipped = "not asked for (-runtime=false)"
		fmt.Println("study: runtime part skipped: -runtime=false")
		return nil
	}
	why := runtimeMissing(cfg.ceiling)
	if why == "" {
		return nil
	}
	if !cfg.quick {
		return fmt.Errorf("runtime part: %s; or leave it out with -runtime=false", why)
	}
	res.RuntimeSkipped = why
	fmt.Printf("study: runtime part SKIPPED (-quick): %s\n", why)
	return nil
}

// render redraws the outputs from an earlier run's results.json, so that
// the doc's format can change without measuring again.
func render(cfg *config) error {
	b, err := os.ReadFile(cfg.render)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", cfg.render, err)
	}
	return writeOutputs(cfg, &res)
}
