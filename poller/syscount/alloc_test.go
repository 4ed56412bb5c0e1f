//go:build linux && !race

package syscount_test

import (
	"testing"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Counting must not allocate, on success or on the EAGAIN path.
func TestCountingDoesNotAllocate(t *testing.T) {
	r, w := pipe(t)
	var c syscount.Counters
	buf := make([]byte, 8)
	msg := []byte("x")
	iov := []unix.Iovec{{Base: &msg[0], Len: 1}}
	var st unix.Cachestat_t
	allocs := testing.AllocsPerRun(200, func() {
		c.Write(w, msg)
		c.Writev(w, iov, 1)
		c.Read(r, buf)
		c.Read(r, buf) // EAGAIN
		c.Accept4(r, unix.SOCK_NONBLOCK)
		c.Cachestat(r, 0, 4096, &st) // a pipe has a mapping, or ENOSYS/EPERM: either way counted
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}
