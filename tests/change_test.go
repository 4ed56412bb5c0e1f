package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Files truncated, replaced by rename, or deleted while a transfer of them
// is in flight and while they are cached (a large one by descriptor, a
// small one by its bytes in memory). The transfer in flight ends cleanly:
// a truncated file ends its connection short of Content-Length (sendfile
// returns 0), a renamed-over or deleted one completes from the descriptor
// the response holds. The next request sees the new state once the cache's
// bound has passed: fsindex trusts an entry for 1 s by default, so a lookup
// that starts later than that after the change sees it.
func TestChangeWhileServing(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	const bigLen, smallLen = 8 << 20, 8 << 10
	rng := rand.NewChaCha8([32]byte{7})
	content := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	type change struct {
		name   string
		mutate func(path string, after []byte)
	}
	replace := func(path string, after []byte) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, after, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	changes := []*change{
		{name: "truncated", mutate: func(path string, after []byte) {
			if err := os.Truncate(path, int64(len(after))); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "renamed", mutate: replace},
		{name: "deleted", mutate: func(path string, _ []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// Each change applies to a large file (sendfile from a cached
	// descriptor) and a small one (cached bytes).
	type file struct {
		path          string
		change        string
		before, after []byte // after is nil for a deleted file
	}
	files := map[string]*file{}
	for _, ch := range changes {
		for _, size := range []int{bigLen, smallLen} {
			fl := &file{path: fmt.Sprintf("/%s-%d.bin", ch.name, size), change: ch.name, before: content(size)}
			switch ch.name {
			case "truncated":
				fl.after = fl.before[:size/32]
			case "renamed":
				fl.after = content(size / 2)
			}
			if err := os.WriteFile(filepath.Join(f.root, fl.path), fl.before, 0o644); err != nil {
				t.Fatal(err)
			}
			files[fl.path] = fl
		}
	}
	w := serveWatched(t, f)
	get := func(path string) (int, []byte) {
		t.Helper()
		r, err := http.Get(w.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return r.StatusCode, b
	}
	for path, fl := range files {
		if status, b := get(path); status != 200 || !bytes.Equal(b, fl.before) {
			t.Fatalf("GET %s before the change: %d, %d bytes", path, status, len(b))
		}
	}
	http.DefaultClient.CloseIdleConnections()

	// A transfer of each large file, stalled after its first 64 KiB: the
	// client's small receive buffer keeps the rest on the server's side.
	type flight struct {
		fl   *file
		c    net.Conn
		r    *bufio.Reader
		resp *http.Response
		got  []byte
	}
	var flights []*flight
	for _, ch := range changes {
		fl := files[fmt.Sprintf("/%s-%d.bin", ch.name, bigLen)]
		c := dialSmall(t, w.addr, 16<<10)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", fl.path)
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 || resp.ContentLength != bigLen {
			t.Fatalf("GET %s: %v %v", fl.path, err, resp)
		}
		got := make([]byte, 64<<10)
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			t.Fatal(err)
		}
		flights = append(flights, &flight{fl: fl, c: c, r: r, resp: resp, got: got})
	}
	// The baseline is read before the change: a transfer whose socket
	// still has room meets the new end of file on its own, at once.
	errors0 := w.counter(t, "epfs_connections_closed_total", "reason", "error")
	for _, ch := range changes {
		for _, size := range []int{bigLen, smallLen} {
			fl := files[fmt.Sprintf("/%s-%d.bin", ch.name, size)]
			ch.mutate(filepath.Join(f.root, fl.path), fl.after)
		}
	}
	changed := time.Now()

	for _, fl := range flights {
		rest, err := io.ReadAll(fl.resp.Body)
		got := append(fl.got, rest...)
		if fl.fl.change == "truncated" {
			// Truncated: the body ends short, with the connection.
			// The bytes received before the new end are the file's.
			if err == nil || len(got) >= bigLen {
				t.Errorf("%s truncated in flight: %d of %d bytes, %v; want a short body and the connection closed", fl.fl.path, len(got), bigLen, err)
			}
			if n := min(len(got), len(fl.fl.after)); !bytes.Equal(got[:n], fl.fl.before[:n]) {
				t.Errorf("%s truncated in flight: the first %d bytes differ from the file's", fl.fl.path, n)
			}
			if _, err := fl.r.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("%s truncated in flight: after the short body %v, want the end of the stream", fl.fl.path, err)
			}
			t.Logf("%s truncated to %d bytes in flight: %d of %d body bytes, then the end of the stream", fl.fl.path, len(fl.fl.after), len(got), bigLen)
			continue
		}
		if err != nil || !bytes.Equal(got, fl.fl.before) {
			t.Errorf("%s in flight: %d of %d bytes, %v; want the old file whole", fl.fl.path, len(got), bigLen, err)
		}
	}

	// The server saw the truncation as a failure on its side (sendfile
	// returned 0 before the announced length), not as a client abort.
	if n := w.counter(t, "epfs_connections_closed_total", "reason", "error") - errors0; n != 1 {
		t.Errorf("%v connections closed for an error on the server's side, want 1 (the truncated transfer)", n)
	}

	// The documented bound: any lookup that starts more than 1 s after the
	// change sees it.
	time.Sleep(time.Until(changed.Add(time.Second + 50*time.Millisecond)))
	for path, fl := range files {
		status, b := get(path)
		switch {
		case fl.after == nil && status != 404:
			t.Errorf("GET %s 1 s after it was deleted: %d, want 404", path, status)
		case fl.after != nil && (status != 200 || !bytes.Equal(b, fl.after)):
			t.Errorf("GET %s 1 s after the change: %d, %d bytes, want 200 and the new %d bytes", path, status, len(b), len(fl.after))
		}
	}
	http.DefaultClient.CloseIdleConnections()
	// The two large files that still exist are cached again, each with a
	// descriptor; every descriptor of the old versions has been closed.
	w.rest.fds += 2
	w.healthy(t)
}
