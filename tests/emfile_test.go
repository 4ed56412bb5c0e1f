package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Descriptor exhaustion: epfs runs with both RLIMIT_NOFILE limits lowered
// (a Go program raises its soft limit to the hard one at start-up, so
// lowering the soft one alone would test nothing), and more clients connect
// than it has descriptors, until its listen queue is full too. Accepting
// pauses on EMFILE and is counted; the server does not spin while at the
// limit; every answer it gives is 200 or 503 (a lookup that cannot open a
// file is not a 404, nor a 500: each is a 206, for the range asked, or
// a 503); and it serves normally once descriptors
// are freed.
func TestDescriptorExhaustion(t *testing.T) {
	noLeaks(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit (util-linux) is not installed")
	}
	const limit = 64
	f := newFixture(t)
	p := &proc{cmd: exec.Command(prlimit, fmt.Sprintf("--nofile=%d:%d", limit, limit), epfsBin,
		"serve", "--root", f.root, "--listen", "127.0.0.1:0", "--loops", "1", "--access-log", "off",
		"--admin-listen", "127.0.0.1:0")}
	p.start(t, "listening")
	w := watch(t, p, f)
	t.Logf("at rest with RLIMIT_NOFILE %d: %v", limit, w.rest)
	// An acceptor that met EMFILE resumes only when a descriptor is closed
	// or its pause timer fires, and each resume costs at most one accept4
	// EMFILE: so over the test, EMFILE <= timers fired + closes + 1 (the
	// first one, from the listener's own event). A spinning acceptor makes
	// hundreds of thousands in the second at the limit.
	count := func(name string, labels ...string) float64 { return w.counter(t, name, labels...) }
	emfileN := func() float64 { return count("epfs_syscalls_total", "syscall", "accept4", "result", "emfile") }
	timersN := func() float64 { return count("epfs_loop_events_total", "event", "timers_fired") }
	closesN := func() float64 { return count("epfs_syscalls_total", "syscall", "close") }
	emfile0, timers0, closes0 := emfileN(), timersN(), closesN()

	// Held clients first: the server accepts until it runs out of
	// descriptors, and the rest wait at the head of its accept queue.
	const held = 100
	var conns []net.Conn
	for i := 0; i < held; i++ {
		c, err := net.Dial("tcp", w.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Then a flood of bare connects, until the accept queue overflows and
	// the kernel drops SYNs (nonblocking: those connects stay pending).
	backlog := 4096
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v < backlog {
			backlog = v
		}
	}
	port := w.addr[strings.LastIndexByte(w.addr, ':')+1:]
	portNum, _ := strconv.Atoi(port)
	flood := floodConnect(t, portNum, backlog+200)
	queued := acceptQueue(t, portNum)
	if queued < backlog {
		t.Fatalf("accept queue holds %d connections, want it full (%d)", queued, backlog)
	}

	// At the limit, with connections waiting: a loop that retried accept4
	// at once would spend this second on a core. The CPU time is only
	// logged; the loop's counts are the check, after the descriptors are
	// freed (the admin listener cannot accept before).
	cpu0 := w.cpuTime(t)
	time.Sleep(time.Second)
	cpu := w.cpuTime(t) - cpu0

	// Every held client asks for a file: one that is cached in memory, one
	// not yet looked up, one cached with a descriptor (stale by now, so
	// revalidated; a range of it, to keep the transfers short), one in a
	// directory. Each asks to close, so each answer frees a descriptor for
	// the next connection waiting.
	paths := []string{"/hello.txt", "/style.css", "/big.bin", "/dir/file.txt"}
	want := map[string][]byte{"/hello.txt": []byte("hello, world\n"), "/style.css": []byte("body{}\n"),
		"/big.bin": f.big[:64<<10], "/dir/file.txt": []byte("in dir\n")}
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := paths[i%len(paths)]
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=0-65535\r\nConnection: close\r\n\r\n", path)
			r, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Errorf("GET %s at the limit: %v", path, err)
				return
			}
			b, err := io.ReadAll(r.Body)
			mu.Lock()
			statuses[r.StatusCode]++
			mu.Unlock()
			// The small files are shorter than the range: 206 for
			// their whole body.
			switch {
			case r.StatusCode == 206 && (err != nil || !bytes.Equal(b, want[path])):
				t.Errorf("GET %s at the limit: 206 with a wrong body (%d bytes, %v)", path, len(b), err)
			case r.StatusCode != 206 && r.StatusCode != 503:
				t.Errorf("GET %s at the limit: %d %q, want 206 or 503", path, r.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	for _, fd := range flood {
		unix.Close(fd)
	}
	for _, c := range conns {
		c.Close()
	}

	emfile, timers, closes := emfileN()-emfile0, timersN()-timers0, closesN()-closes0
	pauses := w.counter(t, "epfs_loop_events_total", "event", "accept_pauses")
	openEmfile := w.counter(t, "epfs_syscalls_total", "syscall", "openat2", "result", "emfile")
	t.Logf("accept queue %d (backlog %d); server CPU over 1 s at the limit: %v; accept4 EMFILE %v against %v timers fired and %v closes; accept pauses %v, openat2 EMFILE %v; answers by status %v",
		queued, backlog, cpu, emfile, timers, closes, pauses, openEmfile, statuses)
	if emfile == 0 {
		t.Error("no accept4 EMFILE counted")
	}
	if emfile > timers+closes+1 {
		t.Errorf("%v accept4 EMFILE against %v timers fired and %v closes: the acceptor retries without waiting", emfile, timers, closes)
	}
	w.healthy(t)
	for _, path := range paths {
		if r := raw(t, w.addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(r, "HTTP/1.1 200 ") {
			t.Errorf("GET %s after the descriptors were freed: %q", path, firstLine(r))
		}
	}
}

// floodConnect starts n nonblocking connects to 127.0.0.1:port and returns
// their descriptors, closed at the end of the test. A connect whose SYN the
// kernel drops (the accept queue is full) stays pending; nothing waits.
func floodConnect(t *testing.T, port, n int) []int {
	t.Helper()
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	for i := 0; i < n; i++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		fds = append(fds, fd)
		err = unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		if err != nil && err != unix.EINPROGRESS {
			t.Fatalf("connect %d: %v", i, err)
		}
	}
	return fds
}

// acceptQueue reads the length of the accept queue of the listening socket
// on 127.0.0.1:port from /proc/net/tcp: for a socket in LISTEN (state 0A)
// the rx_queue column is its count of connections waiting for accept.
func acceptQueue(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || f[1] != local || f[3] != "0A" {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		n, err := strconv.ParseInt(rx, 16, 64)
		if err != nil {
			t.Fatalf("/proc/net/tcp: %q", line)
		}
		return int(n)
	}
	t.Fatalf("no listening socket on port %d in /proc/net/tcp", port)
	return 0
}
