package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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
