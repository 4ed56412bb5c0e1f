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

// handleHealth adds the probes a balancer or an orchestrator polls:
// /healthz answers 200 while the process runs (liveness: restart me if
// this fails), /readyz 200 while the loops accept and 503 once a shutdown
// has begun (readiness: send me no new clients), so that a balancer takes
// the instance out of rotation while its responses in flight drain. Both
// answer GET and HEAD (the pattern's GET includes HEAD) and are never
// cached: a probe must see the state now.
func (s *Server) handleHealth(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		probeAnswer(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case s.stopping.Load():
			probeAnswer(w, http.StatusServiceUnavailable, "draining")
		case !s.running.Load():
			probeAnswer(w, http.StatusServiceUnavailable, "starting")
		default:
			probeAnswer(w, http.StatusOK, "ok")
		}
	})
}

// probeAnswer writes a health probe's answer: the status and one word.
func probeAnswer(w http.ResponseWriter, status int, word string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(word + "\n"))
}

// Ready reports whether the server accepts new connections: Run has
// started the loops and no shutdown has begun.
func (s *Server) Ready() bool { return s.running.Load() && !s.stopping.Load() }

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
