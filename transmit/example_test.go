//go:build linux

package transmit_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/httpparse"
	"github.com/epfs/epfs/transmit"
	"golang.org/x/sys/unix"
)

// Plan a response to a parsed request and a looked-up file, then Step it
// onto a socket until Done. A server steps from its loop: again on Writable
// after WouldBlock, and after Loop.Requeue on Yield.
func Example() {
	root, _ := os.MkdirTemp("", "transmit-example")
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello, world\n"), 0o644)
	idx, _ := fsindex.Open(fsindex.Options{Root: root})
	defer idx.Close(nil)

	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	defer unix.Close(fds[0])
	client := os.NewFile(uintptr(fds[1]), "client")
	defer client.Close()

	raw := []byte("GET /hello.txt?x=1 HTTP/1.1\r\nHost: example\r\nRange: bytes=7-11\r\n\r\n")
	var p httpparse.Parser
	var req httpparse.Request
	p.Parse(raw, &req)
	path, query, _ := httpparse.DecodePath(nil, req.Target)
	e, res, _ := idx.Lookup(nil, string(path))

	w := transmit.NewWriter(transmit.Config{ServerHeader: "epfs"}, nil)
	var r transmit.Response
	r.Plan(w, transmit.Request{Head: &req, Path: path, Query: query, KeepAlive: req.KeepAlive}, e, res)
	for {
		out := r.Step(fds[0])
		if out == transmit.Done || out == transmit.Failed {
			fmt.Println(out, r.Status(), r.BodyBytes(), "body bytes; close:", r.Close())
			break
		}
	}
	r.Reset()

	resp, _ := http.ReadResponse(bufio.NewReader(client), nil)
	body := make([]byte, resp.ContentLength)
	resp.Body.Read(body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Range"), resp.Header.Get("Server"))
	fmt.Printf("%q\n", body)
	// Output:
	// done 206 5 body bytes; close: false
	// 206 Partial Content bytes 7-11/13 epfs
	// "world"
}
