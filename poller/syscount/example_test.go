//go:build linux

package syscount_test

import (
	"fmt"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Count the calls a nonblocking pipe round trip costs, and trace them.
func Example() {
	var c syscount.Counters
	c.SetTrace(func(r syscount.Record) {
		if r.Errno != 0 {
			fmt.Printf("%s = %d (%v)\n", r.Syscall, r.Ret, r.Errno)
			return
		}
		fmt.Printf("%s = %d\n", r.Syscall, r.Ret)
	})
	r, w, _ := c.Pipe2(unix.O_NONBLOCK | unix.O_CLOEXEC)
	buf := make([]byte, 64)
	c.Read(r, buf) // nothing written yet: EAGAIN
	c.Write(w, []byte("ping"))
	c.Read(r, buf)
	c.Close(w)
	c.Close(r)
	fmt.Println("read ok:", c.Calls(syscount.Read, syscount.OK), "read eagain:", c.Calls(syscount.Read, syscount.EAGAIN))
	// Output:
	// pipe2 = 0
	// read = -1 (resource temporarily unavailable)
	// write = 4
	// read = 4
	// close = 0
	// close = 0
	// read ok: 1 read eagain: 1
}
