//go:build linux

package compress_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/epfs/epfs/fsindex"
	"github.com/epfs/epfs/fsindex/compress"
)

// A file looked up once is compressed off the caller's goroutine; a later
// lookup finds its variants.
func Example() {
	root, _ := os.MkdirTemp("", "compress-example")
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(root, "app.js"), []byte(strings.Repeat("console.log('hello');\n", 200)), 0o644)

	pool, _ := compress.New(compress.Options{})
	defer pool.Close()
	idx, _ := fsindex.Open(fsindex.Options{Root: root, Compressor: pool})
	defer idx.Close(nil)

	e, _, _ := idx.Lookup(nil, "/app.js") // builds the entry and offers it
	fmt.Println("negotiated:", e.Negotiated())
	e.Release(nil)
	for pool.Stats(fsindex.Brotli).Built == 0 {
		time.Sleep(time.Millisecond) // an example only: a server never waits
	}
	e, _, _ = idx.Lookup(nil, "/app.js")
	br := e.Variant(fsindex.Brotli)
	fmt.Println(br.Encoding, br.Computed, br.Size < e.Size)
	e.Release(nil)
	// Output:
	// negotiated: true
	// br true true
}
