package tests

import (
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `make release`: a static, version-stamped binary per architecture (no
// ELF interpreter, no dynamic section: no libc to match), the man page and
// the completion scripts, and SHA256SUMS that match every file.
func TestRelease(t *testing.T) {
	dist := t.TempDir()
	mk := exec.Command("make", "-C", "..", "release", "DIST="+dist)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", line)
		}
		listed[name] = sum
	}
	for _, name := range []string{"epfs-linux-amd64", "epfs-linux-arm64", "epfs.1", "epfs.bash", "epfs.zsh", "epfs.fish"} {
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); listed[name] != got {
			t.Errorf("%s: SHA256SUMS says %q, the file is %s", name, listed[name], got)
		}
	}
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		path := filepath.Join(dist, "epfs-linux-"+arch)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s: machine %v, want %v", path, f.Machine, machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: has %v: not a static binary", path, p.Type)
			}
		}
		f.Close()
	}
	out, err := exec.Command(filepath.Join(dist, "epfs-linux-amd64"), "--version").Output()
	if want := "epfs " + gitVersion(t) + "\n"; err != nil || string(out) != want {
		t.Errorf("release binary --version: %v %q, want %q", err, out, want)
	}
}

// The completion scripts and the man page come from the command
// definitions: each offers every flag of `epfs serve`. The bash script,
// loaded into bash, completes a flag's prefix and the command names.
func TestCompletionAndMan(t *testing.T) {
	flags := serveFlagNames(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out := runEpfs(t, "completion", shell)
		if code != 0 {
			t.Fatalf("completion %s: exit %d %q", shell, code, out)
		}
		for _, f := range flags {
			word := "--" + f
			if shell == "fish" {
				word = "-l " + f
			}
			if !strings.Contains(out, word) {
				t.Errorf("completion %s lacks %s", shell, word)
			}
		}
	}
	if code, out := runEpfs(t, "completion", "tcsh"); code != 2 || !strings.Contains(out, "epfs: tcsh: want bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d %q", code, out)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		script := fmt.Sprintf(`source <(%q completion bash)
COMP_WORDS=(epfs serve --reuse); COMP_CWORD=2; _epfs; echo "${COMPREPLY[*]}"
COMP_WORDS=(epfs se); COMP_CWORD=1; _epfs; echo "${COMPREPLY[*]}"`, epfsBin)
		out, err := exec.Command(bash, "-c", script).CombinedOutput()
		if err != nil || string(out) != "--reuse-port\nserve\n" {
			t.Errorf("bash completion: %v %q", err, out)
		}
	} else {
		t.Error("bash is missing")
	}
	code, page := runEpfs(t, "man")
	if code != 0 || !strings.Contains(page, ".TH epfs 1") {
		t.Fatalf("epfs man: exit %d, %.200q", code, page)
	}
	for _, f := range flags {
		if !strings.Contains(page, "--"+f) {
			t.Errorf("man page lacks --%s", f)
		}
	}
	if man, err := exec.LookPath("man"); err == nil {
		path := filepath.Join(t.TempDir(), "epfs.1")
		os.WriteFile(path, []byte(page), 0o644)
		cmd := exec.Command(man, "-l", path)
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=100")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "reuse-port") {
			t.Errorf("man -l: %v %.300q", err, out)
		}
	}
}

// serveFlagNames lists the flags `epfs serve --help` shows.
func serveFlagNames(t *testing.T) []string {
	t.Helper()
	code, help := runEpfs(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+--([a-z-]+)`).FindAllStringSubmatch(help, -1) {
		if m[1] != "help" {
			names = append(names, m[1])
		}
	}
	if len(names) < 20 {
		t.Fatalf("serve --help lists %d flags: %s", len(names), help)
	}
	return names
}

// The README documents every flag of `epfs serve` with its environment
// variable; LICENSE, CHANGELOG.md and the README's Stability note exist.
func TestDocsCoverFlags(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range serveFlagNames(t) {
		env := "EPFS_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		row := regexp.MustCompile("(?m)^\\| `--" + regexp.QuoteMeta(f) + "[ `].*\\(`" + env + "`\\)")
		if !row.Match(readme) {
			t.Errorf("README has no table row for --%s with (`%s`)", f, env)
		}
	}
	if !strings.Contains(string(readme), "\n## Stability\n") {
		t.Error("README has no Stability section")
	}
	lic, err := os.ReadFile("../LICENSE")
	if err != nil || !strings.HasPrefix(string(lic), "MIT License") || !strings.Contains(string(lic), "Permission is hereby granted, free of charge") {
		t.Errorf("LICENSE: %v %.80q", err, lic)
	}
	cl, err := os.ReadFile("../CHANGELOG.md")
	if err != nil || !strings.Contains(string(cl), "## Unreleased") {
		t.Errorf("CHANGELOG.md: %v", err)
	}
}

// Type=notify: epfs sends READY=1 on $NOTIFY_SOCKET once it serves,
// RELOADING=1 then READY=1 around a SIGHUP (logged, so a reload is seen in
// the journal too), and STOPPING=1 when a stop begins. Both a path and an
// abstract socket name, as systemd uses.
func TestSystemdNotify(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{filepath.Join(t.TempDir(), "notify.sock"), fmt.Sprintf("@epfs-test-notify-%d", os.Getpid())} {
		sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		next := func(want string) string {
			t.Helper()
			sock.SetReadDeadline(time.Now().Add(waitGuard)) // hang guard, never an assertion on time
			buf := make([]byte, 4096)
			n, err := sock.Read(buf)
			if err != nil {
				t.Fatalf("hang guard: %s: waiting for %q: %v", name, want, err)
			}
			msg := string(buf[:n])
			if !strings.HasPrefix(msg, want) {
				t.Fatalf("%s: got %q, want %q first", name, msg, want)
			}
			return msg
		}
		logPath := filepath.Join(t.TempDir(), "access.log")
		p := &proc{cmd: exec.Command(epfsBin, "serve", f.root, "--listen", "127.0.0.1:0", "--access-log", logPath), done: make(chan struct{})}
		p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+name)
		p.start(t, "listening")
		if msg := next("READY=1\n"); !strings.Contains(msg, "STATUS=serving "+p.addr) {
			t.Errorf("READY message %q lacks the address %s", msg, p.addr)
		}
		if code, b, _ := get(t, "http://"+p.addr, "/hello.txt"); code != 200 || b != "hello, world\n" {
			t.Fatalf("%d %q", code, b)
		}
		p.cmd.Process.Signal(syscall.SIGHUP)
		if msg := next("RELOADING=1\nMONOTONIC_USEC="); !regexp.MustCompile(`MONOTONIC_USEC=[1-9][0-9]*$`).MatchString(msg) {
			t.Errorf("RELOADING message %q", msg)
		}
		next("READY=1\nSTATUS=reloaded at ")
		p.cmd.Process.Signal(syscall.SIGTERM)
		next("STOPPING=1")
		if code := p.stop(t, syscall.Signal(0)); code != 0 { // signal 0: just wait
			t.Errorf("exit %d", code)
		}
		if logField(p, "reloaded: access log reopened", "level") != "info" {
			t.Errorf("no info line for the reload: %v", p.logLines())
		}
		sock.Close()
	}
}

// The units in contrib/systemd pass `systemd-analyze verify` — with no
// warning at all, since an unknown or misspelled directive is only a
// warning there (exit 0) and would silently drop a hardening setting — on
// copies whose ExecStart names the binary under test. A copy with a
// misspelled directive must be caught, so the check cannot pass vacuously.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is missing: .ci/run installs systemd")
	}
	dir := t.TempDir()
	for _, name := range []string{"epfs.socket", "epfs.service"} {
		b, err := os.ReadFile(filepath.Join("..", "contrib", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		unit := strings.ReplaceAll(string(b), "/usr/local/bin/epfs", epfsBin)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(units ...string) (string, error) {
		cmd := exec.Command(analyze, append([]string{"verify"}, units...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := verify("./epfs.socket", "./epfs.service"); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	svc, _ := os.ReadFile(filepath.Join(dir, "epfs.service"))
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"NoNewPrivileges=yes", "\nCapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service", "SystemCallErrorNumber=EPERM", "MemoryDenyWriteExecute=yes",
		"ReadOnlyPaths=/srv/www", "LimitNOFILE=", "\nType=notify\n", "\nEnvironmentFile=-/etc/default/epfs\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n"} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("epfs.service lacks %q", strings.TrimSpace(want))
		}
	}

	bad := strings.Replace(string(svc), "NoNewPrivileges=yes", "NoNewPrivilegs=yes", 1)
	if err := os.WriteFile(filepath.Join(dir, "bad.service"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := verify("./bad.service"); !strings.Contains(out, "NoNewPrivilegs") {
		t.Fatalf("a misspelled directive went unnoticed: %q", out)
	}
}
