package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
