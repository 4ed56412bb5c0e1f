package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/fsindex"
)

// freshWait bounds a wait for a change to show: epfs promises fsindex's
// freshness bound (DefaultValid, 1 s); the harness allows ten times that,
// for -race and a busy machine (a hang guard, not a measurement).
const freshWait = 10 * fsindex.DefaultValid

// TestListingFollowsFiles: a file rewritten in place does not touch its
// directory, yet the directory's listing shows its new size within the
// freshness bound, under a new ETag, so that a conditional request made
// with the old one gets the new listing rather than 304.
func TestListingFollowsFiles(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	file := filepath.Join(f.root, "grow", "f.txt")
	os.MkdirAll(filepath.Dir(file), 0o755)
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := serve(t, f, "--autoindex")
	defer http.DefaultClient.CloseIdleConnections()
	get := func(inm string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/grow/", nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode, r.Header.Get("ETag"), body(t, r)
	}
	status, etag, b := get("")
	if status != 200 || !strings.Contains(b, `data-bytes="1"`) {
		t.Fatalf("GET /grow/: %d %q, want 200 listing f.txt with size 1", status, b)
	}
	fh, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("yyyy")
	fh.Close()
	deadline := time.Now().Add(freshWait)
	for {
		status, newTag, b := get("")
		if status == 200 && strings.Contains(b, `data-bytes="5"`) {
			if newTag == etag {
				t.Errorf("the listing changed but its ETag %s did not", etag)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after f.txt grew to 5 bytes, GET /grow/ still shows: %d %q", freshWait, status, b)
		}
		time.Sleep(fsindex.DefaultValid / 10)
	}
	if status, _, b := get(etag); status != 200 || !strings.Contains(b, `data-bytes="5"`) {
		t.Errorf("GET /grow/ with the old ETag: %d %q, want 200 and the new listing", status, b)
	}
}

// TestBigListingShared: a directory of 10,000 files with 230-byte names
// (an unbounded listing of it is 5.3 MB, more than a cache shard holds).
// Twenty concurrent GETs on a cold cache share one build. Repeated HEADs do not rebuild it per request: the fstatat calls the
// server counts (loops and I/O threads) stay within one build per
// freshness interval elapsed, plus two. Twenty connections that ask for it
// and do not read share one body: the listing bytes the server counts are
// those of one listing (two during a rebuild), and its anonymous resident memory grows by less
// than ten listings (twenty private copies would be twice that).
func TestBigListingShared(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	dir := filepath.Join(f.root, "big")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const files = 10000
	for i := range files {
		name := fmt.Sprintf("%05d-%s", i, strings.Repeat("n", 224))
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := serveWatched(t, f, "--autoindex")
	defer http.DefaultClient.CloseIdleConnections()
	fstatats := func() float64 {
		fams := scrape(t, w.admin)
		return metric(fams, "epfs_syscalls_total", "syscall", "newfstatat") + metric(fams, "epfs_io_syscalls_total", "syscall", "newfstatat")
	}

	// Twenty GETs at once on a cold cache: one build, which the lookups
	// that arrive while it runs wait for and share.
	const concurrent = 20
	first, start := fstatats(), time.Now()
	sizes := make(chan int64, concurrent)
	for range concurrent {
		go func() {
			r, err := http.Get(w.base + "/big/")
			if err != nil {
				sizes <- -1
				return
			}
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil || r.StatusCode != 200 || int64(len(b)) != r.ContentLength {
				sizes <- -1
				return
			}
			sizes <- int64(len(b))
		}()
	}
	size := <-sizes
	for range concurrent - 1 {
		if n := <-sizes; n != size || n < 0 {
			t.Fatalf("concurrent GET /big/: %d bytes, another %d", n, size)
		}
	}
	built, intervals := fstatats()-first, float64(time.Since(start)/fsindex.DefaultValid+2)
	t.Logf("listing: %d bytes; %d concurrent GETs on a cold cache made %.0f fstatat (at most %.0f allowed)", size, concurrent, built, files*intervals)
	if built < 1 {
		t.Fatal("building the listing counted no fstatat: the counter is not the one the build uses")
	}
	if built > files*intervals {
		t.Errorf("%d concurrent GETs made %.0f fstatat: more than one build per %v", concurrent, built, fsindex.DefaultValid)
	}

	// At least 30 HEADs, over at least two and a half freshness intervals,
	// so that the rebuilds of a stale listing are counted too.
	heads, builds := 0, w.counter(t, "epfs_listings_built_total")
	before := fstatats()
	start = time.Now()
	for ; heads < 30 || time.Since(start) < 5*fsindex.DefaultValid/2; heads++ {
		time.Sleep(fsindex.DefaultValid / 50)
		r, err := http.Head(w.base + "/big/")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 || r.ContentLength != size {
			t.Fatalf("HEAD /big/: %d, Content-Length %d, want 200 and %d", r.StatusCode, r.ContentLength, size)
		}
	}
	elapsed := time.Since(start)
	calls := fstatats() - before
	builds = w.counter(t, "epfs_listings_built_total") - builds
	intervals = float64(elapsed/fsindex.DefaultValid + 2)
	t.Logf("%d HEADs in %v: %.0f builds, %.0f fstatat (at most %.0f and %.0f allowed)", heads, elapsed, builds, calls, intervals, files*intervals)
	if calls > files*intervals || builds > intervals {
		t.Errorf("%d HEADs made %.0f builds and %.0f fstatat: more than one build per %v", heads, builds, calls, fsindex.DefaultValid)
	}

	const readers = 20
	rssBefore := statusBytes(t, w.cmd.Process.Pid, "RssAnon")
	for range readers {
		c := dial(t, w.addr)
		// A small receive window, so the response stays in flight; the
		// head is read, so it has begun.
		c.(*net.TCPConn).SetReadBuffer(4 << 10)
		c.SetDeadline(time.Now().Add(waitGuard)) // a hang guard
		fmt.Fprintf(c, "GET /big/ HTTP/1.1\r\nHost: x\r\n\r\n")
		r, err := http.ReadResponse(bufio.NewReaderSize(c, 4<<10), nil)
		if err != nil || r.StatusCode != 200 || r.ContentLength != size {
			t.Fatalf("stalled GET /big/: %v %v", r, err)
		}
	}
	live := w.counter(t, "epfs_listing_bytes")
	grew := statusBytes(t, w.cmd.Process.Pid, "RssAnon") - rssBefore
	t.Logf("%d stalled readers: listing bytes %.0f, RssAnon %+.1f MiB", readers, live, float64(grew)/(1<<20))
	// One body; while a rebuild is under way (the listing went stale as
	// the readers arrived) the build's reservation, at most another.
	if live < float64(size) || live > float64(2*size) {
		t.Errorf("listing bytes counted: %.0f, want one body of %d (two while it is rebuilt)", live, size)
	}
	if grew > 10*size {
		t.Errorf("RssAnon grew by %d bytes with %d stalled readers: more than ten %d-byte listings", grew, readers, size)
	}
}
