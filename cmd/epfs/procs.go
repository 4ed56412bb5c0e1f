package main

import (
	"os"
	"runtime"
	"strconv"

	"github.com/rs/zerolog"
)

// procsChoice is how many Ps (GOMAXPROCS) the scheduler gets and who chose
// that number, for the start-up log.
type procsChoice struct {
	procs int
	from  string // "--gomaxprocs", "GOMAXPROCS" (the environment), or "loops+1"
}

// chooseProcs sizes the Go scheduler against the event loops. Each loop is
// a goroutine locked to its thread that keeps its P while it works (its
// calls on sockets cannot block and are made without the scheduler; see
// poller/syscount), so a P must remain for everything else: the I/O pool's
// goroutines as they hand results back, the access-log writer, the admin
// listener, the signal handler, the garbage collector's workers.
//
// The runtime's retake (runtime/proc.go) also depends on a spare P. A P
// whose goroutine is in a scheduler-path syscall (a loop's blocking
// epoll_wait, a pool thread's pread) is left alone for up to 10 ms only
// while some other P is idle; with none idle, sysmon takes it away at its
// next tick (handoffp) and starts a thread to run it, which mostly finds
// nothing to do. So the default is loops + 1 Ps.
//
// flag is --gomaxprocs (0: not given); env is $GOMAXPROCS, which the
// runtime has already applied at start-up. An operator's choice is kept as
// it is; the caller warns when it leaves no P to spare. Setting GOMAXPROCS
// in any of these ways also ends the runtime's once-a-second re-check of
// the CPU count, affinity and cgroup quota (Go 1.25+; see runtime.GOMAXPROCS).
func chooseProcs(loops, flag int, env string) procsChoice {
	switch {
	case flag > 0:
		runtime.GOMAXPROCS(flag)
		return procsChoice{procs: flag, from: "--gomaxprocs"}
	case env != "":
		if n, err := strconv.Atoi(env); err == nil && n > 0 {
			return procsChoice{procs: runtime.GOMAXPROCS(0), from: "GOMAXPROCS"}
		}
		// The runtime ignores a value it cannot read, and so does epfs.
	}
	n := loops + 1
	runtime.GOMAXPROCS(n)
	return procsChoice{procs: n, from: "loops+1"}
}

// setProcs applies chooseProcs for `epfs serve`, before anything starts,
// and returns it for logProcs.
func setProcs(loops, flag int) procsChoice {
	return chooseProcs(loops, flag, os.Getenv("GOMAXPROCS"))
}

// logProcs logs the choice once the server is bound, beside its other
// start-up lines: a start-up error stays the one line epfs prints.
func logProcs(log zerolog.Logger, ch procsChoice, loops int) {
	ev := log.Info()
	if ch.procs <= loops {
		ev = log.Warn().Str("why", "every P is held by a loop while it works: the I/O pool, the access log, /metrics and signals wait for a loop to sleep")
	}
	ev.Int("gomaxprocs", ch.procs).Str("from", ch.from).Int("loops", loops).Int("cpus", runtime.NumCPU()).Msg("scheduler")
}
