//go:build linux

package fsindex

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/epfs/epfs/poller/syscount"
)

func benchRoot(b *testing.B) string {
	root := b.TempDir()
	mkTree(b, root, "assets/css/site.css="+string(make([]byte, 4<<10)), "assets/video.mp4="+string(make([]byte, 1<<20)))
	for i := range spread {
		mkTree(b, root, fmt.Sprintf("s/%d.txt", i))
	}
	return root
}

const (
	benchPath = "/assets/css/site.css" // 4 KiB: served from Body
	bigPath   = "/assets/video.mp4"    // 1 MiB: served from Fd, reference counted
	spread    = 64                     // distinct small files for the spread case
)

// BenchmarkLookupHit is a cached hit plus its Release: what a request for a
// hot file costs in fsindex. Valid is long so no revalidation lands inside
// the timed loop. "body" hits a small file kept in memory, "fd" a large one
// whose descriptor is reference counted; "parallel" has every goroutine hit
// the same path (the worst case for shared cache lines), "spread" rotates
// over 64 paths, as a page's assets do.
func BenchmarkLookupHit(b *testing.B) {
	x := newIndex(b, Options{Root: benchRoot(b), Valid: 1 << 40}, false)
	paths := make([]string, spread)
	for i := range paths {
		paths[i] = fmt.Sprintf("/s/%d.txt", i)
	}
	for _, p := range append([]string{benchPath, bigPath}, paths...) {
		if _, r, _ := x.Lookup(nil, p); r != Found {
			b.Fatal(p, r)
		}
	}
	for _, tc := range []struct{ name, path string }{{"body", benchPath}, {"fd", bigPath}} {
		b.Run(tc.name+"/single", func(b *testing.B) {
			var c syscount.Counters
			b.ReportAllocs()
			for b.Loop() {
				e, _, _ := x.Lookup(&c, tc.path)
				e.Release(&c)
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var c syscount.Counters // one per goroutine, as one per loop
				for pb.Next() {
					e, _, _ := x.Lookup(&c, tc.path)
					e.Release(&c)
				}
			})
		})
	}
	b.Run("spread/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seq atomic.Int32
		b.RunParallel(func(pb *testing.PB) {
			var c syscount.Counters
			i := int(seq.Add(17))
			for pb.Next() {
				e, _, _ := x.Lookup(&c, paths[i%spread])
				e.Release(&c)
				i++
			}
		})
	})
}

// BenchmarkOsOpenStat is the baseline a cache must beat: open, fstat and
// close the same file on every request.
func BenchmarkOsOpenStat(b *testing.B) {
	p := filepath.Join(benchRoot(b), benchPath)
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			openStat(b, p)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				openStat(b, p)
			}
		})
	})
}

func openStat(b *testing.B, p string) {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Stat(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// BenchmarkSmallFileThreshold measured the default SmallFileMax: for each
// size, one response over loopback TCP sent either from memory (header and
// body in one write, as a cached Body allows) or from the descriptor (a
// header write, then sendfile). The memory path saves a syscall and a
// packet; as the body grows, the copy from user memory costs what the
// copy from the page cache costs, and only the cache's memory keeps growing.
func BenchmarkSmallFileThreshold(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, conn)
			conn.Close()
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	sock, err := conn.(*net.TCPConn).File() // a blocking dup: no EAGAIN in this loop
	if err != nil {
		b.Fatal(err)
	}
	defer sock.Close()
	out := int(sock.Fd())
	header := make([]byte, 200)
	root := b.TempDir()
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		name := filepath.Join(root, fmt.Sprint(size))
		must(b, os.WriteFile(name, make([]byte, size), 0o644))
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		body := make([]byte, size)
		resp := append(append([]byte(nil), header...), body...)
		var c *syscount.Counters
		b.Run(fmt.Sprintf("memory/%dK", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(resp)))
			for b.Loop() {
				for p := resp; len(p) > 0; {
					n, err := c.Write(out, p)
					if err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
			}
		})
		b.Run(fmt.Sprintf("sendfile/%dK", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(resp)))
			for b.Loop() {
				if _, err := c.Write(out, header); err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < int64(size); {
					if _, err := c.Sendfile(out, int(f.Fd()), &off, size-int(off)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		f.Close()
	}
}

// BenchmarkLookupRevalidate is a hit on an entry whose validity has run
// out: openat2(O_PATH), fstat and close, found unchanged. With Valid = 1 s a
// hot entry pays this once a second, on one request.
func BenchmarkLookupRevalidate(b *testing.B) {
	x := newIndex(b, Options{Root: benchRoot(b), Valid: -1}, false)
	var c syscount.Counters
	b.ReportAllocs()
	for b.Loop() {
		e, _, _ := x.Lookup(&c, benchPath)
		e.Release(&c)
	}
}
