package tests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 5 GiB over loopback take seconds; a minute is the order of magnitude
	// above that bounds a hang.
	c.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
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
