//go:build linux

package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// The admin listener's fixed bounds. Its connections take descriptors
// from the same RLIMIT_NOFILE as the data plane's, so every state a client
// can hold one in is bounded: reading a request (adminReadTimeout, head
// and body), writing the answer (adminWriteTimeout), idle between
// requests (Config.AdminIdleTimeout), and how many are open at once
// (Config.AdminMaxConns).
const (
	// adminReadTimeout bounds reading one whole request; /metrics and
	// pprof requests are a few hundred bytes.
	adminReadTimeout = 10 * time.Second
	// adminWriteTimeout bounds a response from the end of its request's
	// head. It must outlast the longest CPU profile or execution trace
	// an operator asks /debug/pprof for: net/http/pprof refuses a
	// ?seconds= beyond the server's WriteTimeout.
	adminWriteTimeout = 2 * time.Minute
	// adminMaxHeaderBytes bounds a request head (net/http answers 431
	// beyond it, allowing 4 KiB of its own slack).
	adminMaxHeaderBytes = 16 << 10
)

// ServeAdmin serves AdminHandler(withPprof) on ln in a goroutine of its
// own and returns the http.Server, for Close. Every state a connection
// can be held in is bounded (see the admin constants and
// Config.AdminIdleTimeout), and at most Config.AdminMaxConns are open at
// once: one more is closed as soon as it is accepted, so a client that
// opens many cannot take the data plane's descriptors.
func (s *Server) ServeAdmin(ln net.Listener, withPprof bool) *http.Server {
	hs := &http.Server{
		Handler:           s.AdminHandler(withPprof),
		ReadHeaderTimeout: adminReadTimeout,
		ReadTimeout:       adminReadTimeout,
		WriteTimeout:      adminWriteTimeout,
		IdleTimeout:       s.cfg.AdminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
	}
	go hs.Serve(&limitListener{Listener: ln, slots: make(chan struct{}, s.cfg.AdminMaxConns)})
	return hs
}

// limitListener accepts at most cap(slots) connections at a time. One over
// is closed at once rather than left waiting in the kernel's accept
// queue: a scraper then fails fast and retries, and the queue cannot
// hold a flood for the moment slots free.
type limitListener struct {
	net.Listener
	slots chan struct{} // one token per connection open
}

// Accept returns the next connection for which there is a slot.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, slots: l.slots}, nil
		default:
			c.Close()
		}
	}
}

// limitedConn gives its slot back when it is closed, once.
type limitedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

// Close closes the connection and frees its slot.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}
