package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestProgramsBuild builds the Go peers the harness starts, the way
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
	// The Go ceiling responder lives beside the C one, outside this
	// module; it is built when that tree is there.
	src := "../../../shared/ceiling/go"
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		t.Skipf("no Go ceiling responder at %s: %v", src, err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "ceiling-go"), ".")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go build %s: %v\n%s", src, err, b)
	}
}
