// Command coldmeta measures how long fsindex's cache misses take when the
// kernel's inode, dentry and page caches are cold: a file lookup (openat2
// and fstat) and a directory listing (openat2, fstat, getdents64 and an
// fstatat per entry). It answers whether a metadata miss can stall an epfs
// loop for more than a millisecond (docs/BENCHMARKS.md, "Cold files").
// It must run as root: it writes 3 to /proc/sys/vm/drop_caches.
//
//	go run ./tests/coldmeta -dir /var/tmp/coldmeta   # builds the tree once, then measures
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/poller/syscount"
)

func main() {
	dir := flag.String("dir", "", "directory for the test tree (on the disk to measure, not tmpfs)")
	rounds := flag.Int("rounds", 3, "measurements, each after dropping the caches")
	flag.Parse()
	if *dir == "" {
		log.Fatal("coldmeta: -dir is required")
	}
	if err := build(*dir); err != nil {
		log.Fatal(err)
	}
	for range *rounds {
		if err := measure(*dir); err != nil {
			log.Fatal(err)
		}
	}
}

// build makes 200 directories of 50 files of 100 KiB, unless they exist,
// and syncs them: only clean pages and inodes can be dropped.
func build(root string) error {
	for d := range 200 {
		sub := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for f := range 50 {
			p := filepath.Join(sub, fmt.Sprintf("f%02d.txt", f))
			if _, err := os.Stat(p); err == nil {
				continue
			}
			if err := os.WriteFile(p, make([]byte, 100<<10), 0o644); err != nil {
				return err
			}
		}
	}
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func measure(root string) error {
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		return fmt.Errorf("dropping caches (root needed): %w", err)
	}
	x, err := fsindex.Open(fsindex.Options{Root: root, Listing: true})
	if err != nil {
		return err
	}
	defer x.Close(nil)
	var sc syscount.Counters
	var files, dirs []time.Duration
	lookup := func(p string, want fsindex.Result, into *[]time.Duration) error {
		t := time.Now()
		e, res, err := x.Lookup(&sc, p)
		*into = append(*into, time.Since(t))
		if res != want {
			return fmt.Errorf("%s: %v %v", p, res, err)
		}
		e.Release(&sc)
		return nil
	}
	for d := 0; d < 200; d += 2 {
		if err := lookup(fmt.Sprintf("/d%03d/f%02d.txt", d, d%50), fsindex.Found, &files); err != nil {
			return err
		}
		if err := lookup(fmt.Sprintf("/d%03d/", d+1), fsindex.Listing, &dirs); err != nil {
			return err
		}
	}
	report("file lookup (openat2+fstat)", files)
	report("listing of 50 entries", dirs)
	return nil
}

func report(what string, d []time.Duration) {
	slices.Sort(d)
	n := len(d)
	over := 0
	for _, v := range d {
		if v > time.Millisecond {
			over++
		}
	}
	fmt.Printf("%s, cold: n=%d p50=%v p90=%v p99=%v max=%v; over 1 ms: %d\n", what, n, d[n/2], d[n*9/10], d[n*99/100], d[n-1], over)
}
