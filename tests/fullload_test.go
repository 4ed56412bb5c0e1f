package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A loop under full load keeps its P: its calls on sockets skip the
// scheduler, and its zero-timeout polls always find work, so it never
// sleeps. Everything else must still run: with one loop kept busy by
// pipelined keep-alive clients, cache misses (looked up on the I/O pool)
// and cold ranges (read in by the pool) are served right, /metrics
// answers while the request count keeps climbing, SIGTERM ends the
// server with exit 0, and the access log has one line per request with
// none dropped. With --gomaxprocs 1 there is no P to spare at all, and the
// helpers run only when the runtime preempts the loop (sysmon, every 10
// ms of running): slower, but nothing may be lost.
func TestHelpersRunUnderFullLoad(t *testing.T) {
	for _, procs := range []string{"", "1"} {
		name := "loops+1"
		if procs != "" {
			name = "gomaxprocs=" + procs
		}
		t.Run(name, func(t *testing.T) { helpersUnderLoad(t, procs) })
	}
}

func helpersUnderLoad(t *testing.T, procs string) {
	noLeaks(t)
	f := newFixture(t)
	const misses = 20
	for i := range misses {
		p := filepath.Join(f.root, fmt.Sprintf("miss-%d.txt", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("miss %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	coldPath := filepath.Join(f.root, "cold.bin")
	if err := os.WriteFile(coldPath, f.big, 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "access.log")
	args := []string{"--loops", "1", "--io-threads", "2", "--admin-listen", "127.0.0.1:0", "--access-log", logPath}
	if procs != "" {
		args = append(args, "--gomaxprocs", procs)
	}
	p, base := serve(t, f, args...)
	addr := strings.TrimPrefix(base, "http://")
	admin := adminURL(t, p)
	// The scheduler's size is logged at start-up: loops + 1 by default, a
	// warning when an explicit value leaves no P to spare.
	wantProcs, wantFrom, wantLevel := 2.0, "loops+1", "info"
	if procs != "" {
		wantProcs, wantFrom, wantLevel = 1, "--gomaxprocs", "warn"
	}
	sched := logLine(p, "scheduler")
	if sched["gomaxprocs"] != wantProcs || sched["from"] != wantFrom || sched["level"] != wantLevel || sched["loops"] != 1.0 {
		t.Errorf("start-up scheduler line %v, want gomaxprocs %v from %s at %s for 1 loop", sched, wantProcs, wantFrom, wantLevel)
	}

	// The load: pipelined batches of small requests on keep-alive
	// connections, until the server closes them at shutdown.
	const clients, depth = 4, 32
	var stop atomic.Bool
	var got atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	batch := strings.Repeat("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", depth)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pipelineUntilClosed(addr, batch, depth, &stop, &got)
		}()
	}
	requests := func() float64 { return metric(scrape(t, admin), "epfs_requests_total") }
	waitFor(t, "load under way", func() bool { return got.Load() >= 10*depth*clients })

	// Cache misses and cold ranges while the loop is busy.
	for i := range misses {
		want := fmt.Sprintf("miss %d\n", i)
		if b := getBody(t, addr, fmt.Sprintf("/miss-%d.txt", i), ""); b != want {
			t.Fatalf("/miss-%d.txt under load: %q, want %q", i, b, want)
		}
	}
	for i := range 4 {
		dropCache(t, coldPath)
		off := i * (2 << 20)
		rng := fmt.Sprintf("bytes=%d-%d", off, off+(1<<20)-1)
		if b := getBody(t, addr, "/cold.bin", rng); b != string(f.big[off:off+(1<<20)]) {
			t.Fatalf("/cold.bin %s under load: %d bytes, wrong", rng, len(b))
		}
	}
	// /metrics answers, and between answers the loop keeps serving.
	prev := requests()
	for i := range 5 {
		waitFor(t, "requests served between scrapes", func() bool { return got.Load() > int64(prev)+depth })
		now := requests()
		if now <= prev {
			t.Fatalf("scrape %d: epfs_requests_total %v, not above %v: the load stopped", i, now, prev)
		}
		prev = now
	}
	fams := scrape(t, admin)
	t.Logf("requests %v, loop sleeps %v, I/O lookups %v, cold probes %v, handed to the pool %v",
		metric(fams, "epfs_requests_total"), metric(fams, "epfs_loop_events_total", "event", "sleeps"),
		metric(fams, "epfs_io_lookups_total"), metric(fams, "epfs_cold_probes_total", "result", "cold"),
		metric(fams, "epfs_io_handed_total"))
	if metric(fams, "epfs_io_lookups_total") < misses {
		t.Errorf("%v lookups on the I/O pool, want the %d misses at least", metric(fams, "epfs_io_lookups_total"), misses)
	}

	exit := p.stop(t, syscall.SIGTERM)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	logs := p.logLines()
	last := logs[len(logs)-1]
	if exit != 0 || last["message"] != "stopped" {
		t.Fatalf("exit %d, last line %v: want 0 and the summary", exit, last)
	}
	served, _ := last["requests"].(float64)
	if dropped, _ := last["log_dropped"].(float64); dropped != 0 {
		t.Errorf("%v access-log lines dropped", dropped)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(b, []byte("\n")); float64(lines) != served || served == 0 {
		t.Errorf("access log has %d lines for %v requests served", lines, served)
	}
}

// pipelineUntilClosed writes batch (depth requests) on one connection and
// reads the depth responses, again and again, until the server closes the
// connection (the shutdown) or stop is set. Every response read must be a
// whole 200.
func pipelineUntilClosed(addr, batch string, depth int, stop *atomic.Bool, got *atomic.Int64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * waitGuard)) // a hang guard
	r := bufio.NewReaderSize(c, 64<<10)
	for !stop.Load() {
		if _, err := io.WriteString(c, batch); err != nil {
			return nil // closed by the shutdown
		}
		for range depth {
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				return nil // closed by the shutdown, between responses
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || string(body) != "hello, world\n" {
				return fmt.Errorf("pipelined GET /hello.txt: %d %q %v", resp.StatusCode, body, err)
			}
			got.Add(1)
			if resp.Close {
				return nil
			}
		}
	}
	return nil
}

// getBody makes one GET on a fresh connection, with a Range when rng is
// set, and returns the body of a 200 or 206 (failing the test otherwise).
func getBody(t *testing.T, addr, path, rng string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	cl := &http.Client{Timeout: waitGuard, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || (resp.StatusCode != 200 && resp.StatusCode != 206) {
		t.Fatalf("GET %s (%s): %d, %v", path, rng, resp.StatusCode, err)
	}
	return string(b)
}

// dropCache evicts a file's clean pages from the page cache
// (POSIX_FADV_DONTNEED after fsync), so that the server finds it cold.
func dropCache(t *testing.T, path string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Fsync(fd)
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}
