package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// tool is a program the harness runs and the Debian package that has it.
type tool struct {
	bin      string
	packages []string // tried in order: nginx-light is gone from newer releases
	optional bool     // the harness can do without it (perf → strace)
}

var tools = []tool{
	{bin: "nginx", packages: []string{"nginx-light", "nginx"}},
	{bin: "wrk", packages: []string{"wrk"}},
	{bin: "taskset", packages: []string{"util-linux"}},
	{bin: "gcc", packages: []string{"gcc"}},
	{bin: "perf", packages: []string{"linux-perf"}, optional: true},
	{bin: "strace", packages: []string{"strace"}, optional: true},
}

// ensureTools installs what is missing with apt-get. It only installs; it
// never starts, stops or reconfigures a system service. (Debian's nginx
// package may start its own service on install; the harness's nginx is a
// separate process with its own configuration on another port.)
func ensureTools(logf func(string, ...any)) error {
	var missing []tool
	for _, t := range tools {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		var names []string
		for _, t := range missing {
			names = append(names, t.packages[0])
		}
		return fmt.Errorf("missing %s; install them (apt-get install %s) or run as root",
			toolNames(missing), strings.Join(names, " "))
	}
	logf("installing %s with apt-get", toolNames(missing))
	if err := apt("update"); err != nil {
		return err
	}
	for _, t := range missing {
		var err error
		for _, pkg := range t.packages {
			if err = apt("install", "-y", "--no-install-recommends", pkg); err == nil {
				break
			}
		}
		if _, lookErr := exec.LookPath(t.bin); lookErr != nil && !t.optional {
			return fmt.Errorf("installing %s: %v", t.bin, err)
		}
	}
	if _, err := exec.LookPath("perf"); err == nil && !perfWorks() {
		logf("perf cannot count syscall tracepoints here; syscalls will be counted with strace -c")
	}
	return nil
}

func toolNames(ts []tool) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.bin)
	}
	return strings.Join(s, ", ")
}

func apt(args ...string) error {
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// docFile is one file of the generated docroot.
type docFile struct {
	Name string
	Size int64
}

// docFiles are the sizes the issue asks for.
var docFiles = []docFile{
	{"1k.bin", 1 << 10},
	{"4k.bin", 4 << 10},
	{"64k.bin", 64 << 10},
	{"1m.bin", 1 << 20},
	{"100m.bin", 100 << 20},
}

// makeDocroot writes the files with seeded random (incompressible) bytes.
// The directory is world-readable because nginx's workers drop root.
func makeDocroot(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range docFiles {
		buf := make([]byte, f.Size)
		for i := 0; i+8 <= len(buf); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buildPrograms builds epfs and the Go peers from the module at modRoot,
// the ceiling responder with gcc, and its Go twin (the module in the go
// directory beside ceilingSrc) with go build, all into dir. Nothing is
// built in the source tree, so no binary can be committed by accident.
func buildPrograms(modRoot, ceilingSrc, dir string) (map[string]string, error) {
	bins := map[string]string{}
	for name, pkg := range map[string]string{
		srvEpfs:     "./cmd/epfs",
		srvNetHTTP:  "./tests/peers/nethttp",
		srvFastHTTP: "./tests/peers/fasthttp",
	} {
		out := filepath.Join(dir, strings.ReplaceAll(name, "/", ""))
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = modRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w: %s", pkg, err, b)
		}
		bins[name] = out
	}
	out := filepath.Join(dir, "ceiling")
	if b, err := exec.Command("gcc", "-O2", "-o", out, ceilingSrc).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gcc %s: %w: %s", ceilingSrc, err, b)
	}
	bins[srvCeiling] = out
	out = filepath.Join(dir, "ceiling-go")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(filepath.Dir(ceilingSrc), "go")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w: %s", cmd.Dir, err, b)
	}
	bins[srvCeilingGo] = out
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return nil, err
	}
	bins[srvNginx] = nginx
	return bins, nil
}
