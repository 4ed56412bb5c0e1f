package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// --config FILE: a TOML file sets any flag by its name. Precedence is flag
// > environment > file > default; a value with commas is kept whole;
// --listen and EPFS_LISTEN still take comma-separated lists.
func TestConfigFile(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := write("epfs.toml", `root = "`+f.root+`"
listen = ["127.0.0.1:0", "[::1]:0"]
access-log = "off"
server-header = "from-file"
cache-control = "public, max-age=60"
idle-timeout = "30s"
loops = 1
autoindex = true
`)
	run := func(env []string, args ...string) *proc {
		t.Helper()
		p := &proc{cmd: exec.Command(epfsBin, append([]string{"serve"}, args...)...), done: make(chan struct{})}
		p.cmd.Env = append(os.Environ(), env...)
		p.start(t, "listening")
		return p
	}
	for _, tc := range []struct {
		env    []string
		args   []string
		server string // the Server field: file, environment or flag
		addrs  int
	}{
		{nil, []string{"--config", conf}, "from-file", 2},
		{[]string{"EPFS_CONFIG=" + conf}, nil, "from-file", 2},
		{[]string{"EPFS_SERVER_HEADER=from-env"}, []string{"--config", conf}, "from-env", 2},
		{[]string{"EPFS_SERVER_HEADER=from-env"}, []string{"--config", conf, "--server-header", "from-flag"}, "from-flag", 2},
		{[]string{"EPFS_LISTEN=127.0.0.1:0,[::1]:0,127.0.0.1:0"}, []string{"--config", conf}, "from-file", 3},
		{nil, []string{"--config", conf, "--listen", "127.0.0.1:0"}, "from-file", 1},
		{nil, []string{"--config", conf, "--listen", "127.0.0.1:0,[::1]:0", "--listen", "127.0.0.1:0"}, "from-file", 3},
	} {
		p := run(tc.env, tc.args...)
		addrs := strings.Split(p.addr, ",")
		if len(addrs) != tc.addrs {
			t.Errorf("%v %v: listening on %v, want %d addresses", tc.env, tc.args, addrs, tc.addrs)
		}
		if l := logField(p, "listening", "loops"); l != float64(1) {
			t.Errorf("%v %v: %v loops, want 1 from the file", tc.env, tc.args, l)
		}
		code, _, h := get(t, "http://"+addrs[0], "/hello.txt")
		if code != 200 || h.Get("Server") != tc.server || h.Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("%v %v: %d Server %q Cache-Control %q; want Server %q and the file's Cache-Control whole",
				tc.env, tc.args, code, h.Get("Server"), h.Get("Cache-Control"), tc.server)
		}
		if code, b, _ := get(t, "http://"+addrs[0], "/list/"); code != 200 || !strings.Contains(b, "a.txt") {
			t.Errorf("%v %v: /list/ %d: autoindex from the file not applied", tc.env, tc.args, code)
		}
		p.stop(t, syscall.SIGTERM)
	}

	for _, tc := range []struct {
		text string
		code int
		want string
	}{
		{"lisen = [\"127.0.0.1:0\"]\n", 2, `: unknown setting "lisen": want the name of a flag of epfs serve (see 'epfs serve --help')`},
		{"loops = \"many\"\n", 2, `: setting "loops": want a number`},
		{"loops = 0\n", 2, "epfs: --loops 0: want 1 to 1024"},
		{"listen = [\"8080\"]\n", 2, "epfs: --listen 8080: want host:port, [::]:port or unix:/path (did you mean :8080?)"},
		{"listen = \"127.0.0.1:0\"\n", 2, `: setting "listen": want a list of strings, such as [":8080"] (see 'epfs serve --help')`},
		{"idle-timeout = 10\n", 2, `: setting "idle-timeout": want a duration in quotes, such as "10s"`},
		{"root = [\n", 2, ": want a TOML file: "},
		{"config = \"other.toml\"\n", 2, `unknown setting "config"`},
	} {
		path := write("bad.toml", tc.text)
		code, out := runEpfs(t, "serve", "--config", path, "--root", f.root, "--access-log", "off")
		if code != tc.code || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("file %q: exit %d %q; want exit %d and one line with %q", tc.text, code, out, tc.code, tc.want)
		}
	}
	if code, out := runEpfs(t, "serve", "--config", filepath.Join(dir, "missing.toml")); code != 1 || !strings.Contains(out, "missing.toml: no such file or directory") {
		t.Errorf("missing file: exit %d %q", code, out)
	}
}

// contrib/epfs.toml, every setting uncommented, is a valid file whose keys
// are all flags of epfs serve (only the fixed ports and root overridden).
func TestConfigSample(t *testing.T) {
	f := newFixture(t)
	b, err := os.ReadFile("../contrib/epfs.toml")
	if err != nil {
		t.Fatal(err)
	}
	settings := regexp.MustCompile(`(?m)^#([a-z-]+ = .*)$`).ReplaceAllString(string(b), "$1")
	path := filepath.Join(t.TempDir(), "epfs.toml")
	if err := os.WriteFile(path, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	// The sample's error page, which must exist at start-up.
	if err := os.WriteFile(filepath.Join(f.root, "404.html"), []byte("<p>gone</p>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := serveFlagNames(t)
	for _, fl := range flags {
		if fl != "config" && !strings.Contains(settings, "\n"+fl+" = ") {
			t.Errorf("contrib/epfs.toml has no sample setting for %s", fl)
		}
	}
	p := &proc{cmd: exec.Command(epfsBin, "serve", "--config", path, "--root", f.root, "--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0", "--access-log", "off"), done: make(chan struct{})}
	p.start(t, "listening")
	if code, _, h := get(t, "http://"+p.addr, "/hello.txt"); code != 200 || h.Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("sample settings: %d Cache-Control %q", code, h.Get("Cache-Control"))
	}
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}
