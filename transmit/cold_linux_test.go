//go:build linux

package transmit

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// coldEnv is an env with Probe on, on the test's temp dir, and one file
// written, synced and evicted; the test is skipped where it cannot be
// evicted (see evictFile). The probe is cachestat where the kernel has it
// (as the server configures it): cachestat only counts pages, while on
// some kernels the one-byte preadv2(RWF_NOWAIT) probe of a missing page
// starts reading it and, when the device answers first, reads it (see
// cold_linux.go), so a file evicted before a Step may be found resident
// by that Step's own probe.
func coldEnv(t *testing.T, size int) (*env, []byte) {
	e := newEnv(t, Config{Probe: true, Cachestat: CachestatUsable(nil) == nil})
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	e.file("cold.bin", data)
	evictFile(t, filepath.Join(e.root, "cold.bin"), true)
	return e, data
}

// evictFile syncs path and drops it from the page cache
// (POSIX_FADV_DONTNEED drops clean pages only). With check, the test is
// skipped unless mincore(2) then finds its first page gone. mincore only
// looks: a preadv2(RWF_NOWAIT) check would, on kernels where the flag
// does not keep the read from starting I/O, bring the page back itself.
func evictFile(t *testing.T, path string, check bool) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Fsync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	if !check {
		return
	}
	if resident(t, fd, 0) {
		t.Skipf("cannot make %s cold here (its first page stays in the page cache)", path)
	}
}

// resident reports whether the page of fd holding off is in the page
// cache, by mincore(2) over a shared mapping of it, which reads nothing.
func resident(t *testing.T, fd int, off int64) bool {
	t.Helper()
	at := off &^ (pageSize - 1)
	m, err := unix.Mmap(fd, at, int(pageSize), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	var vec [1]byte // x/sys has no Mincore
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	return vec[0]&1 != 0
}

// When the page cache keeps losing the chunk a fetch brought in, the
// response does not wait for ever: after maxFaultRounds fetches the next
// one copies the bytes, and the loop writes them from its buffer. Steps
// are driven by hand; every fetch is followed by another eviction.
func TestColdFetchBoundCopies(t *testing.T) {
	const size = 3 << 20
	e, data := coldEnv(t, size)
	s := stepAll(t, e, "cold.bin", func(f *Fetch) {
		if f.Copy == nil {
			evictFile(t, filepath.Join(e.root, "cold.bin"), false)
		}
	})
	if !bytes.Equal(s.body, data) {
		t.Fatalf("body differs (%d bytes, want %d)", len(s.body), len(data))
	}
	if s.copies == 0 || e.w.Stat(FetchCopies) != uint64(s.copies) {
		t.Fatalf("%d cold steps, %d copy fetches (FetchCopies %d): want the bound to force copies", s.colds, s.copies, e.w.Stat(FetchCopies))
	}
	if s.pool.Total(syscount.Readahead) == 0 || s.pool.Calls[syscount.Pread][syscount.OK] == 0 {
		t.Errorf("the fetches made %d readahead and %d pread", s.pool.Total(syscount.Readahead), s.pool.Calls[syscount.Pread][syscount.OK])
	}
	t.Logf("%d cold steps, %d of them copies", s.colds, s.copies)
}

// While its Fetch is out a response keeps its entry (the I/O thread still
// reads its descriptor) and its buffer. A connection that died meanwhile
// knows the Fetch is out (the response keeps no copy of that fact: see
// Cold) and calls Reset once Fetched has run, which releases both.
func TestColdResetAfterFetch(t *testing.T) {
	e, _ := coldEnv(t, 1<<20)
	fd, client := tcpPair(t, 0)
	go io.Copy(io.Discard, client)
	var r Response
	req := parse(t, "GET /cold.bin HTTP/1.1\r\nHost: t\r\n\r\n")
	var out Outcome
	on(t, e.l, func() {
		ent, res, _ := e.x.Lookup(e.l.Counters(), "/cold.bin")
		r.Plan(e.w, Request{Head: req, Path: []byte("/cold.bin"), KeepAlive: true}, ent, res)
		out = r.Step(fd)
	})
	if out != Cold {
		t.Fatalf("first step: %v, want cold", out)
	}
	on(t, e.l, func() {
		if r.entry == nil || r.s == nil {
			t.Error("the Cold step released the entry or the buffer its Fetch reads with")
		}
	})
	var th syscount.Counters
	r.Fetch().Run(&th, make([]byte, 64<<10))
	on(t, e.l, func() {
		r.Fetched()
		r.Reset()
		if r.entry != nil || r.s != nil || r.Pending() {
			t.Error("Reset after Fetched kept the entry, the buffer, or a pending response")
		}
		if out := r.Step(fd); out != Done {
			t.Errorf("step after the reset: %v, want done", out)
		}
	})
	if _, err := os.Stat(filepath.Join(e.root, "cold.bin")); err != nil {
		t.Fatal(err)
	}
}
