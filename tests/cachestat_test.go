package tests

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Run as a user that neither owns the served files nor may write them (as
// the systemd unit's DynamicUser= does), epfs is refused cachestat(2) for
// every file on kernels that show the page cache only to such processes
// (can_do_cachestat, mm/filemap.c). The start-up probe cannot tell (it
// asks about no file), so the first refusal turns the loop's probe back to
// preadv2: the file is served whole, the refusal is counted once per loop,
// and the rest of the chunks are probed with preadv2. Needs root, to start
// epfs as nobody.
func TestCachestatRefusedForFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run epfs as another user")
	}
	// A directory nobody can reach, holding a copy of the binary and a
	// root-owned tree: t.TempDir and the build directory are 0700.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "epfs")
	b, err := os.ReadFile(epfsBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	if err := os.WriteFile(filepath.Join(root, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: execAs(bin, 65534, "serve", "--root", root, "--listen", "127.0.0.1:0", "--loops", "1",
		"--access-log", "off", "--admin-listen", "127.0.0.1:0")}
	p.start(t, "listening")
	admin := adminURL(t, p)
	probe := ""
	for _, l := range p.logLines() {
		if s, ok := l["probe"].(string); ok {
			probe = s
		}
	}
	if probe != "cachestat" {
		t.Skipf("start-up probe chose %q: cachestat(2) not usable here at all", probe)
	}
	before := scrape(t, admin)
	r, err := http.Get("http://" + strings.Split(p.addr, ",")[0] + "/f.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || r.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("status %d, %d bytes, %v; want 200 and the file", r.StatusCode, len(got), err)
	}
	after := scrape(t, admin)
	d := func(name string, labels ...string) float64 {
		return metric(after, name, labels...) - metric(before, name, labels...)
	}
	refused := d("epfs_cold_probes_total", "result", "refused")
	cachestat := d("epfs_syscalls_total", "syscall", "cachestat")
	preadv2 := d("epfs_syscalls_total", "syscall", "preadv2")
	if refused == 0 && cachestat > 0 {
		t.Skipf("this kernel lets a process that may not write the file see its page cache (%v cachestat calls)", cachestat)
	}
	if refused != 1 || cachestat != 1 {
		t.Errorf("%v cachestat refusals in %v calls, want exactly 1 (the first turns the loop to preadv2)", refused, cachestat)
	}
	// 6 MiB in 2 MiB chunks: two one-byte probes each.
	if preadv2 != 6 {
		t.Errorf("%v preadv2 probes, want 6", preadv2)
	}
}

// execAs prepares bin with args to run as uid (and the same gid).
func execAs(bin string, uid uint32, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}
