//go:build linux

package server

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSwitches(t *testing.T) {
	status := []byte("Name:\tepfs\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n")
	if v, i, ok := parseSwitches(status); !ok || v != 1234 || i != 56 {
		t.Errorf("got %d %d %v, want 1234 56 true", v, i, ok)
	}
	if _, _, ok := parseSwitches([]byte("Name:\tepfs\nvoluntary_ctxt_switches:\t1\n")); ok {
		t.Error("a status without nonvoluntary_ctxt_switches parsed")
	}
	if _, _, ok := parseSwitches([]byte("voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t1\n")); ok {
		t.Error("a bad number parsed")
	}
	// This thread's own file has both lines.
	if _, _, ok := threadSwitches(unix.Gettid()); !ok {
		t.Error("no context switches for this thread in /proc/self/task")
	}
}
