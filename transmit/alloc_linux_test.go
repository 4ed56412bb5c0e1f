//go:build linux && !race

package transmit

import (
	"testing"

	"github.com/epfs/epfs/fsindex"
	"golang.org/x/sys/unix"
)

// TestAllocs: planning (header encoding included) and sending a response
// allocate nothing in steady state.
func TestAllocs(t *testing.T) {
	root := t.TempDir()
	e := &env{t: t, root: root}
	e.file("a.txt", []byte("hello, world\n"))
	e.file("big.bin", make([]byte, 100<<10))
	fields := []byte("\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: *")
	x, err := fsindex.Open(fsindex.Options{Root: root, Header: func(string) []byte { return fields }})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(nil)
	w := NewWriter(Config{ServerHeader: "epfs", CacheControl: "max-age=60", Fields: []byte("\r\nX-Content-Type-Options: nosniff")}, nil)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	sink := make([]byte, 1<<20)
	var r Response
	for _, c := range []struct{ name, raw, path string }{
		{"200 from memory", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "/a.txt"},
		{"206 multipart", "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,5-6\r\n\r\n", "/a.txt"},
		{"304", "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n", "/a.txt"},
		{"200 by sendfile", "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", "/big.bin"},
		{"404", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "/nope"},
	} {
		req := parse(t, c.raw)
		allocs := testing.AllocsPerRun(200, func() {
			en, res, _ := x.Lookup(nil, c.path)
			r.Plan(w, Request{Head: req, Path: []byte(c.path), KeepAlive: true}, en, res)
			for r.Step(fds[0]) != Done {
				unix.Read(fds[1], sink)
			}
			for n, _ := unix.Read(fds[1], sink); n > 0; n, _ = unix.Read(fds[1], sink) {
			}
			r.Reset()
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per response", c.name, allocs)
		}
	}
	req := parse(t, "GET /nope HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n")
	allocs := testing.AllocsPerRun(200, func() {
		en, _, _ := x.Lookup(nil, "/big.bin")
		r.PlanPage(w, req, 404, en, true)
		for r.Step(fds[0]) != Done {
			unix.Read(fds[1], sink)
		}
		for n, _ := unix.Read(fds[1], sink); n > 0; n, _ = unix.Read(fds[1], sink) {
		}
		r.Reset()
	})
	if allocs != 0 {
		t.Errorf("error page by sendfile: %v allocs per response", allocs)
	}
}
