package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Files truncated, replaced by rename, or deleted while a transfer of them
// is in flight and while they are cached (a large one by descriptor, a
// small one by its bytes in memory). The transfer in flight ends cleanly:
// a truncated file ends its connection short of Content-Length (sendfile
// returns 0), a renamed-over or deleted one completes from the descriptor
// the response holds. The next request sees the new state once the cache's
// bound has passed: fsindex trusts an entry for 1 s by default, so a lookup
// that starts later than that after the change sees it.
func TestChangeWhileServing(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const bigLen, smallLen = 8 << 20, 8 << 10
	rng := rand.NewChaCha8([32]byte{7})
	content := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	type change struct {
		name   string
		mutate func(path string, after []byte)
	}
	replace := func(path string, after []byte) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, after, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	changes := []*change{
		{name: "truncated", mutate: func(path string, after []byte) {
			if err := os.Truncate(path, int64(len(after))); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "renamed", mutate: replace},
		{name: "deleted", mutate: func(path string, _ []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// Each change applies to a large file (sendfile from a cached
	// descriptor) and a small one (cached bytes).
	type file struct {
		path          string
		change        string
		before, after []byte // after is nil for a deleted file
	}
	files := map[string]*file{}
	for _, ch := range changes {
		for _, size := range []int{bigLen, smallLen} {
			fl := &file{path: fmt.Sprintf("/%s-%d.bin", ch.name, size), change: ch.name, before: content(size)}
			switch ch.name {
			case "truncated":
				fl.after = fl.before[:size/32]
			case "renamed":
				fl.after = content(size / 2)
			}
			if err := os.WriteFile(filepath.Join(f.root, fl.path), fl.before, 0o644); err != nil {
				t.Fatal(err)
			}
			files[fl.path] = fl
		}
	}
	w := serveWatched(t, f)
	get := func(path string) (int, []byte) {
		t.Helper()
		r, err := http.Get(w.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return r.StatusCode, b
	}
	for path, fl := range files {
		if status, b := get(path); status != 200 || !bytes.Equal(b, fl.before) {
			t.Fatalf("GET %s before the change: %d, %d bytes", path, status, len(b))
		}
	}
	http.DefaultClient.CloseIdleConnections()

	// A transfer of each large file, stalled after its first 64 KiB: the
	// client's small receive buffer keeps the rest on the server's side.
	type flight struct {
		fl   *file
		c    net.Conn
		r    *bufio.Reader
		resp *http.Response
		got  []byte
	}
	var flights []*flight
	for _, ch := range changes {
		fl := files[fmt.Sprintf("/%s-%d.bin", ch.name, bigLen)]
		c := dialSmall(t, w.addr, 16<<10)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", fl.path)
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 || resp.ContentLength != bigLen {
			t.Fatalf("GET %s: %v %v", fl.path, err, resp)
		}
		got := make([]byte, 64<<10)
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			t.Fatal(err)
		}
		flights = append(flights, &flight{fl: fl, c: c, r: r, resp: resp, got: got})
	}
	// The baseline is read before the change: a transfer whose socket
	// still has room meets the new end of file on its own, at once.
	errors0 := w.counter(t, "epfs_connections_closed_total", "reason", "error")
	for _, ch := range changes {
		for _, size := range []int{bigLen, smallLen} {
			fl := files[fmt.Sprintf("/%s-%d.bin", ch.name, size)]
			ch.mutate(filepath.Join(f.root, fl.path), fl.after)
		}
	}
	changed := time.Now()

	for _, fl := range flights {
		rest, err := io.ReadAll(fl.resp.Body)
		got := append(fl.got, rest...)
		if fl.fl.change == "truncated" {
			// Truncated: the body ends short, with the connection.
			// The bytes received before the new end are the file's.
			if err == nil || len(got) >= bigLen {
				t.Errorf("%s truncated in flight: %d of %d bytes, %v; want a short body and the connection closed", fl.fl.path, len(got), bigLen, err)
			}
			if n := min(len(got), len(fl.fl.after)); !bytes.Equal(got[:n], fl.fl.before[:n]) {
				t.Errorf("%s truncated in flight: the first %d bytes differ from the file's", fl.fl.path, n)
			}
			if _, err := fl.r.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("%s truncated in flight: after the short body %v, want the end of the stream", fl.fl.path, err)
			}
			t.Logf("%s truncated to %d bytes in flight: %d of %d body bytes, then the end of the stream", fl.fl.path, len(fl.fl.after), len(got), bigLen)
			continue
		}
		if err != nil || !bytes.Equal(got, fl.fl.before) {
			t.Errorf("%s in flight: %d of %d bytes, %v; want the old file whole", fl.fl.path, len(got), bigLen, err)
		}
	}

	// The server saw the truncation as a failure on its side (sendfile
	// returned 0 before the announced length), not as a client abort.
	if n := w.counter(t, "epfs_connections_closed_total", "reason", "error") - errors0; n != 1 {
		t.Errorf("%v connections closed for an error on the server's side, want 1 (the truncated transfer)", n)
	}

	// The documented bound: any lookup that starts more than 1 s after the
	// change sees it.
	time.Sleep(time.Until(changed.Add(time.Second + 50*time.Millisecond)))
	for path, fl := range files {
		status, b := get(path)
		switch {
		case fl.after == nil && status != 404:
			t.Errorf("GET %s 1 s after it was deleted: %d, want 404", path, status)
		case fl.after != nil && (status != 200 || !bytes.Equal(b, fl.after)):
			t.Errorf("GET %s 1 s after the change: %d, %d bytes, want 200 and the new %d bytes", path, status, len(b), len(fl.after))
		}
	}
	http.DefaultClient.CloseIdleConnections()
	// The two large files that still exist are cached again, each with a
	// descriptor; every descriptor of the old versions has been closed.
	w.rest.fds += 2
	w.healthy(t)
}

// A 5 GiB file, served whole and by a range that crosses 4 GiB: offsets
// and lengths past 32 bits survive parsing, planning, Content-Length,
// Content-Range and sendfile (whose calls transmit caps at 1 GiB each).
//
// The file is sparse on tmpfs (/dev/shm), where a hole reads as the zero
// page at memory speed and costs no memory; on ext4 holes read at about
// 300 MB/s, too slow for a 5 GiB test. The client is a raw socket read into
// a 1 MiB buffer that compares only the length and a few marked offsets, so
// the test process (instrumented under -race) does no per-byte work.
func TestServeFiveGiB(t *testing.T) {
	noLeaks(t)
	const size = 5 << 30
	root, err := os.MkdirTemp("/dev/shm", "epfs-5gib-")
	if err != nil {
		t.Fatalf("tmpfs for the sparse file: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello, world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Markers: eight bytes naming their own offset, at the start, either
	// side of 2^31 and 2^32 (one straddles it), and the last eight bytes.
	marks := map[int64][]byte{}
	for _, off := range []int64{0, 1<<31 - 4, 1<<32 - 4, 1<<32 + 4096, size - 8} {
		marks[off] = fmt.Appendf(nil, "%08x", off)[:8]
		if off == 0 {
			marks[off] = []byte("EPFS5GiB")
		}
	}
	big, err := os.Create(filepath.Join(root, "five.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, m := range marks {
		if _, err := big.WriteAt(m, off); err != nil {
			t.Fatal(err)
		}
	}
	big.Close()
	w := serveWatched(t, &fixture{root: root})
	// The file's cache entry holds a descriptor: count it in the rest.
	raw(t, w.addr, "HEAD /five.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	w.rest = w.settle(t, nil)

	head, n := fetchMarked(t, w.addr, "GET /five.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0, marks)
	if !strings.HasPrefix(head, "HTTP/1.1 200 ") || !strings.Contains(head, fmt.Sprintf("\r\nContent-Length: %d\r\n", int64(size))) || n != size {
		t.Fatalf("whole file: %d body bytes, head %q", n, head)
	}

	from, to := int64(1<<32-1<<20), int64(1<<32+1<<20-1)
	head, n = fetchMarked(t, w.addr, fmt.Sprintf("GET /five.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\nConnection: close\r\n\r\n", from, to), from, marks)
	if !strings.HasPrefix(head, "HTTP/1.1 206 ") || !strings.Contains(head, fmt.Sprintf("\r\nContent-Range: bytes %d-%d/%d\r\n", from, to, int64(size))) || n != to-from+1 {
		t.Fatalf("range across 4 GiB: %d body bytes, head %q", n, head)
	}
	w.healthy(t)
}

// fetchMarked sends req on a new connection and reads to the end of the
// stream. The body is taken to start at file offset base; every marker
// that falls in it, whole or in part, must be there. It returns the head
// and the number of body bytes.
func fetchMarked(t *testing.T, addr, req string, base int64, marks map[int64][]byte) (string, int64) {
	t.Helper()
	start := time.Now()
	// 5 GiB over loopback take seconds; a minute is the order of magnitude
	// above that bounds a hang.
	c := sendOn(t, addr, req, 60*time.Second)
	defer c.Close()
	buf := make([]byte, 1<<20)
	var head []byte
	pos := base // file offset of the next body byte
	for {
		k, err := c.Read(buf)
		p := buf[:k]
		if head == nil || !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
			// Still in the head: it ends at the first blank line.
			i := bytes.Index(append(head, p...), []byte("\r\n\r\n"))
			if i < 0 {
				head = append(head, p...)
				p = nil
			} else {
				cut := i + 4 - len(head)
				head = append(head, p[:cut]...)
				p = p[cut:]
			}
		}
		for off, m := range marks {
			lo, hi := max(off, pos), min(off+int64(len(m)), pos+int64(len(p)))
			if lo < hi && !bytes.Equal(p[lo-pos:hi-pos], m[lo-off:hi-off]) {
				t.Fatalf("bytes %d-%d: %q, want %q", lo, hi-1, p[lo-pos:hi-pos], m[lo-off:hi-off])
			}
		}
		pos += int64(len(p))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d body bytes: %v", pos-base, err)
		}
	}
	t.Logf("%d body bytes in %v", pos-base, time.Since(start).Round(time.Millisecond))
	return string(head), pos - base
}

// fifoWriter is a thread blocked in open(O_WRONLY) of a FIFO. fifo(7): that
// open waits until someone opens the FIFO for reading, so as long as the
// thread is still inside openat, no reader has come, not even for an
// instant.
type fifoWriter struct {
	tid  int
	done chan error
}

// blockWriter starts a thread opening path for writing and returns once the
// kernel shows it waiting inside openat.
func blockWriter(t *testing.T, path string) *fifoWriter {
	t.Helper()
	w := &fifoWriter{done: make(chan error, 1)}
	tidc := make(chan int, 1)
	go func() {
		// Locked and never unlocked: the thread is ours alone, and exits
		// with the goroutine.
		runtime.LockOSThread()
		tidc <- unix.Gettid()
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		w.done <- err
	}()
	w.tid = <-tidc
	t.Cleanup(func() {
		// Open the FIFO for reading ourselves: that releases the writer.
		if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			defer unix.Close(fd)
		}
		select {
		case <-w.done:
		case <-time.After(waitGuard):
			t.Errorf("hang guard: the FIFO writer did not return within %v of a reader opening the FIFO", waitGuard)
		}
	})
	// The thread gets to the kernel's wait for a reader in microseconds.
	waitFor(t, "FIFO writer blocked in openat", func() bool { return w.waiting(t) })
	return w
}

// waiting reports whether the writer is still blocked inside openat:
// /proc/PID/task/TID/syscall names the system call a sleeping thread is in,
// and says "running" for one that a reader's open has woken (proc(5)).
func (w *fifoWriter) waiting(t *testing.T) bool {
	t.Helper()
	select {
	case err := <-w.done:
		w.done <- err
		return false
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", w.tid))
	if err != nil {
		t.Fatal(err)
	}
	nr, _, _ := strings.Cut(string(b), " ")
	return nr == strconv.Itoa(unix.SYS_OPENAT)
}

// TestFIFONeverOpened: a FIFO in the root, named directly, as a directory's
// index file, as a precompressed variant and inside a listed directory, is
// refused without ever being opened: a writer blocked on it still finds no
// reader after every refusal. Opening it, even O_NONBLOCK for an instant as
// epfs once did before fstat refused it, would have released the writer: a
// device's driver sees a side effect the same way.
func TestFIFONeverOpened(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	for _, p := range []string{"pipe", "fdir/index.html", "ldir/pipe", "v.txt.gz"} {
		full := filepath.Join(f.root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := unix.Mkfifo(full, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(f.root, "v.txt"), []byte("plain\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := serve(t, f, "--autoindex", "--precompressed")
	for _, c := range []struct {
		path, fifo string
		status     int
		body       string // a substring of the body, "" for none
	}{
		{"/pipe", "pipe", 403, ""},
		{"/fdir/", "fdir/index.html", 200, "Index of /fdir/"},
		{"/ldir/", "ldir/pipe", 200, "Index of /ldir/"},
		{"/v.txt", "v.txt.gz", 200, "plain"},
	} {
		w := blockWriter(t, filepath.Join(f.root, c.fifo))
		req, _ := http.NewRequest("GET", base+c.path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, r)
		if r.StatusCode != c.status || !strings.Contains(b, c.body) || strings.Contains(b, ">pipe<") {
			t.Errorf("GET %s: %d %q, want %d with %q", c.path, r.StatusCode, b, c.status, c.body)
		}
		if !w.waiting(t) {
			t.Errorf("GET %s: the FIFO %s was opened: its blocked writer found a reader", c.path, c.fifo)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// Run as a user that neither owns the served files nor may write them (as
// the systemd unit's DynamicUser= does), epfs is refused cachestat(2) for
// every file on kernels that show the page cache only to such processes
// (can_do_cachestat, mm/filemap.c). The start-up probe cannot tell (it
// asks about no file), so the first refusal turns the loop's probe back to
// preadv2: the file is served whole, the refusal is counted once per loop,
// and the rest of the chunks are probed with preadv2. Needs root, to start
// epfs as nobody.
func TestCachestatRefusedForFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run epfs as another user")
	}
	// A directory nobody can reach, holding a copy of the binary and a
	// root-owned tree: t.TempDir and the build directory are 0700.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "epfs")
	b, err := os.ReadFile(epfsBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	if err := os.WriteFile(filepath.Join(root, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: execAs(bin, 65534, "serve", "--root", root, "--listen", "127.0.0.1:0", "--loops", "1",
		"--access-log", "off", "--admin-listen", "127.0.0.1:0")}
	p.start(t, "listening")
	admin := adminURL(t, p)
	probe := ""
	for _, l := range p.logLines() {
		if s, ok := l["probe"].(string); ok {
			probe = s
		}
	}
	if probe != "cachestat" {
		t.Skipf("start-up probe chose %q: cachestat(2) not usable here at all", probe)
	}
	before := scrape(t, admin)
	r, err := http.Get("http://" + strings.Split(p.addr, ",")[0] + "/f.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || r.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("status %d, %d bytes, %v; want 200 and the file", r.StatusCode, len(got), err)
	}
	after := scrape(t, admin)
	d := func(name string, labels ...string) float64 {
		return metric(after, name, labels...) - metric(before, name, labels...)
	}
	refused := d("epfs_cold_probes_total", "result", "refused")
	cachestat := d("epfs_syscalls_total", "syscall", "cachestat")
	preadv2 := d("epfs_syscalls_total", "syscall", "preadv2")
	if refused == 0 && cachestat > 0 {
		t.Skipf("this kernel lets a process that may not write the file see its page cache (%v cachestat calls)", cachestat)
	}
	if refused != 1 || cachestat != 1 {
		t.Errorf("%v cachestat refusals in %v calls, want exactly 1 (the first turns the loop to preadv2)", refused, cachestat)
	}
	// 6 MiB in 2 MiB chunks: two one-byte probes each.
	if preadv2 != 6 {
		t.Errorf("%v preadv2 probes, want 6", preadv2)
	}
}

// execAs prepares bin with args to run as uid (and the same gid).
func execAs(bin string, uid uint32, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}
