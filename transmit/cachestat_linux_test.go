//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// needCachestat skips the test where the kernel does not offer cachestat(2).
func needCachestat(t *testing.T) {
	t.Helper()
	if err := CachestatUsable(nil); err != nil {
		t.Skipf("cachestat(2) not usable here: %v", err)
	}
}

// stepped is what stepAll saw: the body the client read, the Steps that
// returned Cold, and the loop's syscall counts over the response.
type stepped struct {
	body   []byte
	colds  int
	copies int               // Cold steps whose Fetch was a copy
	calls  syscount.Snapshot // the loop's
	pool   syscount.Snapshot // the fetches'
}

// stepAll plans GET /name on a fresh loopback connection and steps it to
// Done by hand, running each Fetch on this goroutine (the I/O thread) and
// calling after (if set) with each Fetch once it has run.
func stepAll(t *testing.T, e *env, name string, after func(f *Fetch)) stepped {
	t.Helper()
	return stepAllBuf(t, e, name, 0, after)
}

// stepAllBuf is stepAll with the server's send buffer set to sndbuf (0:
// the default), as tcpPair takes it.
func stepAllBuf(t *testing.T, e *env, name string, sndbuf int, after func(f *Fetch)) stepped {
	t.Helper()
	fd, client := tcpPair(t, sndbuf)
	got := make(chan []byte, 1)
	go func() {
		resp, body := readResponse(t, bufio.NewReader(client), "GET")
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
		got <- body
	}()
	var r Response
	var s stepped
	var before syscount.Snapshot
	req := parse(t, "GET /"+name+" HTTP/1.1\r\nHost: t\r\n\r\n")
	on(t, e.l, func() {
		ent, res, _ := e.x.Lookup(e.l.Counters(), "/"+name)
		before = e.l.Counters().Snapshot()
		r.Plan(e.w, Request{Head: req, Path: []byte("/" + name), KeepAlive: true}, ent, res)
	})
	var th syscount.Counters
	buf := make([]byte, 256<<10)
	deadline := time.Now().Add(30 * time.Second)
	for out := Outcome(255); out != Done; {
		if time.Now().After(deadline) {
			t.Fatal("hang guard: response not done within 30 s")
		}
		on(t, e.l, func() { out = r.Step(fd) })
		switch out {
		case Cold:
			s.colds++
			f := r.Fetch()
			if f.Copy != nil {
				s.copies++
			}
			f.Run(&th, buf)
			if after != nil {
				after(f)
			}
			on(t, e.l, func() { r.Fetched() })
		case Failed:
			t.Fatalf("failed: %v", r.Err())
		case WouldBlock, Yield:
			time.Sleep(time.Millisecond) // the client drains
		}
	}
	on(t, e.l, func() {
		s.calls = e.l.Counters().Snapshot().Sub(before)
		r.Reset()
	})
	s.body = <-got
	s.pool = th.Snapshot()
	return s
}

// hotFile writes name with size bytes, synced, and pins every page of it
// in the page cache until the test ends (pinFile), then reads it back.
func hotFile(t *testing.T, e *env, name string, size int) []byte {
	t.Helper()
	data := syncedFile(t, e, name, size)
	path := filepath.Join(e.root, name)
	pinFile(t, path, size)
	// Read through once more: a page that was evicted before the pin and
	// faulted back by it may carry the readahead marker, which the
	// one-byte probe answers as cold (see cold_linux.go); a read clears it.
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read back: %v", err)
	}
	return data
}

// syncedFile writes name with size bytes, one page per write(2), and
// syncs it: writeback moving pages under the test would make cachestat's
// count a race.
//
// One page per write keeps the file in single-page folios. Over large
// folios (what one big write makes on ext4 since Linux 6.16) cachestat
// itself can miss a resident one: on the build machine (6.18, CPUs busy),
// cachestat from 1 MiB into a 5 MiB file written in one call answered 769
// pages of 1025, with none evicted, in 263 of 1,162,800 calls, and the
// same call again answered 1025; over the same file written a page at a
// time, 0 of 324,000 were short. The server takes such an answer as pages
// missing (a needless Fetch, or one-byte probes guarding the next chunk),
// which is slower, never wrong; a test that counts the probes over a
// resident file needs the kernel to count it right.
func syncedFile(t *testing.T, e *env, name string, size int) []byte {
	t.Helper()
	data := randomBytes(size, uint64(size))
	f, err := os.Create(filepath.Join(e.root, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for off := 0; off < size; off += int(pageSize) {
		if _, err := f.Write(data[off:min(off+int(pageSize), size)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return data
}

// pinFile maps the size bytes of path and locks them in memory (mlock(2))
// until the test ends. Reading a file back does not keep it resident: a
// clean page-cache page can be evicted at any moment, memory pressure or
// not. Proactive reclaim evicts pages it sampled as idle from a machine
// with gigabytes free (the build machine runs DAMON's pageout scheme; a
// test there lost 1-2 MiB of a file it had just read, once in about 30
// runs). Locked pages are unevictable: reclaim puts them back
// (folio_test_unevictable), so the probes a test counts see the file it
// wrote. A refused lock fails the test, naming the limit: 8 MiB is the
// default RLIMIT_MEMLOCK since Linux 5.16 and the files pinned here are
// smaller.
func pinFile(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) }) // unlocks
	err = unix.Mlock(m)
	if err == unix.ENOMEM || err == unix.EPERM || err == unix.EAGAIN {
		// The soft limit may be below the hard one: raise it and retry.
		var lim unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) == nil && lim.Cur < lim.Max {
			lim.Cur = lim.Max
			if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim) == nil {
				err = unix.Mlock(m)
			}
		}
	}
	if err != nil {
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
		t.Fatalf("mlock of %d bytes (RLIMIT_MEMLOCK %d): %v: the test needs the file pinned in the page cache", size, lim.Cur, err)
	}
}

// A resident file is probed with one cachestat per chunk and no preadv2;
// without Cachestat (the fallback) the same file takes the one-byte
// probes, two per chunk and one for a chunk within one page. The body is
// the same either way.
func TestCachestatProbeCounts(t *testing.T) {
	needCachestat(t)
	const budget = 1 << 20
	const size = 5*budget + 100 // six chunks, the last 100 bytes in one page
	for _, tc := range []struct {
		name                 string
		cachestat            bool
		wantStat, wantPreadv uint64
	}{
		{"cachestat", true, 6, 0},
		{"fallback", false, 0, 5*2 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Probe: true, Cachestat: tc.cachestat, Budget: budget})
			data := hotFile(t, e, "hot.bin", size)
			s := stepAll(t, e, "hot.bin", nil)
			if !bytes.Equal(s.body, data) {
				t.Fatalf("body differs (%d bytes, want %d)", len(s.body), len(data))
			}
			if s.colds != 0 {
				t.Errorf("%d cold steps on a resident file", s.colds)
			}
			if got := s.calls.Total(syscount.Cachestat); got != tc.wantStat {
				t.Errorf("cachestat calls = %d, want %d", got, tc.wantStat)
			}
			if got := s.calls.Total(syscount.Preadv2); got != tc.wantPreadv {
				t.Errorf("preadv2 calls = %d, want %d", got, tc.wantPreadv)
			}
			if got := e.w.Stat(ProbesResident); got != 6 {
				t.Errorf("ProbesResident = %d, want 6 (one per chunk)", got)
			}
		})
	}
}

// A hole in the middle of a chunk whose first and last pages are cached:
// the one-byte probes cannot see it, cachestat does, so the loop never
// reads it. After the fetch the response's own readahead may be in
// flight, and the one-byte probes guard the chunks it may reach.
func TestCachestatSeesHole(t *testing.T) {
	needCachestat(t)
	const budget = 2 << 20
	e := newEnv(t, Config{Probe: true, Cachestat: true, Budget: budget})
	data := syncedFile(t, e, "holey.bin", 3*budget) // not pinned: punch evicts it
	path := filepath.Join(e.root, "holey.bin")
	punch := func() {
		evictFile(t, path, true)
		// Read back only the first and the last page of the first
		// chunk, on a descriptor without readahead (POSIX_FADV_RANDOM).
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM)
		page := make([]byte, pageSize)
		unix.Pread(fd, page, 0)
		unix.Pread(fd, page, budget-pageSize)
		var c *syscount.Counters
		cached := func(off, length int64) uint64 {
			var st unix.Cachestat_t
			if err := c.Cachestat(fd, off, length, &st); err != nil {
				t.Fatal(err)
			}
			return st.Cache
		}
		if n := cached(0, budget); n > budget/uint64(pageSize)/2 || cached(0, 1) != 1 || cached(budget-1, 1) != 1 {
			t.Skipf("cannot leave only the ends of the chunk cached here (%d pages cached)", n)
		}
	}
	punch()
	s := stepAll(t, e, "holey.bin", nil)
	if !bytes.Equal(s.body, data) {
		t.Fatalf("body differs (%d bytes, want %d)", len(s.body), len(data))
	}
	if s.colds == 0 || e.w.Stat(ProbesCold) == 0 {
		t.Fatalf("the hole was not found cold: %d cold steps, ProbesCold %d", s.colds, e.w.Stat(ProbesCold))
	}
	if s.calls.Total(syscount.Preadv2) == 0 {
		t.Errorf("no one-byte probe guarded the chunks after the fetch")
	}
	t.Logf("%d cold steps; cachestat %d, preadv2 %d, sendfile %d", s.colds,
		s.calls.Total(syscount.Cachestat), s.calls.Total(syscount.Preadv2), s.calls.Total(syscount.Sendfile))
}

// CachestatUsable counts its one call: EBADF, counted as another errno.
func TestCachestatUsable(t *testing.T) {
	var c syscount.Counters
	err := CachestatUsable(&c)
	if got := c.Total(syscount.Cachestat); got != 1 {
		t.Fatalf("the start-up probe made %d cachestat calls, want 1", got)
	}
	switch err {
	case nil:
		if c.Calls(syscount.Cachestat, syscount.Other) != 1 {
			t.Errorf("usable, but the call was not the EBADF it should be")
		}
	case unix.ENOSYS, unix.EPERM:
		t.Logf("not usable here: %v", err)
	default:
		t.Errorf("CachestatUsable: %v", err)
	}
}

// A Step that resumes inside the warm window probes the next chunk first,
// so its sendfile is asked for the bytes across the chunk boundary instead
// of stopping at it: with a small send buffer every Step stops on EAGAIN
// long before a budget, and still no chunk is probed twice.
func TestProbeAheadSpansChunks(t *testing.T) {
	needCachestat(t)
	const budget = 256 << 10
	const size = 4 * budget
	e := newEnv(t, Config{Probe: true, Cachestat: true, Budget: budget})
	data := hotFile(t, e, "span.bin", size)
	var spans, sends atomic.Int64
	on(t, e.l, func() {
		e.l.Counters().SetTrace(func(r syscount.Record) {
			if r.Syscall != syscount.Sendfile {
				return
			}
			sends.Add(1)
			if r.Offset/budget != (r.Offset+int64(r.Count)-1)/budget {
				spans.Add(1)
			}
		})
	})
	s := stepAllBuf(t, e, "span.bin", 16<<10, nil)
	on(t, e.l, func() { e.l.Counters().SetTrace(nil) })
	if !bytes.Equal(s.body, data) {
		t.Fatalf("body differs (%d bytes, want %d)", len(s.body), len(data))
	}
	if spans.Load() == 0 {
		t.Errorf("none of %d sendfile calls was asked across a chunk boundary", sends.Load())
	}
	if got := s.calls.Total(syscount.Cachestat); got != size/budget {
		t.Errorf("%d cachestat for %d chunks: a chunk was probed twice", got, size/budget)
	}
}
