package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestProgramsBuild builds the two Go peers the harness starts, the way
// buildPrograms does at run time (the harness itself is built by this
// test's own compilation), so a broken peer shows up in `make test` rather
// than half-way through a half-hour benchmark.
func TestProgramsBuild(t *testing.T) {
	dir := t.TempDir()
	for _, pkg := range []string{"../peers/nethttp", "../peers/fasthttp"} {
		out := filepath.Join(dir, filepath.Base(pkg))
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
}
