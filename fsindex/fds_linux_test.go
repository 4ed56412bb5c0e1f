//go:build linux

package fsindex

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// TestFdAccounting runs a workload that overflows the fd budget while some
// entries are held, as in-flight transfers hold them, and checks that a
// held entry's descriptor survives its eviction, that the cache never holds
// more than its budget, and that every descriptor is closed in the end.
func TestFdAccounting(t *testing.T) {
	root := t.TempDir()
	const files = 64
	for i := range files {
		mkTree(t, root, fmt.Sprintf("f%02d.bin=%s", i, fmt.Sprint(i)))
	}
	mkTree(t, root, "f00.bin.gz=gz", "f01.bin.br=br")
	baseline := openFds(t)
	resolvers(t, func(t *testing.T, walk bool) {
		x, err := open(Options{Root: root, SmallFileMax: -1, MaxFds: 8, MaxEntries: 16,
			Precompressed: true, Valid: 10 * time.Millisecond}, walk)
		if err != nil {
			t.Fatal(err)
		}
		var c syscount.Counters
		var held []*Entry
		for round := range 3 {
			for i := range files {
				e, r, err := x.Lookup(&c, fmt.Sprintf("/f%02d.bin", i))
				if r != Found || err != nil {
					t.Fatalf("f%02d: %v %v", i, r, err)
				}
				if e.Fd < 0 {
					t.Fatalf("f%02d: no fd with SmallFileMax < 0", i)
				}
				if i%7 == 0 && round == 0 {
					held = append(held, e) // an in-flight transfer
				} else {
					e.Release(&c)
				}
				if n := x.cachedFds(); n > 8 {
					t.Fatalf("cache holds %d fds, budget 8", n)
				}
			}
			time.Sleep(20 * time.Millisecond) // let revalidation replace entries too
		}
		// Held entries were evicted long ago; their descriptors must still
		// read the right file.
		for _, e := range held {
			var st unix.Stat_t
			if err := unix.Fstat(e.Fd, &st); err != nil || st.Ino != e.Inode {
				t.Errorf("held fd %d: %v (ino %d, want %d)", e.Fd, err, st.Ino, e.Inode)
			}
			e.Release(&c)
		}
		if got := openFds(t); got > baseline+1+8 {
			t.Errorf("with the cache open: %d fds, baseline %d + root + budget 8", got, baseline)
		}
		x.Close(&c)
		if got := openFds(t); got != baseline {
			t.Errorf("after Close: %d open fds, baseline %d", got, baseline)
		}
		// Every descriptor the index opened through c, it closed through c,
		// and Close closed the root, which Open opened uncounted.
		opened := c.Calls(syscount.Openat2, syscount.OK) + c.Calls(syscount.Openat, syscount.OK)
		if closed := c.Total(syscount.Close); opened+1 != closed {
			t.Errorf("opened %d descriptors, closed %d", opened, closed)
		}
	})
}

// cachedFds sums the descriptors the shards account for.
func (x *Index) cachedFds() int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.RLock()
		n += sh.fds
		sh.mu.RUnlock()
	}
	return n
}

// TestReleaseAfterClose: an entry held across Close keeps its descriptor
// until released.
func TestReleaseAfterClose(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "big="+string(make([]byte, 32<<10)))
	baseline := openFds(t)
	x, err := Open(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	e, r, _ := x.Lookup(nil, "/big")
	if r != Found || e.Fd < 0 {
		t.Fatalf("%v %+v", r, e)
	}
	x.Close(nil)
	if _, r, err := x.Lookup(nil, "/big"); r != Failed || err != ErrClosed {
		t.Errorf("lookup after Close: %v %v", r, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(e.Fd, &st); err != nil {
		t.Errorf("held fd closed by Close: %v", err)
	}
	e.Release(nil)
	if got := openFds(t); got != baseline {
		t.Errorf("%d open fds, baseline %d", got, baseline)
	}
}

// TestFIFO: a FIFO in the root is refused without blocking, on both
// resolvers; opening one for reading without O_NONBLOCK would wait for a
// writer forever (fifo(7)).
func TestFIFO(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "pipe|", "d/pipe|", "link -> pipe", "d/index.html -> pipe", "ok.txt")
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: root, Listing: true}, walk)
		done := make(chan string, 1)
		go func() {
			var out string
			for _, p := range []string{"/pipe", "/link", "/d/pipe", "/d/"} {
				_, r, body := lookupBody(x, p)
				out += fmt.Sprintf("%s=%v ", p, r)
				if p == "/d/" && (r != Listing || strings.Contains(body, "pipe")) {
					out += "(listing shows the fifo) "
				}
			}
			done <- out
		}()
		select {
		case got := <-done:
			if want := "/pipe=forbidden /link=forbidden /d/pipe=forbidden /d/=listing "; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("hang guard: lookup of a FIFO hung")
		}
	})
}

// TestFIFONotOpened: a FIFO (named, through a symlink, as an index file, as
// a variant) is refused without being opened, on both resolvers: a thread
// blocked opening it for writing, which any reader's open would release
// (fifo(7)), is still blocked after the lookups.
func TestFIFONotOpened(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "pipe|", "link -> pipe", "d/index.html|", "v.txt", "v.txt.br|")
	resolvers(t, func(t *testing.T, walk bool) {
		x := newIndex(t, Options{Root: root, Listing: true, Precompressed: true, Valid: -1}, walk)
		for _, c := range []struct{ path, fifo, want string }{
			{"/pipe", "pipe", "forbidden"}, {"/link", "pipe", "forbidden"},
			{"/d/", "d/index.html", "listing"}, {"/v.txt", "v.txt.br", "found"},
		} {
			tid, done := blockFIFOWriter(t, filepath.Join(root, c.fifo))
			if r, _, _ := lookup(t, x, c.path); r.String() != c.want {
				t.Errorf("%s: %v, want %s", c.path, r, c.want)
			}
			if !inOpenat(t, tid, done) {
				t.Errorf("%s: %s was opened: its blocked writer found a reader", c.path, c.fifo)
			}
		}
	})
}

// blockFIFOWriter starts a thread opening path for writing, which blocks
// until a reader opens it, and waits until it is blocked. A clean-up opens
// the FIFO for reading, which releases it.
func blockFIFOWriter(t *testing.T, path string) (int, chan struct{}) {
	tidc, done := make(chan int, 1), make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with us
		tidc <- unix.Gettid()
		if fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
			unix.Close(fd)
		}
	}()
	tid := <-tidc
	t.Cleanup(func() {
		if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			defer unix.Close(fd)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second): // hang guard
			t.Error("the FIFO writer was not released")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !inOpenat(t, tid, done); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // hang guard: it blocks in microseconds
			t.Fatal("the FIFO writer never blocked")
		}
	}
	return tid, done
}

// inOpenat reports whether thread tid is asleep inside openat: proc(5)'s
// /proc/PID/task/TID/syscall says "running" for a thread a reader woke.
func inOpenat(t *testing.T, tid int, done chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.HasPrefix(string(b), strconv.Itoa(unix.SYS_OPENAT)+" ")
}

// lookupBody is lookup for goroutines that must not call t.Fatal.
func lookupBody(x *Index, path string) (*Entry, Result, string) {
	e, r, _ := x.Lookup(nil, path)
	if e == nil {
		return nil, r, ""
	}
	defer e.Release(nil)
	return e, r, string(e.Body)
}

func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "file")
	for _, o := range []Options{
		{},
		{Root: filepath.Join(root, "missing")},
		{Root: filepath.Join(root, "file")},
		{Root: root, Index: "a/b.html"},
	} {
		if x, err := Open(o); err == nil {
			x.Close(nil)
			t.Errorf("Open(%+v) succeeded", o)
		} else {
			t.Logf("Open(%+v): %v", o, err)
		}
	}
}
