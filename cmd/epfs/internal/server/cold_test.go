//go:build linux

package server

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/epfs/epfs/poller/syscount"
	"github.com/epfs/epfs/transmit"
	"golang.org/x/sys/unix"
)

// pattern is the byte at offset i of every test file.
func pattern(i int64) byte { return byte(i*7 + i>>8) }

// writeCold writes a file of size bytes into dir and evicts it from the page
// cache: fsync first, because posix_fadvise(POSIX_FADV_DONTNEED) drops only
// clean pages (it starts writeback of dirty ones and skips them). The test
// is skipped where eviction cannot be checked: a file system whose pages
// cannot be dropped (tmpfs) or that refuses RWF_NOWAIT.
func writeCold(t testing.TB, dir, name string, size int64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		for i := range n {
			buf[i] = pattern(off + i)
		}
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	evict(t, path)
	return path
}

// evict drops path's pages from the page cache and checks, with the probe
// epfs uses, that its first byte is gone.
func evict(t testing.TB, path string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	iov := unix.Iovec{Base: &b[0], Len: 1}
	_, _, e := unix.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, 0, 0, unix.RWF_NOWAIT)
	switch e {
	case unix.EAGAIN:
	case unix.EOPNOTSUPP:
		t.Skipf("%s: the file system refuses RWF_NOWAIT", path)
	default:
		t.Skipf("%s: still resident after POSIX_FADV_DONTNEED (errno %v): cannot test a cold read here", path, e)
	}
}

// readBody reads one response to a GET and checks its body byte for byte
// against pattern. It returns the status.
func (c *rawClient) readBody(t testing.TB, size int64) int {
	t.Helper()
	var status int
	for {
		if i := bytes.Index(c.buf[:c.n], crlf2); i >= 0 {
			head := c.buf[:i+2]
			status = int(head[9]-'0')*100 + int(head[10]-'0')*10 + int(head[11]-'0')
			if got := contentLength(head); got != size {
				t.Fatalf("Content-Length %d, want %d", got, size)
			}
			c.consume(i + 4)
			break
		}
		if err := c.fill(); err != nil {
			t.Fatal(err)
		}
	}
	for off := int64(0); off < size; {
		if c.n == 0 {
			if err := c.fill(); err != nil {
				t.Fatalf("after %d of %d body bytes: %v", off, size, err)
			}
		}
		k := int(min(size-off, int64(c.n)))
		for i, b := range c.buf[:k] {
			if b != pattern(off+int64(i)) {
				t.Fatalf("body byte %d is %#x, want %#x", off+int64(i), b, pattern(off+int64(i)))
			}
		}
		c.consume(k)
		off += int64(k)
	}
	return status
}

// recorder keeps the trace of one loop's file syscalls.
type recorder struct {
	mu  sync.Mutex
	rec []syscount.Record
}

func (r *recorder) hook(rec syscount.Record) {
	switch rec.Syscall {
	case syscount.Preadv2, syscount.Cachestat, syscount.Sendfile, syscount.Splice, syscount.Pread:
		r.mu.Lock()
		r.rec = append(r.rec, rec)
		r.mu.Unlock()
	}
}

// checkNoColdSend walks the loop's trace in order: a range a probe
// reported cold (preadv2 EAGAIN at its offset, or a cachestat that counted
// fewer pages than the range has) stays cold until a later probe from the
// same offset succeeds, and no sendfile may cover a byte of a cold range.
// It returns the numbers of cold answers and of sendfiles seen.
func (r *recorder) checkNoColdSend(t *testing.T) (cold, sends int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	page := int64(os.Getpagesize())
	coldAt := map[int64]int64{} // start: end of a range reported cold
	for _, rec := range r.rec {
		switch rec.Syscall {
		case syscount.Preadv2:
			if rec.Errno == unix.EAGAIN {
				coldAt[rec.Offset] = rec.Offset + 1
				cold++
			} else if rec.Errno == 0 {
				delete(coldAt, rec.Offset)
			}
		case syscount.Cachestat:
			if rec.Errno != 0 || rec.Fd < 0 {
				continue
			}
			end := rec.Offset + int64(rec.Count)
			if pages := (end-1)/page - rec.Offset/page + 1; int64(rec.Ret) < pages {
				coldAt[rec.Offset] = end
				cold++
			} else {
				delete(coldAt, rec.Offset)
			}
		case syscount.Sendfile:
			sends++
			for off, end := range coldAt {
				if rec.Ret > 0 && rec.Offset < end && off < rec.Offset+int64(rec.Ret) {
					t.Errorf("sendfile at %d of %d bytes on the loop covered [%d, %d), which a probe had reported cold", rec.Offset, rec.Ret, off, end)
				}
			}
		case syscount.Pread, syscount.Splice:
			t.Errorf("%v on the loop under the sendfile strategy", rec.Syscall)
		}
	}
	return cold, sends
}

// A file evicted from the page cache is served byte for byte; its probe
// found it cold, the pool read it, and no sendfile on the loop read a range
// the probe had reported cold before a later probe found it resident.
func TestColdFileServedThroughPool(t *testing.T) {
	root := testRoot(t, false)
	const size = 8 << 20
	writeCold(t, root, "cold.bin", size)
	r := start(t, Config{Root: root})
	var rec recorder
	r.workers[0].sc.SetTrace(rec.hook)
	defer r.workers[0].sc.SetTrace(nil)

	c := dialRaw(t, r.addr)
	if err := c.send(get("/cold.bin")); err != nil {
		t.Fatal(err)
	}
	if st := c.readBody(t, size); st != 200 {
		t.Fatalf("status %d", st)
	}
	var handed, waits, coldProbes uint64
	r.onLoop(t, 0, func(w *worker) {
		handed = w.stats.ioHanded.Load()
		for i := range w.stats.ioWait.counts {
			waits += w.stats.ioWait.counts[i].Load()
		}
		coldProbes = w.tw.Stat(transmit.ProbesCold)
	})
	if coldProbes == 0 || handed == 0 || waits != handed {
		t.Errorf("cold probes %d, ranges handed to the pool %d, waits observed %d: want a cold probe, a hand-over, and one wait per hand-over", coldProbes, handed, waits)
	}
	var poolReads uint64
	for i := range r.pool.Threads() {
		poolReads += r.pool.Counters(i).Calls(syscount.Pread, syscount.OK)
	}
	if poolReads == 0 {
		t.Errorf("the pool's threads made no pread: nobody read the cold range off the loop")
	}
	cold, sends := rec.checkNoColdSend(t)
	if cold == 0 || sends == 0 {
		t.Errorf("trace: %d cold probes, %d sendfiles; want both", cold, sends)
	}
	t.Logf("8 MiB cold: %d cold probes, %d ranges handed to the pool, %d pool preads, %d sendfiles", cold, handed, poolReads, sends)

	// Served again, now hot: probes succeed and nothing goes to the pool.
	c.roundTrip(t, get("/cold.bin"), 200)
	r.onLoop(t, 0, func(w *worker) {
		if got := w.stats.ioHanded.Load(); got != handed {
			t.Errorf("a hot file was handed to the pool: %d hand-overs, want %d", got, handed)
		}
	})
}

// With --io-threads 0 nothing is probed: a cold file is sent as before,
// and its cache misses block the loop.
func TestColdFileWithoutPool(t *testing.T) {
	root := testRoot(t, false)
	const size = 4 << 20
	writeCold(t, root, "cold.bin", size)
	r := start(t, Config{Root: root, IOThreads: -1})
	c := dialRaw(t, r.addr)
	if err := c.send(get("/cold.bin")); err != nil {
		t.Fatal(err)
	}
	if st := c.readBody(t, size); st != 200 {
		t.Fatalf("status %d", st)
	}
	if r.pool != nil {
		t.Fatal("a pool with IOThreads < 0")
	}
	if s := r.loopCounters(t); s.Total(syscount.Preadv2) != 0 {
		n := s.Total(syscount.Preadv2)
		t.Errorf("%d preadv2 probes with the pool off, want 0", n)
	}
}

// On a file system that refuses RWF_NOWAIT (tmpfs answers EOPNOTSUPP) the
// one-byte probe is counted as unsupported and the file is sent as without
// it. cachestat does work there (shmem has a page cache): with it the
// chunks are vouched for by cachestat alone.
func TestColdProbeUnsupported(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skip("no tmpfs at /dev/shm")
	}
	root, err := os.MkdirTemp("/dev/shm", "epfs-cold-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	b := make([]byte, 3<<20)
	for i := range b {
		b[i] = pattern(int64(i))
	}
	if err := os.WriteFile(filepath.Join(root, "f.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		cachestat   bool
		unsupported uint64
	}{{"preadv2", false, 1}, {"cachestat", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.cachestat {
				real := cachestatUsable
				cachestatUsable = func(*syscount.Counters) error { return unix.ENOSYS }
				t.Cleanup(func() { cachestatUsable = real })
			} else if err := transmit.CachestatUsable(nil); err != nil {
				t.Skipf("cachestat(2) not usable here: %v", err)
			}
			r := start(t, Config{Root: root})
			c := dialRaw(t, r.addr)
			if err := c.send(get("/f.bin")); err != nil {
				t.Fatal(err)
			}
			if st := c.readBody(t, int64(len(b))); st != 200 {
				t.Fatalf("status %d", st)
			}
			r.onLoop(t, 0, func(w *worker) {
				if u, h := w.tw.Stat(transmit.ProbesUnsupported), w.stats.ioHanded.Load(); u != tc.unsupported || h != 0 {
					t.Errorf("unsupported probes %d (want %d: once per response without cachestat), hand-overs %d (want 0)", u, tc.unsupported, h)
				}
			})
		})
	}
}

// While the pool reads a cold 256 MiB file for one client, a second client
// on the same loop gets every one of its requests for a hot 1 KiB file
// answered before the cold transfer ends.
func TestColdTransferDoesNotStallLoop(t *testing.T) {
	root := testRoot(t, false)
	const size = 256 << 20
	writeCold(t, root, "big.bin", size)
	r := start(t, Config{Root: root})

	cold := dialRaw(t, r.addr)
	if err := cold.send(get("/big.bin")); err != nil {
		t.Fatal(err)
	}
	coldDone := make(chan time.Time, 1)
	go func() {
		_, n, err := cold.response()
		if err != nil || n != size {
			t.Errorf("cold transfer: %d bytes, %v", n, err)
		}
		coldDone <- time.Now()
	}()
	waitFor(t, "the first cold range handed to the pool", func() bool {
		var h uint64
		r.onLoop(t, 0, func(w *worker) { h = w.stats.ioHanded.Load() })
		return h > 0
	})
	hot := dialRaw(t, r.addr)
	const n = 200
	for range n {
		hot.roundTrip(t, get("/small.bin"), 200)
	}
	hotDone := time.Now()
	var end time.Time
	select {
	case end = <-coldDone:
	case <-time.After(2 * hangGuard):
		t.Fatalf("hang guard: the cold transfer did not finish within %v", 2*hangGuard)
	}
	if !hotDone.Before(end) {
		t.Errorf("the %d hot requests finished %v after the cold transfer", n, hotDone.Sub(end))
	}
	var handed uint64
	r.onLoop(t, 0, func(w *worker) { handed = w.stats.ioHanded.Load() })
	t.Logf("hot requests done %v before the cold transfer; %d cold ranges handed to the pool", end.Sub(hotDone), handed)
}
