//go:build linux

package echo

import (
	"errors"
	"fmt"
	"sync"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Config configures a Server.
type Config struct {
	// Addr is where to listen: "host:port" or "unix:/path" (see poller.Listen).
	Addr string
	// Loops is the number of event loops (default 1).
	Loops int
	// ReadBuffer is the size of each loop's shared read buffer (default 64 KiB).
	ReadBuffer int
	// MaxPending is the pending-output size above which a connection stops
	// reading until it drains (default 1 MiB).
	MaxPending int
}

// Server is a running echo server.
type Server struct {
	loops     []*poller.Loop
	listeners []*poller.Listener
	wg        sync.WaitGroup
	errs      chan error
}

// Start listens on cfg.Addr and runs cfg.Loops loops, each accepting on its
// own SO_REUSEPORT listener (TCP) or on the one shared socket (Unix).
func Start(cfg Config) (*Server, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = 1
	}
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = 64 << 10
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1 << 20
	}
	s := &Server{errs: make(chan error, cfg.Loops)}
	first, err := poller.Listen(cfg.Addr, poller.ListenConfig{ReusePort: true})
	if err != nil {
		return nil, err
	}
	s.listeners = append(s.listeners, first)
	for i := 0; i < cfg.Loops; i++ {
		ln := first
		if i > 0 && !first.Shared() {
			if ln, err = first.Sibling(); err != nil {
				s.abort()
				return nil, err
			}
			s.listeners = append(s.listeners, ln)
		}
		loop, err := poller.New(poller.Options{})
		if err != nil {
			s.abort()
			return nil, err
		}
		s.loops = append(s.loops, loop)
		w := &worker{loop: loop, buf: make([]byte, cfg.ReadBuffer), maxPending: cfg.MaxPending}
		if _, err := loop.Accept(ln, w.accept); err != nil {
			s.abort()
			return nil, err
		}
	}
	for _, loop := range s.loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := loop.Run(); err != nil {
				s.errs <- err
			}
		}()
	}
	return s, nil
}

// abort undoes a partial Start.
func (s *Server) abort() {
	for _, l := range s.loops {
		l.Stop()
	}
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// Addr returns the address the server listens on, with its real port.
func (s *Server) Addr() string { return s.listeners[0].Addr() }

// Network returns "tcp" or "unix".
func (s *Server) Network() string { return s.listeners[0].Network() }

// Loops returns the server's loops, for their counters.
func (s *Server) Loops() []*poller.Loop { return s.loops }

// Counters sums the loops' counters.
func (s *Server) Counters() syscount.Snapshot {
	var sum syscount.Snapshot
	for _, l := range s.loops {
		snap := l.Counters().Snapshot()
		sum.Add(&snap)
	}
	return sum
}

// Close stops every loop (closing every connection), waits for them, and
// closes the listeners. It returns the first error a loop failed with.
func (s *Server) Close() error {
	for _, l := range s.loops {
		l.Stop()
	}
	s.wg.Wait()
	for _, ln := range s.listeners {
		ln.Close()
	}
	close(s.errs)
	var errs []error
	for err := range s.errs {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("echo: %w", errors.Join(errs...))
	}
	return nil
}

// worker is one loop's share of the server. Everything in it is touched only
// on that loop's goroutine, so the read buffer is shared by all of the loop's
// connections: an idle connection holds no buffer at all.
type worker struct {
	loop       *poller.Loop
	buf        []byte
	maxPending int
}

func (w *worker) accept(fd int) {
	c := &conn{w: w, fd: fd}
	id, err := w.loop.Add(fd, c)
	if err != nil {
		unix.Close(fd)
		return
	}
	c.id = id
}

// conn is one echo connection. Its fields are the state machine:
type conn struct {
	w       *worker
	fd      int
	id      poller.ID
	pending []byte // output the socket has not taken yet, in order
	blocked bool   // the last write hit EAGAIN: wait for Writable
	held    bool   // reading stopped because pending is over the limit
	eof     bool   // the peer has shut down its side: read to EOF, not to a short read
	closed  bool   // the registration has ended; ignore everything
}

// Handle runs the connection on each readiness report.
func (c *conn) Handle(ev poller.Events) {
	if ev.PeerClosed() {
		c.eof = true
	}
	if ev.Writable() && c.blocked {
		c.blocked = false
		if !c.flush() {
			return
		}
		if c.held && len(c.pending) <= c.w.maxPending/2 {
			// Reading stopped while output drained: bytes that arrived
			// meanwhile raised their edge already, so read now.
			c.held = false
			ev |= poller.In
		}
	}
	if ev.Readable() && !c.held {
		c.readAll()
	}
}

// readAll reads until EAGAIN, a short read (unless the peer has closed, when
// only EOF or EAGAIN ends it), or the backpressure limit.
func (c *conn) readAll() {
	sc := c.w.loop.Counters()
	for !c.closed {
		n, err := sc.Read(c.fd, c.w.buf)
		switch {
		case n > 0:
			if !c.write(c.w.buf[:n]) {
				return
			}
			if len(c.pending) > c.w.maxPending {
				c.held = true
				return
			}
			if n < len(c.w.buf) && !c.eof {
				return
			}
		case err == unix.EAGAIN:
			return
		default: // EOF or an error
			c.close()
			return
		}
	}
}

// write sends p after anything already pending, keeping the byte order. It
// returns false if the connection closed.
func (c *conn) write(p []byte) bool {
	if len(c.pending) > 0 || c.blocked {
		c.pending = append(c.pending, p...)
		return true
	}
	sc := c.w.loop.Counters()
	for len(p) > 0 {
		n, err := sc.Write(c.fd, p)
		if n > 0 {
			p = p[n:]
		}
		if err == unix.EAGAIN {
			c.blocked = true
			c.pending = append(c.pending, p...)
			return true
		}
		if err != nil {
			c.close()
			return false
		}
	}
	return true
}

// flush writes pending output until it is gone or the socket is full. It
// returns false if the connection closed.
func (c *conn) flush() bool {
	sc := c.w.loop.Counters()
	for len(c.pending) > 0 {
		n, err := sc.Write(c.fd, c.pending)
		if n > 0 {
			c.pending = c.pending[n:]
		}
		if err == unix.EAGAIN {
			c.blocked = true
			return true
		}
		if err != nil {
			c.close()
			return false
		}
	}
	c.pending = nil
	return true
}

func (c *conn) close() {
	if !c.closed {
		c.closed = true
		c.w.loop.Close(c.id)
	}
}
