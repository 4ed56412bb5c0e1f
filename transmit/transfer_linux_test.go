//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

var strategies = []Strategy{Sendfile, Splice, Copy}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e37))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// countChecker checks, through the trace hook, that every call to the
// socket (and for Splice to the pipe) is asked for exactly
// min(bytes remaining, per-call cap, budget left), and that no Step writes
// more than the budget. It covers one response of a whole file of size bytes.
type countChecker struct {
	t      testing.TB
	sock   int
	size   int64
	budget int
	left   int // budget left in the current Step
	inPipe int // Splice: bytes moved into the pipe and not yet out
	calls  int // calls checked
	errs   []string
}

func (cc *countChecker) errorf(format string, args ...any) {
	if len(cc.errs) < 10 {
		cc.errs = append(cc.errs, fmt.Sprintf(format, args...))
	}
}

func (cc *countChecker) step() { cc.left = cc.budget }

func (cc *countChecker) record(r syscount.Record) {
	ret := max(r.Ret, 0)
	switch r.Syscall {
	case syscount.Write, syscount.Writev, syscount.Sendto:
		if r.Fd != cc.sock {
			return
		}
		if r.Count > cc.left {
			cc.errorf("%v asked %d with %d budget left", r.Syscall, r.Count, cc.left)
		}
		cc.left -= ret
	case syscount.Sendfile:
		cc.calls++
		if want := min(cc.size-r.Offset, maxSendfile, int64(cc.left)); int64(r.Count) != want {
			cc.errorf("sendfile at %d asked %d, want %d", r.Offset, r.Count, want)
		}
		cc.left -= ret
	case syscount.Splice:
		cc.calls++
		if r.Fd == cc.sock {
			if want := min(cc.inPipe, cc.left); r.Count != want {
				cc.errorf("splice to socket asked %d, want %d (pipe %d, left %d)", r.Count, want, cc.inPipe, cc.left)
			}
			cc.inPipe -= ret
			cc.left -= ret
		} else {
			if want := min(cc.size-r.Offset, pipeFill, int64(cc.left)); int64(r.Count) != want {
				cc.errorf("splice to pipe at %d asked %d, want %d", r.Offset, r.Count, want)
			}
			cc.inPipe += ret
		}
	case syscount.Pread:
		cc.calls++
		if want := min(cc.size-r.Offset, copyBufSize, int64(cc.left)); int64(r.Count) != want {
			cc.errorf("pread at %d asked %d, want %d", r.Offset, r.Count, want)
		}
	}
	if cc.left < 0 {
		cc.errorf("a Step wrote %d bytes past its budget", -cc.left)
	}
}

// TestResumeSlowReader: a tiny SO_SNDBUF and a slow reader make the socket
// return EAGAIN hundreds of times. The bytes arrive intact, every resume
// continues at the same offset, each call is asked for the exact count, and
// the calls made are proportional to the resumes: nothing spins while the
// socket is full.
func TestResumeSlowReader(t *testing.T) {
	data := randomBytes(4<<20+12345, 1)
	for _, st := range strategies {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnv(t, Config{Strategy: st, Budget: MinBudget})
			e.file("f", data)
			// A tiny send buffer; the client's receive buffer stays as it
			// is: a tiny window too would add TCP's persist timer (zero
			// window probes, 200 ms and up) to every stall.
			tc, client := e.conn(4096)
			cc := &countChecker{t: t, sock: tc.fd, size: int64(len(data)), budget: MinBudget}
			tc.beforeStep = cc.step
			var before, after syscount.Snapshot
			on(t, e.l, func() {
				before = e.l.Counters().Snapshot()
				e.l.Counters().SetTrace(cc.record)
			})
			tc.send("GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReaderSize(slowReader{client}, 1024)
			resp, body := readResponse(t, br, "GET")
			end := tc.wait()
			on(t, e.l, func() {
				e.l.Counters().SetTrace(nil)
				after = e.l.Counters().Snapshot()
			})
			if resp.StatusCode != 200 || sha256.Sum256(body) != sha256.Sum256(data) || end.out != Done {
				t.Fatalf("status %d, %d bytes, ended %+v", resp.StatusCode, len(body), end)
			}
			d := after.Sub(before)
			blocks := e.w.Stat(WouldBlocks)
			var sock, eagain uint64
			for _, s := range []syscount.Syscall{syscount.Write, syscount.Writev, syscount.Sendto, syscount.Sendfile, syscount.Splice} {
				sock += d.Total(s)
				eagain += d.Calls[s][syscount.EAGAIN]
			}
			t.Logf("%d steps, %d would-blocks, %d yields, %d socket calls (%d EAGAIN), %d checked counts",
				tc.steps, blocks, e.w.Stat(Yields), sock, eagain, cc.calls)
			if blocks < 100 {
				t.Errorf("only %d EAGAINs: the test did not exercise resumption", blocks)
			}
			if eagain != blocks {
				t.Errorf("%d EAGAIN outcomes, %d WouldBlock results", eagain, blocks)
			}
			if uint64(tc.steps) > blocks+e.w.Stat(Yields)+1 {
				t.Errorf("%d Steps for %d would-blocks and %d yields", tc.steps, blocks, e.w.Stat(Yields))
			}
			if sock > 4*uint64(tc.steps) {
				t.Errorf("%d socket calls for %d steps: spinning", sock, tc.steps)
			}
			for _, s := range cc.errs {
				t.Error(s)
			}
		})
	}
}

// slowReader reads at most 1 KiB at a time and pauses every 8 reads.
type slowReader struct{ c net.Conn }

func (s slowReader) Read(p []byte) (int, error) {
	if rand.IntN(8) == 0 {
		time.Sleep(50 * time.Microsecond)
	}
	return s.c.Read(p[:min(len(p), 1024)])
}

// TestExactCountsFastReader: a reader that keeps up makes Steps end on
// their budget (Yield) rather than EAGAIN; every count is still exact and
// no Step writes more than the budget.
func TestExactCountsFastReader(t *testing.T) {
	data := randomBytes(3<<20+123, 2)
	for _, st := range strategies {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnv(t, Config{Strategy: st, Budget: 64 << 10})
			e.file("f", data)
			tc, client := e.conn(0)
			cc := &countChecker{t: t, sock: tc.fd, size: int64(len(data)), budget: 64 << 10}
			tc.beforeStep = cc.step
			on(t, e.l, func() { e.l.Counters().SetTrace(cc.record) })
			tc.send("GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
			_, body := readResponse(t, bufio.NewReaderSize(client, 1<<20), "GET")
			end := tc.wait()
			on(t, e.l, func() { e.l.Counters().SetTrace(nil) })
			if !bytes.Equal(body, data) || end.out != Done {
				t.Fatalf("%d bytes, ended %+v", len(body), end)
			}
			if tc.maxStep > 64<<10 {
				t.Errorf("a Step wrote %d bytes, budget %d", tc.maxStep, 64<<10)
			}
			if e.w.Stat(Yields) == 0 {
				t.Errorf("no Step yielded")
			}
			for _, s := range cc.errs {
				t.Error(s)
			}
		})
	}
}

// TestKeepAliveNoStall: 200 sequential keep-alive responses of several sizes
// on one connection, none of which may leave its tail queued but unsent. A
// sendfile asked for more than the file has left sets "more to come" on the
// socket (the kernel's splice path passes SPLICE_F_MORE, tcp_sendmsg sees
// MSG_MORE), and a corked tail waits for the next ACK or for TCP's probe
// timer: 40-200 ms per response (golang/go#41513). The check reads what the
// kernel holds rather than the clock: when a response is Done, the server
// socket may hold unsent bytes (tcpi_notsent_bytes) only for a reason the
// kernel gives — a closed window, data in flight whose ACK will push them,
// a transmit completion about to — never for TCP's probe timer (see
// unsentTail). countChecker covers the per-call counts that would cause a
// cork.
func TestKeepAliveNoStall(t *testing.T) {
	sizes := []int{1 << 10, 20 << 10, 64<<10 + 1, 300 << 10}
	for _, st := range strategies {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnv(t, Config{Strategy: st})
			for _, n := range sizes {
				e.file(fmt.Sprint(n), randomBytes(n, uint64(n)))
			}
			tc, client := e.conn(0)
			br := bufio.NewReader(client)
			get := func(n int) {
				tc.send(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", n))
				if _, body := readResponse(t, br, "GET"); len(body) != n {
					t.Fatalf("%d bytes, want %d", len(body), n)
				}
				tc.wait()
			}
			for _, n := range sizes {
				get(n) // the small files' bytes are read into the cache before counts are checked
			}
			cc := &countChecker{t: t, sock: tc.fd, budget: DefaultBudget}
			tc.beforeStep = cc.step
			on(t, e.l, func() { e.l.Counters().SetTrace(cc.record) })
			defer on(t, e.l, func() { e.l.Counters().SetTrace(nil) })
			var stalls []string // written on the loop, read after tc.wait
			tc.onStep = func(out Outcome) {
				if out != Done {
					return
				}
				if s := unsentTail(tc.fd); s != "" {
					stalls = append(stalls, s)
				}
			}
			for i := range 200 {
				n := sizes[i%len(sizes)]
				cc.size = int64(n) // read on the loop, after send hands the request over
				get(n)
			}
			for _, s := range append(stalls, cc.errs...) {
				t.Error(s)
			}
		})
	}
}

// TestUnsentTailDetected is the negative control for TestKeepAliveNoStall:
// a byte written with MSG_MORE on an idle connection stays in the send
// queue, and unsentTail must report it.
func TestUnsentTailDetected(t *testing.T) {
	fd, _ := tcpPair(t, 0)
	defer unix.Close(fd)
	if s := unsentTail(fd); s != "" {
		t.Fatalf("fresh connection: %s", s)
	}
	if err := unix.Sendto(fd, []byte("x"), unix.MSG_MORE, nil); err != nil {
		t.Fatal(err)
	}
	if s := unsentTail(fd); s == "" {
		t.Fatal("a corked byte was not reported as an unsent tail")
	}
}

// unsentTail waits until the socket has sent what it holds, and describes
// a tail it holds for no reason the reader or TCP gives, or returns "" when
// there is none. Bytes held by a closed window are the reader's doing.
// Bytes held while data is in flight wait for its ACK, which the kernel
// does on purpose (tcp_tso_should_defer) and which arrives without the
// server's help; so do bytes autocorked behind a transmit completion
// (tcp_should_autocork: the TSQ tasklet sends them, late only when
// softirqs are busy). A tail corked with nothing in flight waits for TCP's
// probe timer instead (tcp_check_probe_timer arms ICSK_TIME_PROBE0, 200 ms
// at least): that, and only that, is the stall.
func unsentTail(fd int) string {
	const hangGuard = 10 * time.Second // an ACK or a tasklet takes microseconds, the probe timer 200 ms
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(100 * time.Microsecond) {
		ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return "TCP_INFO: " + err.Error()
		}
		inFlight := int64(ti.Bytes_sent) - int64(ti.Bytes_retrans) - int64(ti.Bytes_acked)
		room := min(int64(ti.Snd_wnd), int64(ti.Snd_cwnd)*int64(ti.Snd_mss)) - inFlight
		switch {
		case ti.Notsent_bytes == 0 || room < int64(ti.Notsent_bytes):
			return ""
		case inFlight == 0 && probeTimerArmed(fd):
			return fmt.Sprintf("%d bytes left unsent for TCP's probe timer, with nothing in flight and room for %d (peer window %d, cwnd %d x %d)",
				ti.Notsent_bytes, room, ti.Snd_wnd, ti.Snd_cwnd, ti.Snd_mss)
		case time.Now().After(deadline):
			return fmt.Sprintf("hang guard: %d bytes still unsent after %v with %d in flight", ti.Notsent_bytes, hangGuard, inFlight)
		}
	}
}

// probeTimerArmed reports whether the TCP socket fd has its zero-window
// probe timer pending: the "tr" column of its /proc/net/tcp row (found by
// the socket's inode) is 4 (proc_net_tcp(5), get_tcp4_sock in
// net/ipv4/tcp_ipv4.c).
func probeTimerArmed(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	ino := strconv.FormatUint(st.Ino, 10)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[9] == ino {
			return strings.HasPrefix(f[5], "04:")
		}
	}
	return false
}

// sparseFile creates a sparse file of size bytes with marks: known
// non-zero bytes at the given offsets.
func sparseFile(t testing.TB, path string, size int64, marks map[int64][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range marks {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

// markReader checks a stream that should equal a sparse file: length and
// every mark, read through without keeping the bytes.
type markReader struct {
	off   int64
	marks map[int64][]byte
	bad   []string
}

func (m *markReader) Write(p []byte) (int, error) {
	for off, b := range m.marks {
		for i := range b {
			if o := off + int64(i); o >= m.off && o < m.off+int64(len(p)) && p[o-m.off] != b[i] {
				m.bad = append(m.bad, fmt.Sprintf("byte %d: %#x, want %#x", o, p[o-m.off], b[i]))
				return 0, errors.New("mismatch")
			}
		}
	}
	m.off += int64(len(p))
	return len(p), nil
}

// TestOver4GiB: a sparse file past 4 GiB, by a range that crosses 4 GiB
// (every strategy) and whole (sendfile; under the race detector, where the
// client's reads cost more, the last 2 GiB by a range instead).
func TestOver4GiB(t *testing.T) {
	const g4 = int64(4) << 30
	size := g4 + 1<<20 + 17
	marks := map[int64][]byte{
		0:          []byte("first bytes"),
		g4 - 5:     []byte("crosses 4 GiB"),
		g4 + 1<<19: []byte("past 4 GiB"),
		size - 4:   []byte("end!"),
	}
	for _, st := range strategies {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnvSparse(t, Config{Strategy: st})
			sparseFile(t, filepath.Join(e.root, "sparse"), size, marks)
			tc, client := e.conn(0)
			br := bufio.NewReaderSize(client, 1<<20)
			tc.send(fmt.Sprintf("GET /sparse HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n", g4-1000, g4+999))
			resp, body := readResponse(t, br, "GET")
			tc.wait()
			want := make([]byte, 2000)
			copy(want[995:], "crosses 4 GiB")
			if resp.StatusCode != 206 || !bytes.Equal(body, want) ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", g4-1000, g4+999, size) {
				t.Fatalf("status %d %q, body %d bytes, equal %v", resp.StatusCode, resp.Header.Get("Content-Range"), len(body), bytes.Equal(body, want))
			}
			if st != Sendfile {
				return
			}
			req, from := "GET /sparse HTTP/1.1\r\nHost: x\r\n\r\n", int64(0)
			if raceOn {
				from = size - 2<<30
				req = fmt.Sprintf("GET /sparse HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-\r\n\r\n", from)
			}
			start := time.Now()
			tc.send(req)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := &markReader{off: from, marks: marks}
			n, err := io.CopyBuffer(m, resp.Body, make([]byte, 1<<20))
			end := tc.wait()
			if err != nil || n != size-from || len(m.bad) > 0 || end.out != Done {
				t.Fatalf("read %d of %d: %v %v, ended %+v", n, size-from, err, m.bad, end)
			}
			t.Logf("%d bytes from offset %d in %v", n, from, time.Since(start))
		})
	}
}

// leakCheck records the process's descriptors and checks, at the end, that
// none was left behind and the Writer holds only idle pipes.
func leakCheck(t *testing.T, e *env) func() {
	before := openFDs(t)
	return func() {
		var open, idle int
		on(t, e.l, func() { open, idle = e.w.open, e.w.pipes.Len() })
		if open != idle {
			t.Errorf("%d pipes open, %d idle: a transfer kept one", open, idle)
		}
		// The cache keeps the file's descriptor; idle pipes count two each.
		if after := openFDs(t); after > before+1+2*idle {
			t.Errorf("%d descriptors open, %d before", after, before)
		}
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestTruncatedMidTransfer: a file that shrinks under a transfer ends it
// with ErrTruncated and a closed connection, never a short body on a
// connection that stays open.
func TestTruncatedMidTransfer(t *testing.T) {
	data := randomBytes(8<<20, 3)
	for _, st := range strategies {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnv(t, Config{Strategy: st})
			e.file("f", data)
			tc, client := e.conn(8192)
			check := leakCheck(t, e)
			tc.send("GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
			// The socket fills and the transfer waits for EPOLLOUT.
			deadline := time.Now().Add(10 * time.Second)
			for e.w.Stat(WouldBlocks) == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if err := os.Truncate(filepath.Join(e.root, "f"), 1<<20); err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(client) // ends when the server closes
			end := tc.wait()
			if end.out != Failed || end.err != ErrTruncated || !end.close {
				t.Fatalf("ended %+v, want Failed with ErrTruncated", end)
			}
			if len(got) >= len(data) || e.w.Stat(Truncations) != 1 {
				t.Errorf("client got %d bytes; truncations %d", len(got), e.w.Stat(Truncations))
			}
			check()
		})
	}
}

// TestClientAbort: a client that goes away mid-transfer, by FIN (closed
// before the response, so the server's data meets a reset) and by RST
// (SO_LINGER 0), ends the transfer as ErrAborted; nothing is retried and
// nothing leaks.
func TestClientAbort(t *testing.T) {
	data := randomBytes(8<<20, 4)
	for _, st := range strategies {
		for _, how := range []string{"fin", "rst"} {
			t.Run(st.String()+"/"+how, func(t *testing.T) {
				e := newEnv(t, Config{Strategy: st})
				e.file("f", data)
				tc, client := e.conn(8192)
				check := leakCheck(t, e)
				if how == "fin" {
					client.Close()
					tc.send("GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
				} else {
					client.SetLinger(0)
					tc.send("GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
					io.ReadFull(client, make([]byte, 64<<10))
					client.Close()
				}
				end := tc.wait()
				if end.out != Failed || end.err != ErrAborted || !end.close || e.w.Stat(Aborts) != 1 {
					t.Fatalf("ended %+v (aborts %d), want Failed with ErrAborted", end, e.w.Stat(Aborts))
				}
				check()
			})
		}
	}
}
