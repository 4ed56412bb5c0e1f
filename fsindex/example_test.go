//go:build linux

package fsindex_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/poller/syscount"
)

// Serve a temporary root: look a file up, read what a response needs from
// the entry, and release it when the response is done.
func Example() {
	root := helloRoot()
	defer os.RemoveAll(root)

	idx, err := fsindex.Open(fsindex.Options{Root: root})
	if err != nil {
		fmt.Println(err)
		return
	}
	var c syscount.Counters // one per loop goroutine
	defer idx.Close(&c)

	e, r, err := idx.Lookup(&c, "/hello.txt")
	if r != fsindex.Found {
		fmt.Println(r, err)
		return
	}
	fmt.Println(r, e.Size, e.ContentType)
	fmt.Println("etag shape ok:", regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$`).MatchString(e.ETag))
	fmt.Printf("body in memory: %q, fd %d\n", e.Body, e.Fd)
	e.Release(&c)

	// A second lookup is a hit: no system call at all.
	before := c.Snapshot()
	e, _, _ = idx.Lookup(&c, "/hello.txt")
	e.Release(&c)
	after := c.Snapshot()
	fmt.Println("syscalls on the hit:", after.Total(syscount.Openat2)-before.Total(syscount.Openat2)+
		after.Total(syscount.Fstat)-before.Total(syscount.Fstat))

	_, r, _ = idx.Lookup(&c, "/missing.txt")
	fmt.Println(r)
	_, r, _ = idx.Lookup(&c, "/../etc/passwd")
	fmt.Println(r)
	// Output:
	// found 13 text/plain; charset=utf-8
	// etag shape ok: true
	// body in memory: "hello, world\n", fd -1
	// syscalls on the hit: 0
	// not-found
	// not-found
}

// A loop that must never block answers fresh hits itself and hands the
// rest to a thread that may block, which looks the path up with its own
// counters; the loop then takes the entry back and releases it when done.
func ExampleIndex_LookupCached() {
	root := helloRoot()
	defer os.RemoveAll(root)

	idx, err := fsindex.Open(fsindex.Options{Root: root})
	if err != nil {
		fmt.Println(err)
		return
	}
	var loop, worker syscount.Counters // each written by one goroutine only
	defer idx.Close(&loop)

	serve := func(path string) {
		e, r, ok := idx.LookupCached(path)
		if !ok {
			// Would go to the disk: look it up on another goroutine.
			type answer struct {
				e *fsindex.Entry
				r fsindex.Result
			}
			done := make(chan answer)
			go func() {
				e, r, _ := idx.Lookup(&worker, path)
				done <- answer{e, r}
			}()
			a := <-done
			e, r = a.e, a.r
			fmt.Println(path, r, "looked up off the loop")
		} else {
			fmt.Println(path, r, "from the cache")
		}
		if e != nil {
			e.Release(&loop)
		}
	}
	serve("/hello.txt")
	serve("/hello.txt")
	opens := func(c *syscount.Counters) uint64 { return c.Total(syscount.Openat2) + c.Total(syscount.Openat) }
	fmt.Println("opens on the loop:", opens(&loop), "on the worker:", opens(&worker) > 0)
	// Output:
	// /hello.txt found looked up off the loop
	// /hello.txt found from the cache
	// opens on the loop: 0 on the worker: true
}

// A Content-Type table as epfs serve builds one: the system's table fills
// in what the built-in one lacks, never overriding it; the operator's word
// wins over both.
func ExampleContentTypes() {
	system, skipped, err := fsindex.ParseMimeTypes(strings.NewReader("application/x-thing thing\ntext/x-other html\n"))
	if err != nil {
		panic(err)
	}
	table := fsindex.ContentTypes(system, map[string]string{"vtt": "text/vtt"})
	fmt.Println(skipped, table["thing"])
	fmt.Println(table["html"])
	fmt.Println(table["vtt"])
	// Output:
	// 0 application/x-thing
	// text/html; charset=utf-8
	// text/vtt
}

// helloRoot makes the examples' root: a temporary directory holding
// hello.txt.
func helloRoot() string {
	root, _ := os.MkdirTemp("", "fsindex-example")
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello, world\n"), 0o644)
	return root
}
