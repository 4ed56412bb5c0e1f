//go:build linux

package transmit

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestFairness: while one client downloads a large file as fast as it can,
// small requests on other connections of the same loop all complete before
// the download does, and no Step of the download writes more than the
// budget. No timing is asserted: only order and counts. The file is 1 GiB
// (256 MiB under the race detector), sparse, on tmpfs where available.
func TestFairness(t *testing.T) {
	size := int64(1) << 30
	if raceOn {
		size = 256 << 20
	}
	e := newEnvSparse(t, Config{})
	sparseFile(t, filepath.Join(e.root, "huge"), size, nil)
	e.file("small.txt", []byte("small\n"))
	e.file("mid.bin", randomBytes(100<<10, 5))

	big, bigClient := e.conn(0)
	big.send("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
	downloaded := make(chan int64, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReaderSize(bigClient, 1<<20), nil)
		if err != nil {
			downloaded <- -1
			return
		}
		n, _ := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
		downloaded <- n
	}()

	small, smallClient := e.conn(0)
	br := bufio.NewReader(smallClient)
	for i := range 20 {
		path := "/small.txt"
		if i%2 == 1 {
			path = "/mid.bin"
		}
		small.send(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path))
		if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 200 {
			t.Fatalf("small request %d: %d", i, resp.StatusCode)
		}
		small.wait()
	}
	if big.done.Load() {
		t.Errorf("the download finished before the 20 small requests: the loop was not shared, or the file is too small to tell")
	}
	select {
	case n := <-downloaded:
		if n != size {
			t.Fatalf("downloaded %d of %d", n, size)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("hang guard: download did not finish within 60s")
	}
	end := big.wait()
	if end.out != Done {
		t.Fatalf("download ended %+v", end)
	}
	if big.maxStep > DefaultBudget {
		t.Errorf("a Step of the download wrote %d bytes, budget %d", big.maxStep, DefaultBudget)
	}
	t.Logf("download: %d Steps, at most %d bytes each; yields %d, would-blocks %d",
		big.steps, big.maxStep, e.w.Stat(Yields), e.w.Stat(WouldBlocks))
}
