//go:build linux

package fsindex

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// TestConcurrent runs lookups from several goroutines, as loops would, over
// more large files than the fd budget holds, while another goroutine
// replaces files by rename. Every held descriptor must still name the
// file its entry describes (it was not closed and reused under a holder),
// and every descriptor is closed in the end. Run with -race.
func TestConcurrent(t *testing.T) {
	root := t.TempDir()
	const files = 40
	big := make([]byte, 32<<10)
	for i := range files {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprint(i)), big, 0o644))
	}
	mkTree(t, root, "small.txt=small")
	baseline := openFds(t)
	x, err := Open(Options{Root: root, MaxFds: 8, MaxEntries: 32, Valid: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := mutating(func(i int) {
		p := filepath.Join(root, fmt.Sprint(i%files))
		os.WriteFile(p+".tmp", big[:len(big)-i%100], 0o644)
		os.Rename(p+".tmp", p)
	})
	var loops sync.WaitGroup
	for g := range 4 {
		loops.Go(func() {
			var c syscount.Counters
			var held []*Entry
			for i := range 2000 {
				p := fmt.Sprintf("/%d", (i*7+g)%files)
				if i%5 == 0 {
					p = "/small.txt"
				}
				e, r, err := x.Lookup(&c, p)
				if r != Found {
					t.Errorf("%s: %v %v", p, r, err)
					return
				}
				held = append(held, e)
				if len(held) > 3 { // a few transfers in flight
					h := held[0]
					held = held[1:]
					if h.Fd >= 0 {
						var st unix.Stat_t
						if err := unix.Fstat(h.Fd, &st); err != nil || st.Ino != h.Inode {
							t.Errorf("held fd %d: %v, ino %d want %d", h.Fd, err, st.Ino, h.Inode)
						}
					}
					h.Release(&c)
				}
			}
			for _, h := range held {
				h.Release(&c)
			}
		})
	}
	loops.Wait()
	stop()
	x.Close(nil)
	if got := openFds(t); got != baseline {
		t.Errorf("%d open fds after Close, baseline %d", got, baseline)
	}
}

// TestConcurrentListings: goroutines share listings that are rebuilt on
// every lookup while a file inside changes size; flights hand each waiter
// its own reference. When everything is released and the index closed,
// no listing byte is left counted. Run with -race.
func TestConcurrentListings(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "d/f", "d/g")
	x, err := Open(Options{Root: root, Listing: true, Valid: -1})
	if err != nil {
		t.Fatal(err)
	}
	stop := mutating(func(i int) {
		os.WriteFile(filepath.Join(root, "d/f"), make([]byte, i%50), 0o644)
	})
	var loops sync.WaitGroup
	for range 4 {
		loops.Go(func() {
			var held []*Entry
			for range 500 {
				e, r, err := x.Lookup(nil, "/d/")
				if r != Listing {
					t.Errorf("/d/: %v %v", r, err)
					return
				}
				if held = append(held, e); len(held) > 3 {
					held[0].Release(nil)
					held = held[1:]
				}
			}
			for _, h := range held {
				h.Release(nil)
			}
		})
	}
	loops.Wait()
	stop()
	x.Close(nil)
	if x.listed.Load() != 0 || x.loose.Load() != 0 {
		t.Errorf("after Close: %d listing bytes alive, %d loose", x.listed.Load(), x.loose.Load())
	}
}

// mutating calls change(0), change(1), ... on a goroutine, 100 µs apart,
// until the returned stop is called; stop returns when it has ended.
func mutating(change func(i int)) (stop func()) {
	done := make(chan struct{})
	var g sync.WaitGroup
	g.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			change(i)
			time.Sleep(100 * time.Microsecond)
		}
	})
	return func() {
		close(done)
		g.Wait()
	}
}
