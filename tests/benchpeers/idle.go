package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// IdleResult is the resident memory one server spends per idle keep-alive
// connection: VmRSS after n connections that each made one request, less
// VmRSS before, over n. Kernel socket buffers are not in VmRSS, so this is
// the server's own (user-space) cost.
type IdleResult struct {
	Server       string `json:"server"`
	Conns        int    `json:"conns"`
	RSSBefore    int64  `json:"rss_before"`
	RSSAfter     int64  `json:"rss_after"`
	BytesPerConn Num    `json:"bytes_per_conn"`
}

// oneRequest sends a keep-alive GET on c and reads the whole response.
func oneRequest(c net.Conn, br *bufio.Reader, path string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// measureIdle opens n keep-alive connections to s, one request each, and
// reads the RSS growth. s should be freshly started: a server that has just
// run a load test may hold freed memory that hides the cost.
func measureIdle(ctx context.Context, s *server, n int, path string) (IdleResult, error) {
	r := IdleResult{Server: s.Name, Conns: n}
	// Warm up on one connection, so first-use costs (file cache, pools)
	// land in the baseline and not in the per-connection figure.
	warm, err := net.Dial("tcp4", s.Addr)
	if err != nil {
		return r, err
	}
	br := bufio.NewReader(warm)
	for range 20 {
		if err := oneRequest(warm, br, path); err != nil {
			warm.Close()
			return r, fmt.Errorf("warm-up: %w", err)
		}
	}
	warm.Close()
	time.Sleep(500 * time.Millisecond)
	if r.RSSBefore, err = rssBytes(s.pids); err != nil {
		return r, err
	}

	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// A bounded number of dialers keeps the listen backlog (nginx: 4096
	// here, 511 by default) from overflowing into SYN retries.
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				c, err := net.DialTimeout("tcp4", s.Addr, 10*time.Second)
				if err == nil {
					conns[i] = c
					err = oneRequest(c, bufio.NewReaderSize(c, 2048), path)
				}
				if err != nil {
					select {
					case errc <- fmt.Errorf("connection %d: %w", i, err):
					default:
					}
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return r, err
	default:
	}
	// Let the server finish anything deferred (Go's GC, nginx's pool
	// frees) so the reading is of the idle state.
	time.Sleep(2 * time.Second)
	if r.RSSAfter, err = rssBytes(s.pids); err != nil {
		return r, err
	}
	r.BytesPerConn = Num(float64(r.RSSAfter-r.RSSBefore) / float64(n))
	return r, nil
}
