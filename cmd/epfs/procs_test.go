package main

import (
	"runtime"
	"testing"
)

// The scheduler gets a P more than the loops unless the operator said
// otherwise, by flag (first) or by $GOMAXPROCS (which the runtime applied).
func TestChooseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		loops, flag int
		env         string
		want        int
		from        string
	}{
		{loops: 1, want: 2, from: "loops+1"},
		{loops: 4, want: 5, from: "loops+1"},
		{loops: 2, flag: 7, want: 7, from: "--gomaxprocs"},
		{loops: 2, flag: 2, env: "9", want: 2, from: "--gomaxprocs"},
		{loops: 2, env: "junk", want: 3, from: "loops+1"},
	} {
		got := chooseProcs(tc.loops, tc.flag, tc.env)
		if got.procs != tc.want || got.from != tc.from || runtime.GOMAXPROCS(0) != tc.want {
			t.Errorf("loops %d flag %d env %q: got %+v (GOMAXPROCS %d), want %d from %s",
				tc.loops, tc.flag, tc.env, got, runtime.GOMAXPROCS(0), tc.want, tc.from)
		}
	}
	// With $GOMAXPROCS set, the value the runtime took from it stays.
	runtime.GOMAXPROCS(3)
	if got := chooseProcs(8, 0, "3"); got.procs != 3 || got.from != "GOMAXPROCS" || runtime.GOMAXPROCS(0) != 3 {
		t.Errorf("env: got %+v, GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}
}
