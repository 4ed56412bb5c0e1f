//go:build linux

package echo_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/epfs/epfs/poller/echo"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// childLimit is the RLIMIT_NOFILE (soft and hard) of the EMFILE child.
const childLimit = 48

func TestMain(m *testing.M) {
	if os.Getenv("EPFS_ECHO_EMFILE_CHILD") == "1" {
		os.Exit(emfileChild())
	}
	os.Exit(m.Run())
}

// emfileChild runs an echo server with few descriptors and answers "stats"
// lines on stdin. Both limits are lowered: since Go 1.19 a program raises
// its soft limit to the hard one at start-up, so lowering only the soft
// limit of a parent would test nothing.
func emfileChild() int {
	lim := unix.Rlimit{Cur: childLimit, Max: childLimit}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	s, err := echo.Start(echo.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		fmt.Println("start:", err)
		return 1
	}
	fmt.Println(s.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stats":
			var ru unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &ru)
			cpu := ru.Utime.Nano() + ru.Stime.Nano()
			snap := s.Counters()
			fmt.Printf("emfile=%d pauses=%d accepted=%d timers=%d closes=%d cpu_ns=%d\n",
				snap.Calls[syscount.Accept4][syscount.EMFILE], snap.Events[syscount.AcceptPauses],
				snap.Events[syscount.Accepted], snap.Events[syscount.TimersFired], snap.Total(syscount.Close), cpu)
		case "quit":
			s.Close()
			return 0
		}
	}
	return 0
}

type childStats struct{ emfile, pauses, accepted, timers, closes, cpuNs int64 }

// Descriptor exhaustion: more clients than descriptors. Accepting pauses on
// EMFILE (counted), the loop does not spin while saturated, and every
// client is served once descriptors are freed.
func TestEmfilePausesAndResumes(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EPFS_ECHO_EMFILE_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdoutPipe, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		io.WriteString(stdin, "quit\n")
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("hang guard: child did not exit")
		}
	}()
	out := bufio.NewScanner(stdoutPipe)
	if !out.Scan() {
		t.Fatal("child printed nothing")
	}
	addr := out.Text()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("child: %s", addr)
	}
	stats := func() childStats {
		t.Helper()
		io.WriteString(stdin, "stats\n")
		if !out.Scan() {
			t.Fatal("child died")
		}
		var s childStats
		if _, err := fmt.Sscanf(out.Text(), "emfile=%d pauses=%d accepted=%d timers=%d closes=%d cpu_ns=%d", &s.emfile, &s.pauses, &s.accepted, &s.timers, &s.closes, &s.cpuNs); err != nil {
			t.Fatalf("stats %q: %v", out.Text(), err)
		}
		return s
	}

	const clients = 3 * childLimit
	conns := make([]net.Conn, clients)
	echoed := make(chan int, clients)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		go func() {
			msg := fmt.Sprintf("client %03d", i)
			c.Write([]byte(msg))
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(c, buf); err == nil && string(buf) == msg {
				echoed <- i
			}
		}()
	}

	deadline := time.Now().Add(30 * time.Second) // a hang guard: the flood above saturates in milliseconds
	for stats().emfile == 0 {
		if time.Now().After(deadline) {
			t.Fatal("hang guard: no EMFILE seen with 3x more clients than descriptors")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Saturated: the loop holds every descriptor it can and the listen
	// queue is not empty. A paused acceptor resumes only when its retry
	// timer fires or a descriptor is closed, and each resume costs at most
	// one accept4 EMFILE; a spinning one would make thousands in this
	// second. The CPU time is only logged.
	s0 := stats()
	time.Sleep(time.Second)
	s1 := stats()
	emfile, timers, closes := s1.emfile-s0.emfile, s1.timers-s0.timers, s1.closes-s0.closes
	t.Logf("saturated for 1s: %v CPU, %d EMFILE, %d pauses, %d timers fired, %d closes",
		time.Duration(s1.cpuNs-s0.cpuNs), emfile, s1.pauses-s0.pauses, timers, closes)
	if emfile > timers+closes+1 { // +1: a resume already due when the window opened
		t.Errorf("%d accept4 EMFILE against %d timers fired and %d closes while saturated: the acceptor spins", emfile, timers, closes)
	}

	// Free descriptors by closing served clients: accepting must resume
	// until every client has been served.
	served := 0
	for served < clients {
		select {
		case i := <-echoed:
			conns[i].Close()
			served++
		case <-time.After(30 * time.Second): // a hang guard: each echo takes milliseconds
			t.Fatalf("hang guard: only %d of %d clients served: accepting did not resume", served, clients)
		}
	}
	final := stats()
	if final.accepted != clients {
		t.Errorf("accepted %d, want %d", final.accepted, clients)
	}
	if final.pauses == 0 {
		t.Error("no accept pause counted")
	}
	t.Logf("final: %+v", final)
}
