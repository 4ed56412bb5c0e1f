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
// exists only here, never in the server.
//
// Usage:
//
//	go run ./tests/study -epfs bin/epfs            # full run: ~1 minute, rewrites docs/
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
	flag.Parse()
	cfg.command = "go run ./tests/study " + strings.Join(os.Args[1:], " ")
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

func (cfg *config) defaults() error {
	if cfg.cell == 0 {
		cfg.cell = 2 * time.Second
		if cfg.quick {
			cfg.cell = 250 * time.Millisecond
		}
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
	Cells    []cellResult `json:"cells"`
	Baseline []baseResult `json:"baseline"`
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
	fmt.Println(cellTable(res.Cells))
	fmt.Println(syscallTable(res.Cells))
	fmt.Println(baselineTable(res.Baseline))
	if err := writeOutputs(cfg, &res); err != nil {
		return err
	}
	fmt.Printf("study: done in %v; charts and results.json in %s\n", time.Since(started).Round(time.Second), cfg.out)
	if cfg.doc != "" {
		fmt.Printf("study: rewrote the study region of %s\n", cfg.doc)
	}
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
