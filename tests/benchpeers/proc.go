package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports (the kernel fixes it
// for the user ABI whatever CONFIG_HZ is), so it is not read from sysconf.
const clockTicks = 100

// procStat is the part of /proc/PID/stat the harness uses.
type procStat struct {
	Comm  string
	PPID  int
	Utime uint64 // user CPU of all threads, in clock ticks
	Stime uint64 // system CPU of all threads, in clock ticks
}

// parseProcStat parses the contents of /proc/PID/stat. The command name is
// in parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("proc stat: no command name in %q", b)
	}
	f := strings.Fields(string(b[closing+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the name", len(f))
	}
	var s procStat
	var err error
	s.Comm = string(b[open+1 : closing])
	if s.PPID, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, fmt.Errorf("proc stat: ppid: %w", err)
	}
	if s.Utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("proc stat: utime: %w", err)
	}
	if s.Stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("proc stat: stime: %w", err)
	}
	return s, nil
}

// readProcStat reads /proc/PID/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// cpuMicros is the user plus system CPU time, in microseconds, that the
// processes pids have used so far (all their threads).
func cpuMicros(pids []int) (float64, error) {
	var ticks uint64
	for _, pid := range pids {
		s, err := readProcStat(pid)
		if err != nil {
			return 0, err
		}
		ticks += s.Utime + s.Stime
	}
	return float64(ticks) * 1e6 / clockTicks, nil
}

// parseVmRSS returns VmRSS in bytes from the contents of /proc/PID/status.
func parseVmRSS(b []byte) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proc status: odd VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc status: VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("proc status: no VmRSS line")
}

// rssBytes is the summed resident set size of pids.
func rssBytes(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		rss, err := parseVmRSS(b)
		if err != nil {
			return 0, err
		}
		sum += rss
	}
	return sum, nil
}

// childrenOf lists the processes whose parent is ppid, by scanning /proc:
// /proc/PID/task/TID/children exists only with CONFIG_PROC_CHILDREN.
func childrenOf(ppid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var kids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if s, err := readProcStat(pid); err == nil && s.PPID == ppid {
			kids = append(kids, pid)
		}
	}
	return kids
}
