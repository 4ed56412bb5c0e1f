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

// 5,000 connections open at once, each making keep-alive requests in
// turn: all held by the server together (its open-connections gauge says
// so), every answer right, and every descriptor returned afterwards.
// (10,000 pipelined requests on one connection: TestServeTenThousandPipelined.)
//
// The client is cheap under -race: ten goroutines, each writing a request
// on each of its 500 connections and then reading the answers, so no
// goroutine per connection and no per-byte work.
func TestFiveThousandConnections(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	w := serveWatched(t, f)
	const n, workers, rounds = 5000, 10, 3
	type client struct {
		c net.Conn
		r *bufio.Reader
	}
	clients := make([]client, n)
	for i := range clients {
		c, err := net.Dial("tcp", w.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		clients[i] = client{c, bufio.NewReaderSize(c, 2048)}
	}
	requests := []struct {
		method, path, hdr string
		status            int
		body              []byte
	}{
		{"GET", "/hello.txt", "", 200, []byte("hello, world\n")},
		{"GET", "/big.bin", "Range: bytes=4096-5119\r\n", 206, f.big[4096:5120]},
		{"HEAD", "/big.bin", "", 200, nil},
		{"GET", "/style.css", "", 200, []byte("body{}\n")},
	}
	var open float64
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for k := 0; k < workers; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := clients[k*n/workers : (k+1)*n/workers]
				for i, cl := range mine {
					rq := requests[(i+round)%len(requests)]
					if _, err := fmt.Fprintf(cl.c, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", rq.method, rq.path, rq.hdr); err != nil {
						errs <- err
						return
					}
				}
				for i, cl := range mine {
					rq := requests[(i+round)%len(requests)]
					resp, err := http.ReadResponse(cl.r, &http.Request{Method: rq.method})
					if err != nil {
						errs <- fmt.Errorf("round %d, %s %s: %v", round, rq.method, rq.path, err)
						return
					}
					b, err := io.ReadAll(resp.Body)
					if err != nil || resp.StatusCode != rq.status || !bytes.Equal(b, rq.body) {
						errs <- fmt.Errorf("round %d, %s %s: %d, %d bytes, %v", round, rq.method, rq.path, resp.StatusCode, len(b), err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if round == 0 {
			open = w.counter(t, "epfs_connections_open")
		}
	}
	t.Logf("%d connections, %d requests each: %v open on the server at once", n, rounds, open)
	if open != n {
		t.Errorf("the server held %v connections, want %d", open, n)
	}
	for _, cl := range clients {
		cl.c.Close()
	}
	w.healthy(t)
}

// Graceful shutdown under load: SIGTERM while dozens of clients are in the
// middle of large and small responses. Every response that had begun
// before the signal (its head had reached the client) completes, whole and
// right, within --shutdown-timeout: the server exits 0 without having to
// cut anything off.
//
// One client is held so that the test cannot prove nothing on a fast or a
// slow machine: it reads the head and the first 64 KiB of an 8 MiB body
// through a 64 KiB receive buffer, so the server cannot have sent the rest
// (the loopback send buffer tops out at tcp_wmem's 4 MiB), and reads on
// only once the server has said, at debug level, that its shutdown waits
// for a connection in the middle of a response.
func TestShutdownUnderLoad(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const shutdownTimeout = 60 * time.Second // far more than the responses in flight need, even under -race
	p, base := serve(t, f, "--shutdown-timeout", shutdownTimeout.String(), "--log-level", "debug")
	addr := base[len("http://"):]
	const clients = 16
	var signalled atomic.Int64          // UnixNano of the signal; 0 before
	var spanned, cut, done atomic.Int64 // responses that spanned the signal; requests it left unanswered; responses completed
	held, resume := make(chan struct{}), make(chan struct{})
	hold := func() { close(held); <-resume }
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{}
			var pause func()
			if i == 1 {
				d.Control = smallReceiveBuffer
				pause = hold
			}
			for {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					return // the listener is gone: shutting down
				}
				err = shutdownClient(c, f, i, pause, &signalled, &spanned, &cut, &done)
				pause = nil
				c.Close()
				if err != nil {
					errs <- err
					return
				}
				if signalled.Load() != 0 {
					return
				}
			}
		}()
	}
	// Signal once every client has had a few responses, whatever the
	// machine's speed, and the held one is in the middle of its body.
	waitFor(t, "responses before the signal", func() bool { return done.Load() >= 4*(clients-1) })
	waitFor(t, "the held response", func() bool {
		select {
		case <-held:
			return true
		default:
			return false
		}
	})
	signalled.Store(time.Now().UnixNano())
	p.cmd.Process.Signal(syscall.SIGTERM)
	inFlight := func() bool {
		for _, m := range p.logLines() {
			if m["message"] == "shutdown waits for connection" && (m["state"] == "response" || m["state"] == "writable") {
				return true
			}
		}
		return false
	}
	waitFor(t, "a shutdown waiting for a response in flight", func() bool { return inFlight() || p.hasExited() })
	close(resume)
	exit := p.exitWithin(t, syscall.SIGTERM, shutdownTimeout)
	took := time.Since(time.Unix(0, signalled.Load()))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	logs := p.logLines()
	last := logs[len(logs)-1]
	t.Logf("exit %d, %v after the signal; responses begun before it and completed after it: %d; requests left unanswered: %d; summary %v",
		exit, took.Round(time.Millisecond), spanned.Load(), cut.Load(), last)
	if exit != 0 || last["message"] != "stopped" || last["forced"] != false {
		t.Errorf("exit %d, last line %v: want 0 and a summary with forced false", exit, last)
	}
	if !inFlight() {
		t.Error("the shutdown logged no connection in the middle of a response: the held one was not in flight")
	}
	if spanned.Load() == 0 {
		t.Error("no response begun before the signal completed after it")
	}
}

// smallReceiveBuffer sets a 64 KiB SO_RCVBUF before connecting (after, the
// window scale is already agreed), so a client that stops reading stops the
// server's sendfile within a few MiB.
func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var err error
	rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	return err
}

// shutdownClient makes keep-alive requests on c until the connection ends.
// Odd clients ask for big.bin, so that transfers are in flight at the
// signal; even ones ask for a small file. A non-nil pause runs once the
// head and the first read of the body have arrived.
// A response whose head arrived before the signal must complete right; one
// asked for later may find the connection closed, which is allowed.
func shutdownClient(c net.Conn, f *fixture, i int, pause func(), signalled, spanned, cut, done *atomic.Int64) error {
	c.SetDeadline(time.Now().Add(2 * stopGuard)) // a hang guard: the server cuts nothing, and each response takes milliseconds
	r := bufio.NewReaderSize(c, 64<<10)
	path, want := "/hello.txt", []byte("hello, world\n")
	if i%2 == 1 {
		path, want = "/big.bin", f.big
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
			cut.Add(1)
			return nil
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			cut.Add(1) // no head: the request was not begun
			return nil
		}
		before := signalled.Load() == 0
		var got bytes.Buffer
		for {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if pause != nil {
				pause()
				pause = nil
				c.SetDeadline(time.Now().Add(2 * stopGuard))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				if before {
					return fmt.Errorf("GET %s begun before the signal was cut after %d bytes: %v", path, got.Len(), err)
				}
				return nil // begun after the signal: may be cut
			}
		}
		if resp.StatusCode != 200 || !bytes.Equal(got.Bytes(), want) {
			return fmt.Errorf("GET %s: %d, %d bytes: wrong", path, resp.StatusCode, got.Len())
		}
		done.Add(1)
		if before && signalled.Load() != 0 {
			spanned.Add(1)
		}
		if resp.Close {
			return nil
		}
	}
}

// A client that connects and sends nothing must not hold a shutdown for the
// whole --shutdown-timeout: a connection not yet heard from when the
// shutdown begins gets the header timeout, counted from then, for its one
// request, and is then closed; the shutdown is not forced. One that does
// send within that time is answered, with Connection: close.
func TestShutdownSilentClient(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const headerTimeout = time.Second
	// Far beyond the hang guard below: a shutdown held by the silent client
	// would be killed by the guard, and fail.
	const shutdownTimeout = 10 * time.Minute
	p, base := serve(t, f, "--loops", "1", "--header-timeout", headerTimeout.String(),
		"--shutdown-timeout", shutdownTimeout.String(), "--log-level", "debug")
	addr := base[len("http://"):]
	silent, late := dial(t, addr), dial(t, addr)
	// One loop accepts in queue order: once a later connection is answered,
	// both silent ones have been accepted.
	if got := raw(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200 ") {
		t.Fatalf("probe request: %q", got)
	}
	signalled := time.Now()
	exitc := make(chan int, 1)
	go func() { exitc <- p.stopWithin(t, syscall.SIGTERM, headerTimeout) }()
	waitFor(t, "the shutdown's debug lines", func() bool {
		n := 0
		for _, l := range p.logLines() {
			if l["message"] == "shutdown waits for connection" && l["state"] == "first_request" {
				n++
			}
		}
		return n == 2
	})
	// The late client's request, sent after the shutdown began, is served.
	io.WriteString(late, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil {
		t.Fatalf("late client: %v", err)
	}
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("late client: %d, close %v: want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	// The silent one is closed cleanly (EOF, not a reset), not before the
	// header timeout has passed since the signal.
	silent.SetReadDeadline(time.Now().Add(headerTimeout + stopGuard)) // a hang guard
	n, err := silent.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Errorf("silent client: read %d, %v: want EOF", n, err)
	}
	if d := time.Since(signalled); d < headerTimeout {
		t.Errorf("silent client closed %v after the signal, before the header timeout (%v)", d, headerTimeout)
	}
	exit := <-exitc
	logs := p.logLines()
	last := logs[len(logs)-1]
	if exit != 0 || last["message"] != "stopped" || last["forced"] != false {
		t.Errorf("exit %d, last line %v: want 0 and a summary with forced false", exit, last)
	}
}

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

// quietTrim is the server's quietTrim (cmd/epfs/internal/server): a loop
// that has gone this long without a new connection or request trims its
// pools, and once all have, the server returns free memory to the kernel
// and logs "memory returned".
const quietTrim = 5 * time.Second

// memoryReturns counts the "memory returned" lines p has logged.
func memoryReturns(p *proc) (n int, last map[string]any) {
	for _, l := range p.logLines() {
		if l["message"] == "memory returned" {
			n++
			last = l
		}
	}
	return n, last
}

// awaitMemoryReturn waits for a "memory returned" line after the first
// seen ones, and returns it, or nil when none came within ten times
// quietTrim (a hang guard: it comes one quietTrim after the last request,
// plus the scheduling of a busy machine). It reads only the log: a scrape
// of /metrics would allocate in the server after the return.
func awaitMemoryReturn(t *testing.T, p *proc, seen int) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * quietTrim); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n, last := memoryReturns(p); n > seen {
			t.Logf("memory returned: took %v ms, gc pause %v ms, %v bytes released",
				fmtMillis(last["took"]), fmtMillis(last["gc_pause"]), last["released_bytes"])
			return last
		}
	}
	t.Errorf("no \"memory returned\" line within %v of going quiet", 10*quietTrim)
	return nil
}

// fmtMillis prints a zerolog duration field (milliseconds, as a float).
func fmtMillis(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.3f", f)
	}
	return fmt.Sprint(v)
}

// TestMemoryReturnsAfterBurst: 400 connections at once, each in the middle
// of a request head, make every loop's pools grow to hold them (a read
// buffer of --max-header-bytes each, a connection struct). When they are
// gone and the server has been quiet for quietTrim, the pools are trimmed,
// the memory is returned, and at least half of the anonymous resident
// memory the burst added is gone (in practice three quarters or more). Before the pools were trimmed
// the buffers stayed for ever, up to 1,024 per loop.
func TestMemoryReturnsAfterBurst(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	w := serveWatched(t, f)
	// At rest, and returned once, so that the baseline is a trimmed server.
	awaitMemoryReturn(t, w.proc, 0)
	seen, _ := memoryReturns(w.proc)
	base := statusBytes(t, w.cmd.Process.Pid, "RssAnon")

	const conns = 400
	const partial = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
	read := w.counter(t, "epfs_bytes_total", "direction", "read")
	var cs []net.Conn
	for range conns {
		c := dial(t, w.addr)
		cs = append(cs, c)
		if _, err := c.Write([]byte(partial)); err != nil {
			t.Fatal(err)
		}
	}
	// Every partial head read means every connection holds a buffer.
	waitFor(t, "read of every partial head", func() bool {
		return w.counter(t, "epfs_bytes_total", "direction", "read") >= read+conns*float64(len(partial))
	})
	peak := statusBytes(t, w.cmd.Process.Pid, "RssAnon")
	for _, c := range cs {
		c.Close()
	}
	w.settle(t, &w.rest)
	awaitMemoryReturn(t, w.proc, seen)
	after := statusBytes(t, w.cmd.Process.Pid, "RssAnon")
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("RssAnon: %.1f MiB at rest, %.1f MiB with %d connections mid-head, %.1f MiB after they closed and the server went quiet (%+.1f %%)",
		mib(base), mib(peak), conns, mib(after), 100*float64(after-base)/float64(base))
	if peak-base < conns*4<<10 {
		t.Fatalf("RssAnon grew by only %d bytes with %d connections mid-head: the burst did not take buffers", peak-base, conns)
	}
	// What stays is the pools' reserve, heap pages that a surviving
	// object keeps, and the runtime's own bookkeeping for the larger heap
	// it once had (span and page-allocator metadata, which Go never
	// returns): measured at 0.4-1.1 MiB of a 4.2 MiB growth here. Without
	// the trim all of it stayed (6.4, 8.7, then 9.4 MiB).
	if after-base > (peak-base)/2 {
		t.Errorf("RssAnon %.1f MiB after the burst: more than half of its %.1f MiB growth stayed", mib(after), mib(peak-base))
	}
}
