//go:build linux

package echo_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/echo"
	"github.com/epfs/epfs/poller/syscount"
)

func start(t *testing.T, cfg echo.Config) *echo.Server {
	t.Helper()
	s, err := echo.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// roundTrip writes payload in random-sized pieces while reading the echo
// concurrently, and checks every byte comes back in order.
func roundTrip(network, addr string, payload []byte, seed uint64) error {
	c, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	werr := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(seed, 1))
		p := payload
		for len(p) > 0 {
			n := 1 + r.IntN(8192)
			if n > len(p) {
				n = len(p)
			}
			if _, err := c.Write(p[:n]); err != nil {
				werr <- err
				return
			}
			p = p[n:]
		}
		werr <- nil
	}()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(got, payload) {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// 1,000 concurrent connections, random write sizes: every byte comes back,
// in order, on each connection.
func TestEchoThousandConnections(t *testing.T) {
	s := start(t, echo.Config{Addr: "127.0.0.1:0", Loops: 2})
	const conns = 1000
	var wg sync.WaitGroup
	var total atomic.Uint64
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			payload := make([]byte, 1+r.IntN(48<<10))
			total.Add(uint64(len(payload)))
			for j := range payload {
				payload[j] = byte(r.Uint32())
			}
			if err := roundTrip("tcp", s.Addr(), payload, uint64(i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A client can read its last bytes before the loop, back from the
	// write that sent them, has stored the tally: wait for the counters to
	// catch up (a hang guard: they do within microseconds), then compare.
	snap := s.Counters()
	for deadline := time.Now().Add(30 * time.Second); snap.Events[syscount.BytesWritten] < total.Load() && time.Now().Before(deadline); snap = s.Counters() {
		time.Sleep(time.Millisecond)
	}
	if got := snap.Events[syscount.Accepted]; got != conns {
		t.Errorf("accepted %d, want %d", got, conns)
	}
	if snap.Events[syscount.BytesRead] != total.Load() || snap.Events[syscount.BytesWritten] != total.Load() {
		t.Errorf("server read %d and wrote %d bytes, clients sent %d", snap.Events[syscount.BytesRead], snap.Events[syscount.BytesWritten], total.Load())
	}
	t.Logf("%d bytes; reads %d (eagain %d), writes %d (eagain %d), epoll_wait %d, epoll_ctl %d",
		total.Load(), snap.Total(syscount.Read), snap.Calls[syscount.Read][syscount.EAGAIN],
		snap.Total(syscount.Write), snap.Calls[syscount.Write][syscount.EAGAIN],
		snap.Total(syscount.EpollWait), snap.Total(syscount.EpollCtl))
	// One epoll_ctl per connection, plus the eventfd and listener of each loop.
	if got, want := snap.Total(syscount.EpollCtl), uint64(conns+2*2); got != want {
		t.Errorf("epoll_ctl calls %d, want %d (register once)", got, want)
	}
}

// A client that writes a lot without reading forces the server's pending
// buffer over its limit: the server stops reading (backpressure), and must
// resume by itself once the client drains, since no new edge will come.
func TestEchoBackpressureResumes(t *testing.T) {
	s := start(t, echo.Config{Addr: "127.0.0.1:0", MaxPending: 64 << 10})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	payload := bytes.Repeat([]byte("0123456789abcdef"), (8<<20)/16)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	// Read nothing until the writer is surely blocked, then everything.
	time.Sleep(200 * time.Millisecond)
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("echo differs")
	}
	snap := s.Counters()
	if snap.Calls[syscount.Write][syscount.EAGAIN] == 0 {
		t.Error("the server never hit EAGAIN: the test did not exercise backpressure")
	}
}

// The client sends, then shuts its write side: the server still echoes
// everything, reading to EOF although the last read was short.
func TestEchoHalfClose(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = "unix:" + filepath.Join(t.TempDir(), "e.sock")
			}
			s := start(t, echo.Config{Addr: addr, Loops: 2})
			dial := s.Addr()
			if network == "unix" {
				dial = dial[len("unix:"):]
			}
			for i := range 50 {
				c, err := net.Dial(network, dial)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				msg := bytes.Repeat([]byte{byte(i)}, 100+i*37)
				c.Write(msg)
				switch cc := c.(type) {
				case *net.TCPConn:
					cc.CloseWrite()
				case *net.UnixConn:
					cc.CloseWrite()
				}
				got, err := io.ReadAll(c)
				c.Close()
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("conn %d: got %d bytes (%v), want %d", i, len(got), err, len(msg))
				}
			}
		})
	}
}
