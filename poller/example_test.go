//go:build linux

package poller_test

import (
	"fmt"
	"net"

	"github.com/epfs/epfs/poller"
	"golang.org/x/sys/unix"
)

// echoConn is the smallest correct edge-triggered handler: it reads until
// EAGAIN (or a short read) and writes everything back. A real server would
// keep what the socket refused and resume on Writable; see package
// poller/echo for that.
type echoConn struct {
	loop *poller.Loop
	fd   int
	id   poller.ID
	buf  [4096]byte
}

func (c *echoConn) Handle(ev poller.Events) {
	if !ev.Readable() {
		return
	}
	for {
		n, err := c.loop.Counters().Read(c.fd, c.buf[:])
		if n > 0 {
			c.loop.Counters().Write(c.fd, c.buf[:n])
		}
		if err == unix.EAGAIN || (n > 0 && n < len(c.buf) && !ev.PeerClosed()) {
			return // drained: the next arrival raises a new edge
		}
		if n <= 0 { // EOF or error
			c.loop.Close(c.id)
			return
		}
	}
}

// An echo server on one loop: listen, accept, register each connection once.
func Example() {
	ln, err := poller.Listen("127.0.0.1:0", poller.ListenConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	loop, err := poller.New(poller.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	loop.Accept(ln, func(fd int) {
		c := &echoConn{loop: loop, fd: fd}
		c.id, _ = loop.Add(fd, c)
	})
	go loop.Run()

	conn, _ := net.Dial("tcp", ln.Addr())
	conn.Write([]byte("hello, epoll"))
	reply := make([]byte, 64)
	n, _ := conn.Read(reply)
	fmt.Println(string(reply[:n]))
	conn.Close()

	loop.Stop()
	<-loop.Done()
	// Output: hello, epoll
}
