package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// The baseline's socket: a small send buffer on the sender and a small
// receive buffer on the reader (setting SO_RCVBUF also turns off receive
// autotuning), so that the sender hits EAGAIN every few tens of KiB, and a
// reader slower than the sender, so that how the sender waits decides how
// soon the reader gets its next bytes.
const (
	baseSndBuf    = 16 << 10 // the kernel doubles it
	baseRcvBuf    = 64 << 10
	baseReadChunk = 32 << 10
	baseReadPause = 200 * time.Microsecond // between the reader's reads: ≤ 160 MiB/s
)

// baseResult is one sender's run in the baseline.
type baseResult struct {
	Sender     string  `json:"sender"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`        // until the reader had every byte
	Sendfile   float64 `json:"sendfile_calls"` // every result
	EAGAIN     float64 `json:"eagain"`         // sendfile calls that returned EAGAIN
	EpollWaits float64 `json:"epoll_waits"`    // 0 for the sleeping senders
	SenderCPU  float64 `json:"sender_cpu"`     // the sender's thread, seconds
	ProcessCPU float64 `json:"process_cpu"`    // the whole study process, reader included
	Stalled    float64 `json:"reader_stalled"` // seconds the reader waited in read(2) for data
	Paused     float64 `json:"reader_paused"`  // seconds the reader spent in its own pauses
}

// senders are the ways of waiting after EAGAIN that the baseline compares:
// resuming on EPOLLOUT (epfs's way) and sleeping a fixed interval, with 0
// meaning an immediate retry (a busy loop). The sleeps are nanosleep(2) on
// the sender's own thread, as a C server would sleep: Go's time.Sleep
// would round anything under a millisecond up to the runtime's timer
// granularity, which is not the baseline being measured.
var senders = []struct {
	name  string
	sleep time.Duration // -1: resume on EPOLLOUT
}{
	{"EPOLLOUT resume (poller)", -1},
	{"sleep 50µs after EAGAIN", 50 * time.Microsecond},
	{"sleep 1ms after EAGAIN", time.Millisecond},
	{"sleep 10ms after EAGAIN", 10 * time.Millisecond},
	{"retry at once (spin)", 0},
}

// studyBaseline sends a file of size bytes once with each sender.
func studyBaseline(ctx context.Context, root string, size int64) ([]baseResult, error) {
	path := filepath.Join(root, "baseline.bin")
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		return nil, err
	}
	var out []baseResult
	for _, s := range senders {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := baselineRun(path, size, s.sleep)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		r.Sender = s.name
		fmt.Printf("study: baseline %-26s %6.0f ms  %6.0f EAGAIN  sender CPU %5.1f ms\n", s.name, r.Seconds*1e3, r.EAGAIN, r.SenderCPU*1e3)
		out = append(out, r)
	}
	return out, nil
}

// baselineRun sends the file over a fresh loopback connection to a slow
// reader and reports how it went.
func baselineRun(path string, size int64, sleep time.Duration) (baseResult, error) {
	res := baseResult{Bytes: size}
	sock, reader, err := socketPair()
	if err != nil {
		return res, err
	}
	defer unix.Close(reader)
	file, err := os.Open(path)
	if err != nil {
		unix.Close(sock)
		return res, err
	}
	defer file.Close()

	self0 := rusage(unix.RUSAGE_SELF)
	start := time.Now()
	readDone := make(chan error, 1)
	go func() { readDone <- slowRead(reader, size, &res) }()
	var sent senderStats
	if sleep < 0 {
		sent, err = sendEpoll(sock, int(file.Fd()), size)
	} else {
		sent, err = sendSleeping(sock, int(file.Fd()), size, sleep)
	}
	if err != nil {
		unix.Shutdown(reader, unix.SHUT_RDWR)
		<-readDone
		return res, err
	}
	if err := <-readDone; err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.ProcessCPU = (rusage(unix.RUSAGE_SELF) - self0).Seconds()
	snap := sent.counts
	res.Sendfile = float64(snap.Total(syscount.Sendfile))
	res.EAGAIN = float64(snap.Calls[syscount.Sendfile][syscount.EAGAIN])
	res.EpollWaits = float64(snap.Total(syscount.EpollWait))
	res.SenderCPU = sent.cpu.Seconds()
	return res, nil
}

// socketPair returns a connected loopback pair of raw descriptors: the
// sender nonblocking with a small send buffer, the reader blocking with a
// small receive buffer.
func socketPair() (int, int, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Set on the listener, inherited by the accepted socket, and
			// in place before the handshake fixes the window scale.
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, baseRcvBuf)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		return -1, -1, err
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	err = errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, baseSndBuf),
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1),
		unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}),
		unix.SetNonblock(fd, true))
	if err != nil {
		unix.Close(fd)
		return -1, -1, err
	}
	c, err := ln.Accept()
	if err != nil {
		unix.Close(fd)
		return -1, -1, err
	}
	// A blocking duplicate for the reader's thread: read(2) sleeps in
	// the kernel until data comes, and the wait is what we measure.
	f, err := c.(*net.TCPConn).File()
	c.Close()
	if err != nil {
		unix.Close(fd)
		return -1, -1, err
	}
	defer f.Close()
	rfd, err := unix.Dup(int(f.Fd()))
	if err == nil {
		err = unix.SetNonblock(rfd, false)
	}
	if err != nil {
		unix.Close(fd)
		return -1, -1, err
	}
	return fd, rfd, nil
}

// slowRead reads size bytes from the blocking descriptor fd in chunks of
// at most baseReadChunk, pausing baseReadPause after each with nanosleep on
// its own thread, and sums the time it waited for data and the time it
// paused.
func slowRead(fd int, size int64, res *baseResult) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, baseReadChunk)
	pause := unix.NsecToTimespec(int64(baseReadPause))
	var got int64
	var stalled, paused time.Duration
	for got < size {
		t := time.Now()
		n, err := unix.Read(fd, buf)
		stalled += time.Since(t)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return fmt.Errorf("reader after %d bytes: %v", got, err)
		}
		got += int64(n)
		t = time.Now()
		unix.Nanosleep(&pause, nil)
		paused += time.Since(t)
	}
	res.Stalled, res.Paused = stalled.Seconds(), paused.Seconds()
	return nil
}

// senderStats is what a sender reports: its counters and its thread's CPU.
type senderStats struct {
	counts syscount.Snapshot
	cpu    time.Duration
}

// sendEpoll sends with the poller: sendfile until EAGAIN, then nothing
// until the loop reports the socket writable again.
func sendEpoll(sock, file int, size int64) (senderStats, error) {
	loop, err := poller.New(poller.Options{})
	if err != nil {
		unix.Close(sock)
		return senderStats{}, err
	}
	go loop.Run()
	defer func() { loop.Stop(); <-loop.Done() }()
	s := &epollSender{loop: loop, sock: sock, file: file, size: size, done: make(chan error, 1)}
	before := loop.Counters().Snapshot()
	if err := loop.Submit(s.start); err != nil {
		unix.Close(sock)
		return senderStats{}, err
	}
	if err := <-s.done; err != nil {
		return senderStats{}, err
	}
	return senderStats{counts: loop.Counters().Snapshot().Sub(before), cpu: s.cpu}, nil
}

// epollSender is the handler of one socket in the poller loop.
type epollSender struct {
	loop       *poller.Loop
	id         poller.ID
	sock, file int
	off, size  int64
	cpu0, cpu  time.Duration // the loop thread's CPU at the start, and used
	done       chan error
}

func (s *epollSender) start() {
	s.cpu0 = rusage(unix.RUSAGE_THREAD)
	id, err := s.loop.Add(s.sock, s) // the socket is writable: the first edge comes at once
	if err != nil {
		unix.Close(s.sock)
		s.done <- err
	}
	s.id = id
}

// Handle sends until the file is done or the socket is full; a full socket
// returns to the loop, which calls again on the next EPOLLOUT edge.
func (s *epollSender) Handle(ev poller.Events) {
	if s.off >= s.size || !ev.Writable() {
		return
	}
	sc := s.loop.Counters()
	for s.off < s.size {
		n, err := sc.Sendfile(s.sock, s.file, &s.off, int(s.size-s.off))
		if err == unix.EAGAIN {
			return
		}
		if err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			s.finish(err)
			return
		}
	}
	s.finish(nil)
}

func (s *epollSender) finish(err error) {
	s.cpu = rusage(unix.RUSAGE_THREAD) - s.cpu0
	s.loop.Close(s.id) // closes the socket: the reader gets what is queued, then EOF
	s.done <- err
}

// sendSleeping is the baseline: sendfile until EAGAIN, then sleep a fixed
// interval (or not at all) and try again. It runs on a goroutine locked to
// its thread so that the thread's CPU time is the sender's.
func sendSleeping(sock, file int, size int64, sleep time.Duration) (senderStats, error) {
	type result struct {
		st  senderStats
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer unix.Close(sock)
		var sc syscount.Counters
		cpu0 := rusage(unix.RUSAGE_THREAD)
		nap := unix.NsecToTimespec(int64(sleep))
		var off int64
		var err error
		for off < size {
			var n int
			n, err = sc.Sendfile(sock, file, &off, int(size-off))
			if err == unix.EAGAIN {
				err = nil
				if sleep > 0 {
					unix.Nanosleep(&nap, nil) // EINTR only shortens a nap
				}
				continue
			}
			if err == nil && n == 0 {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				break
			}
		}
		rc <- result{senderStats{counts: sc.Snapshot(), cpu: rusage(unix.RUSAGE_THREAD) - cpu0}, err}
	}()
	r := <-rc
	return r.st, r.err
}

// rusage returns user+system CPU time of the thread or process.
func rusage(who int) time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// senderLabel shortens a sender's name for a chart axis.
func senderLabel(name string) string {
	switch name {
	case senders[0].name:
		return "EPOLLOUT"
	case senders[len(senders)-1].name:
		return "spin"
	}
	for _, s := range senders {
		if s.name == name && s.sleep > 0 {
			return "sleep " + strconv.FormatFloat(float64(s.sleep)/float64(time.Millisecond), 'g', -1, 64) + "ms"
		}
	}
	return name
}
