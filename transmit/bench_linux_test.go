//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// BenchmarkTransfer: each strategy and size over loopback, one keep-alive
// connection, request by request through a real poller loop. Reports
// throughput (MB/s), CPU time per MiB of body (user+system of the whole
// process: server loop and the client reading), and the syscalls per
// response that transmit made (write, writev, sendto, sendfile, splice,
// pread). Files are sent from their descriptors (SmallFileMax < 0) so the
// strategies differ at every size; "memory" is fsindex's default for 1 KiB.
//
//	go test -run '^$' -bench Transfer -benchtime 2s ./transmit/
func BenchmarkTransfer(b *testing.B) {
	sizes := []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}, {"100MiB", 100 << 20}}
	root := b.TempDir()
	for _, s := range sizes {
		if err := os.WriteFile(filepath.Join(root, s.name), bytes.Repeat([]byte("epfs-bench\n"), s.n/11+1)[:s.n], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, st := range strategies {
		for _, s := range sizes {
			b.Run(st.String()+"/"+s.name, func(b *testing.B) { benchTransfer(b, root, st, s.name, s.n, -1) })
		}
	}
	b.Run("memory/1KiB", func(b *testing.B) { benchTransfer(b, root, Sendfile, "1KiB", 1<<10, 0) })
}

func benchTransfer(b *testing.B, root string, st Strategy, name string, size int, smallMax int64) {
	x, err := fsindex.Open(fsindex.Options{Root: root, SmallFileMax: smallMax})
	if err != nil {
		b.Fatal(err)
	}
	e := &env{t: b, root: root, x: x, l: startLoop(b)}
	e.w = NewWriter(Config{Strategy: st}, e.l.Counters())
	b.Cleanup(func() { on(b, e.l, func() { e.w.Close(); x.Close(e.l.Counters()) }) })
	tc, client := e.conn(0)
	br := bufio.NewReaderSize(client, 256<<10)
	raw := fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", name)
	buf := make([]byte, 256<<10)
	one := func() {
		tc.send(raw)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		// Discard, not keep: the client's copy would dominate otherwise.
		if n, err := io.CopyBuffer(io.Discard, resp.Body, buf); n != int64(size) || err != nil {
			b.Fatalf("%d bytes: %v", n, err)
		}
		tc.wait()
	}
	one() // warm the cache and the pools
	var c0, c1 syscount.Snapshot
	on(b, e.l, func() { c0 = e.l.Counters().Snapshot() })
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		one()
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	on(b, e.l, func() { c1 = e.l.Counters().Snapshot() })
	d := c1.Sub(c0)
	var calls uint64
	for _, s := range []syscount.Syscall{syscount.Write, syscount.Writev, syscount.Sendto, syscount.Sendfile, syscount.Splice, syscount.Pread} {
		calls += d.Total(s)
	}
	cpu := float64(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / 1e3
	mib := float64(size) * float64(b.N) / (1 << 20)
	b.ReportMetric(cpu/mib, "cpu-µs/MiB")
	b.ReportMetric(float64(calls)/float64(b.N), "syscalls/resp")
}

// BenchmarkPlan: header encoding (Plan of a 200 with every field, then
// Reset) allocates nothing.
func BenchmarkPlan(b *testing.B) {
	root := b.TempDir()
	os.WriteFile(filepath.Join(root, "a.css"), []byte("body{}"), 0o644)
	x, err := fsindex.Open(fsindex.Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close(nil)
	w := NewWriter(Config{ServerHeader: "epfs", CacheControl: "max-age=3600"}, nil)
	req := parse(b, "GET /a.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\nIf-None-Match: \"x\"\r\n\r\n")
	path := []byte("/a.css")
	var r Response
	b.ReportAllocs()
	for range b.N {
		e, res, _ := x.Lookup(nil, "/a.css")
		r.Plan(w, Request{Head: req, Path: path, KeepAlive: true}, e, res)
		r.Reset()
	}
}

// BenchmarkHeadThenBody measures how a response head and a file body should
// share the wire, with raw syscalls on a loopback TCP connection (TCP_NODELAY,
// as poller's listeners set it), one response per round trip: the client
// reads the whole response before the next is sent, as a keep-alive client
// does. It reports TCP segments sent per response (tcpi_segs_out). Modes:
// "write" is write(head) then sendfile(body); "msgmore" is send(head,
// MSG_MORE) then sendfile (transmit's choice); "cork" is TCP_CORK on,
// write(head), sendfile, TCP_CORK off; "writev" is pread of the first 16 KiB,
// writev(head, those bytes), sendfile of the rest; "memory" is writev(head,
// body) from memory, as for fsindex's small files.
//
//	go test -run '^$' -bench HeadThenBody ./transmit/
func BenchmarkHeadThenBody(b *testing.B) {
	root := b.TempDir()
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		data := bytes.Repeat([]byte{'x'}, size)
		p := filepath.Join(root, fmt.Sprint(size))
		os.WriteFile(p, data, 0o644)
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for _, mode := range []string{"write", "msgmore", "cork", "writev", "memory"} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode, size>>10), func(b *testing.B) {
				benchHeadBody(b, mode, int(f.Fd()), data)
			})
		}
	}
}

// benchConn returns a loopback connection whose server side blocks (closed
// when the benchmark ends) and a typical 200 head for a body of n bytes.
func benchConn(b *testing.B, n int) (int, *net.TCPConn, []byte) {
	fd, client := tcpPair(b, 0)
	b.Cleanup(func() { unix.Close(fd) })
	unix.SetNonblock(fd, false)
	return fd, client, []byte("HTTP/1.1 200 OK\r\nDate: Wed, 25 Nov 2026 09:13:10 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
		fmt.Sprint(n) + "\r\nLast-Modified: Wed, 25 Nov 2026 09:13:10 GMT\r\nETag: \"98440f-d-18eb3edbf43539e6\"\r\nAccept-Ranges: bytes\r\n\r\n")
}

func benchHeadBody(b *testing.B, mode string, file int, data []byte) {
	fd, client, head := benchConn(b, len(data))
	total := len(head) + len(data)
	got := make(chan error)
	go func() {
		buf := make([]byte, total)
		for range b.N {
			_, err := io.ReadFull(client, buf)
			got <- err
		}
	}()
	first := make([]byte, 16<<10)
	sendfile := func(off int64) {
		for off < int64(len(data)) {
			if _, err := unix.Sendfile(fd, file, &off, len(data)-int(off)); err != nil {
				b.Fatal(err)
			}
		}
	}
	segs := func() uint32 {
		ti, _ := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		return ti.Segs_out
	}
	s0 := segs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		switch mode {
		case "write":
			unix.Write(fd, head)
			sendfile(0)
		case "msgmore":
			unix.Sendto(fd, head, unix.MSG_MORE, nil)
			sendfile(0)
		case "cork":
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, 1)
			unix.Write(fd, head)
			sendfile(0)
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_CORK, 0)
		case "writev":
			n, _ := unix.Pread(file, first[:min(len(first), len(data))], 0)
			unix.Writev(fd, [][]byte{head, first[:n]})
			sendfile(int64(n))
		case "memory":
			unix.Writev(fd, [][]byte{head, data})
		}
		if err := <-got; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(segs()-s0)/float64(b.N), "segs/resp")
}

// BenchmarkSmallBody compares the two ways to send a head and a small
// body held in memory (fsindex keeps files of at most 16 KiB): "writev",
// one writev(2) of the two (transmit's choice), and "copy", the body
// copied behind the head into one buffer and one write(2). Real loopback
// sockets, blocking on the server side; in "rtt" the client reads each
// response before the next is sent (a keep-alive client), in "stream"
// the client drains as fast as it can and the server sends back to back,
// so ns/op is mostly the sender's own cost. sender-cpu-ns/op is the
// sending thread's user and system time per response (getrusage
// RUSAGE_THREAD), which leaves the client out. Both modes send the same
// bytes, in one syscall each (counted: syscalls/resp).
//
//	go test -run '^$' -bench SmallBody -count 5 ./transmit/
func BenchmarkSmallBody(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10} {
		for _, mode := range []string{"writev", "copy"} {
			for _, flow := range []string{"rtt", "stream"} {
				b.Run(fmt.Sprintf("%s/%s/%dKiB", flow, mode, size>>10), func(b *testing.B) {
					benchSmallBody(b, mode, flow == "rtt", bytes.Repeat([]byte{'x'}, size))
				})
			}
		}
	}
}

func benchSmallBody(b *testing.B, mode string, rtt bool, body []byte) {
	fd, client, head := benchConn(b, len(body))
	total := len(head) + len(body)
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, total)
		if !rtt {
			_, err := io.CopyN(io.Discard, client, int64(total)*int64(b.N))
			got <- err
			return
		}
		for range b.N {
			_, err := io.ReadFull(client, buf)
			got <- err
		}
	}()
	var c syscount.Counters
	buf := make([]byte, 0, total)
	iov := make([]unix.Iovec, 2)
	// The sender's own CPU time (user and system) is read per thread, so
	// the client's reading is not in it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() int64 {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_THREAD, &ru)
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := threadCPU()
	for range b.N {
		var n int
		var err error
		switch mode {
		case "writev":
			iov[0].Base, iov[1].Base = &head[0], &body[0]
			iov[0].SetLen(len(head))
			iov[1].SetLen(len(body))
			n, err = c.Writev(fd, iov, total)
		case "copy":
			buf = append(append(buf[:0], head...), body...)
			n, err = c.Write(fd, buf)
		}
		if err != nil || n != total {
			b.Fatalf("%s: %d of %d bytes, %v", mode, n, total, err)
		}
		if rtt {
			if err := <-got; err != nil {
				b.Fatal(err)
			}
		}
	}
	if !rtt {
		if err := <-got; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "sender-cpu-ns/op")
	b.ReportMetric(float64(c.Total(syscount.Writev)+c.Total(syscount.Write))/float64(b.N), "syscalls/resp")
}

// BenchmarkProbe is what one chunk's residency check costs on a resident
// file, for the default 2 MiB chunk: "cachestat" is one cachestat(2) over
// the chunk and its 4 MiB margin (6 MiB), "preadv2" the two one-byte
// preadv2(RWF_NOWAIT) probes at its ends.
//
//	go test -run '^$' -bench Probe ./transmit/
func BenchmarkProbe(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 8<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	io.Copy(io.Discard, f) // resident
	fd := int(f.Fd())
	var c syscount.Counters
	b.Run("cachestat", func(b *testing.B) {
		if err := CachestatUsable(nil); err != nil {
			b.Skip(err)
		}
		var st unix.Cachestat_t
		for range b.N {
			if err := c.Cachestat(fd, 0, DefaultBudget+raMargin, &st); err != nil || st.Cache != (DefaultBudget+raMargin)/uint64(pageSize) {
				b.Fatalf("%v, %d pages", err, st.Cache)
			}
		}
	})
	b.Run("preadv2", func(b *testing.B) {
		var one [1]byte
		for range b.N {
			c.Preadv2(fd, one[:], 0, unix.RWF_NOWAIT)
			c.Preadv2(fd, one[:], DefaultBudget-1, unix.RWF_NOWAIT)
		}
	})
}
