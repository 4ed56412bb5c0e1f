//go:build linux

package syscount_test

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var c *syscount.Counters // nil: uncounted, which must also work
	r, w, err := c.Pipe2(unix.O_NONBLOCK | unix.O_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(r); unix.Close(w) })
	return r, w
}

func TestCountsByOutcome(t *testing.T) {
	r, w := pipe(t)
	var c syscount.Counters
	buf := make([]byte, 16)
	if _, err := c.Read(r, buf); err != unix.EAGAIN {
		t.Fatalf("read on an empty nonblocking pipe: got %v, want EAGAIN", err)
	}
	if n, err := c.Write(w, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if n, err := c.Read(r, buf); n != 5 || err != nil {
		t.Fatalf("read: %d %v", n, err)
	}
	if err := c.Close(-1); err != unix.EBADF {
		t.Fatalf("close(-1): %v", err)
	}
	for _, tc := range []struct {
		s    syscount.Syscall
		o    syscount.Outcome
		want uint64
	}{
		{syscount.Read, syscount.EAGAIN, 1},
		{syscount.Read, syscount.OK, 1},
		{syscount.Write, syscount.OK, 1},
		{syscount.Close, syscount.Other, 1},
		{syscount.Sendfile, syscount.OK, 0},
	} {
		if got := c.Calls(tc.s, tc.o); got != tc.want {
			t.Errorf("%v/%v = %d, want %d", tc.s, tc.o, got, tc.want)
		}
	}
	snap := c.Snapshot()
	if snap.Total(syscount.Read) != 2 || c.Total(syscount.Read) != 2 {
		t.Errorf("read total: %d", snap.Total(syscount.Read))
	}
	if snap.Events[syscount.BytesRead] != 5 || snap.Events[syscount.BytesWritten] != 5 {
		t.Errorf("bytes: read %d written %d", snap.Events[syscount.BytesRead], snap.Events[syscount.BytesWritten])
	}
	later := c.Snapshot()
	if d := later.Sub(snap); d.Total(syscount.Read) != 0 {
		t.Errorf("Sub: %d", d.Total(syscount.Read))
	}
}

func TestTraceRecords(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var c syscount.Counters
	var recs []syscount.Record
	c.SetTrace(func(r syscount.Record) { recs = append(recs, r) })
	buf := make([]byte, 4)
	if n, err := c.Pread(int(f.Fd()), buf, 3); n != 4 || err != nil || string(buf) != "3456" {
		t.Fatalf("pread: %d %v %q", n, err, buf)
	}
	if _, err := c.Read(-1, buf); err != unix.EBADF {
		t.Fatalf("read(-1): %v", err)
	}
	c.SetTrace(nil)
	c.Pread(int(f.Fd()), buf, 0)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2 (none after SetTrace(nil))", len(recs))
	}
	if r := recs[0]; r.Syscall != syscount.Pread || r.Offset != 3 || r.Count != 4 || r.Ret != 4 || r.Errno != 0 || r.Fd != int(f.Fd()) {
		t.Errorf("pread record: %+v", r)
	}
	if r := recs[1]; r.Syscall != syscount.Read || r.Errno != unix.EBADF || r.Ret != -1 {
		t.Errorf("read record: %+v", r)
	}
	if recs[0].Dur < 0 || recs[0].Start.IsZero() {
		t.Errorf("timing: %+v", recs[0])
	}
}

// The file position of a shared descriptor must never move: sendfile and
// pread carry their own offsets.
func TestExplicitOffsetsLeaveFilePosition(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("abcdefghij"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w := pipe(t)
	var c syscount.Counters
	off := int64(2)
	n, err := c.Sendfile(w, int(f.Fd()), &off, 5)
	if n != 5 || err != nil || off != 7 {
		t.Fatalf("sendfile: n=%d err=%v off=%d", n, err, off)
	}
	got := make([]byte, 8)
	m, _ := c.Read(r, got)
	if string(got[:m]) != "cdefg" {
		t.Fatalf("pipe got %q", got[:m])
	}
	pos, _ := unix.Seek(int(f.Fd()), 0, 1)
	if pos != 0 {
		t.Fatalf("file position moved to %d", pos)
	}
	if c.Tally(syscount.BytesSent) != 5 {
		t.Errorf("bytes sent %d", c.Tally(syscount.BytesSent))
	}
	// RWF_NOWAIT on a file just written is served from the page cache.
	n, err = c.Preadv2(int(f.Fd()), got[:3], 7, unix.RWF_NOWAIT)
	if n != 3 || err != nil || string(got[:3]) != "hij" {
		t.Fatalf("preadv2: %d %v %q", n, err, got[:3])
	}
}

func TestWritevAndNames(t *testing.T) {
	r, w := pipe(t)
	var c syscount.Counters
	a, b := []byte("head"), []byte("body")
	iov := []unix.Iovec{{Base: &a[0], Len: 4}, {Base: &b[0], Len: 4}}
	if n, err := c.Writev(w, iov, 8); n != 8 || err != nil {
		t.Fatalf("writev: %d %v", n, err)
	}
	got := make([]byte, 16)
	m, _ := c.Read(r, got)
	if string(got[:m]) != "headbody" {
		t.Fatalf("got %q", got[:m])
	}
	seen := map[string]bool{}
	for s := range syscount.NumSyscalls {
		name := s.String()
		if name == "" || name == "unknown" || seen[name] {
			t.Errorf("syscall %d has name %q", s, name)
		}
		seen[name] = true
	}
	for o := range syscount.NumOutcomes {
		if o.String() == "unknown" {
			t.Errorf("outcome %d unnamed", o)
		}
	}
	for e := range syscount.NumEvents {
		if e.String() == "unknown" {
			t.Errorf("event %d unnamed", e)
		}
	}
}

func TestGetpeername(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, _ := s.(*net.TCPConn).SyscallConn()
	var got netip.AddrPort
	var gerr error
	var sc syscount.Counters
	raw.Control(func(fd uintptr) { got, gerr = sc.Getpeername(int(fd)) })
	if gerr != nil || got.String() != c.LocalAddr().String() {
		t.Fatalf("getpeername = %v, %v; want %v", got, gerr, c.LocalAddr())
	}
	if sc.Calls(syscount.Getpeername, syscount.OK) != 1 {
		t.Fatal("getpeername not counted")
	}
}

func TestWaitHistogram(t *testing.T) {
	var c syscount.Counters
	for _, n := range []int{0, 1, 2, 3, 4, 5, 8, 9, 256, 1000} {
		c.ObserveWait(n)
	}
	s := c.Snapshot()
	// Buckets: 0 | 1 | 2 | 3-4 | 5-8 | 9-16 | ... | 129-256 | >256
	want := [syscount.NumWaitBuckets]uint64{1, 1, 1, 2, 2, 1, 0, 0, 0, 1, 1}
	if s.Waits != want {
		t.Fatalf("histogram %v, want %v", s.Waits, want)
	}
	for i, bound := range []int{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, -1} {
		if got := syscount.WaitBucketBound(i); got != bound {
			t.Errorf("bound %d = %d, want %d", i, got, bound)
		}
	}
	var sum syscount.Snapshot
	sum.Add(&s)
	sum.Add(&s)
	if sum.Waits[3] != 4 || sum.Total(syscount.Read) != 0 {
		t.Errorf("Add: %v", sum.Waits)
	}
}
