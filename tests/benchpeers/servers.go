package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// The servers compared, in the order every round runs them.
const (
	srvEpfs     = "epfs"
	srvNginx    = "nginx"
	srvNetHTTP  = "net/http"
	srvFastHTTP = "fasthttp"
	srvCeiling  = "ceiling"
	// srvCeilingGo is the same responder in Go through x/sys
	// (../shared/ceiling/go): the floor a plain Go epoll loop pays, which
	// epfs aims to go below.
	srvCeilingGo = "ceiling-go"

	// The cold-mix mode's variants (cold.go): epfs without its I/O pool,
	// and nginx with `aio threads;` (sendfile's reads done on nginx's
	// thread pool).
	srvEpfsNoPool = "epfs io0"
	srvNginxAIO   = "nginx aio"

	// The compression mode's nginx (compress.go): `gzip on` with
	// gzip_types set to epfs's list, at nginx's default level (1) and at 6.
	srvNginxGzip  = "nginx gzip"
	srvNginxGzip6 = "nginx gzip6"
)

// isNginx reports whether name is one of the nginx configurations.
func isNginx(name string) bool {
	switch name {
	case srvNginx, srvNginxAIO, srvNginxGzip, srvNginxGzip6:
		return true
	}
	return false
}

// allServers is the default set and order.
var allServers = []string{srvEpfs, srvNginx, srvNetHTTP, srvFastHTTP, srvCeiling, srvCeilingGo}

// mode is a set of identical conditions under which every server runs.
type mode struct {
	Name       string
	Workers    int    // epfs --loops, nginx worker_processes, GOMAXPROCS
	ServerCPU  string // taskset CPU list for the server; "" leaves it free
	WrkCPU     string // taskset CPU list for wrk; "" leaves it free
	WrkThreads int
	AccessLog  bool // epfs and nginx log every request to a file
	Cold       bool // the cold-mix mode: epfs gets an explicit --io-threads
	Compress   bool // the compression mode: epfs gets an admin listener; nginx knows text types
}

// bench holds what every server start needs: the built programs, the
// docroot and a scratch directory.
type bench struct {
	tmp     string
	root    string
	bins    map[string]string // server name → program
	wrkLua  string
	usePerf bool
}

// server is one running server process.
type server struct {
	Name    string
	Variant string // for the ceilings: "mem 1024" or "file PATH"
	Addr    string // 127.0.0.1:PORT
	Admin   string // epfs in the compression mode: its admin listener, for /metrics
	cmd     *exec.Cmd
	pids    []int // processes whose CPU, RSS and syscalls are measured
	done    chan struct{}
}

// nginxConf is nginx's whole configuration: one or more workers, sendfile
// with TCP_CORK (tcp_nopush, nginx's usual static-file setting), the open
// file cache (epfs and fasthttp cache open files too), no access log unless
// asked, and limits high enough for the 5,000-connection idle test.
var nginxConf = template.Must(template.New("nginx").Parse(`daemon off;
master_process on;
worker_processes {{.Workers}};
worker_rlimit_nofile 20000;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events {
    worker_connections 16384;
    use epoll;
}
http {
    default_type application/octet-stream;
    {{if .GzipLevel}}types {
        text/html html;
        text/css css;
        text/javascript js mjs;
        application/json json map;
        image/svg+xml svg;
        application/wasm wasm;
        application/manifest+json webmanifest;
        text/plain txt;
        application/xml xml;
    }
    gzip on;
    gzip_comp_level {{.GzipLevel}};
    gzip_types text/css text/javascript application/javascript application/json image/svg+xml application/wasm application/manifest+json text/plain application/xml text/xml;
    {{else}}types { }
    {{end}}    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    open_file_cache max=1000 inactive=300s;
    open_file_cache_valid 300s;
    {{if .AIO}}aio threads;
    {{end}}{{if .AccessLog}}access_log {{.Dir}}/access.log combined buffer=64k flush=1s;{{else}}access_log off;{{end}}
    client_body_temp_path {{.Dir}}/body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    server {
        listen {{.Addr}} backlog=4096 reuseport;
        root {{.Root}};
    }
}
`))

// freeAddr picks a free loopback port. Another process may take it before
// the server binds; startServer's readiness check then fails loudly.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer starts server name under mode m. variant selects what the
// ceiling responder serves; the others ignore it.
func (b *bench) startServer(name, variant string, m mode) (*server, error) {
	dir, err := os.MkdirTemp(b.tmp, "srv-")
	if err != nil {
		return nil, err
	}
	s := &server{Name: name, Variant: variant, done: make(chan struct{})}
	var args []string
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(m.Workers))
	switch name {
	case srvEpfs, srvEpfsNoPool:
		// epfs sizes its scheduler itself (--loops + 1 Ps, README "Sizing
		// the scheduler"): it runs as an operator would run it, with no
		// GOMAXPROCS, which it would otherwise keep.
		env = os.Environ()
		accessLog := "off"
		if m.AccessLog {
			accessLog = filepath.Join(dir, "access.log")
		}
		args = []string{b.bins[srvEpfs], "serve", "--root", b.root, "--listen", "127.0.0.1:0",
			"--loops", strconv.Itoa(m.Workers), "--access-log", accessLog}
		switch {
		case name == srvEpfsNoPool:
			args = append(args, "--io-threads", "0")
		case m.Cold:
			args = append(args, "--io-threads", "2")
		case m.Compress:
			if s.Admin, err = freeAddr(); err != nil {
				return nil, err
			}
			args = append(args, "--admin-listen", s.Admin)
		}
	case srvNetHTTP, srvFastHTTP:
		args = []string{b.bins[name], "-root", b.root, "-listen", "127.0.0.1:0"}
	case srvNginx, srvNginxAIO, srvNginxGzip, srvNginxGzip6:
		if s.Addr, err = freeAddr(); err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := writeTemplate(conf, nginxConf, map[string]any{"Workers": m.Workers,
			"Dir": dir, "Addr": s.Addr, "Root": b.root, "AccessLog": m.AccessLog,
			"AIO": name == srvNginxAIO, "GzipLevel": map[string]int{srvNginxGzip: 1, srvNginxGzip6: 6}[name]}); err != nil {
			return nil, err
		}
		args = []string{b.bins[srvNginx], "-p", dir, "-c", conf}
	case srvCeiling, srvCeilingGo:
		if s.Addr, err = freeAddr(); err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(s.Addr)
		args = append([]string{b.bins[name], port}, strings.Fields(variant)...)
	default:
		return nil, fmt.Errorf("unknown server %q", name)
	}
	if m.ServerCPU != "" {
		// taskset execs the server, so the child's PID is the server's.
		args = append([]string{"taskset", "-c", m.ServerCPU}, args...)
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Env = env
	s.cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout = logf
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	addrc := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer logf.Close()
		s.scanStartLine(stderr, logf, addrc)
		s.cmd.Wait()
	}()
	if err := s.waitReady(addrc, m, logf.Name()); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// scanStartLine copies the server's stderr to log and passes on the addr
// of the first JSON "listening" line (epfs and the Go peers write one).
func (s *server) scanStartLine(stderr io.Reader, log io.Writer, addrc chan<- string) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		fmt.Fprintln(log, sc.Text())
		var line struct{ Message, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "listening" && line.Addr != "" {
			select {
			case addrc <- line.Addr:
			default:
			}
		}
	}
}

// waitReady waits for the server to accept connections and finds the
// processes to measure (nginx's workers rather than its idle master).
func (s *server) waitReady(addrc <-chan string, m mode, logName string) error {
	deadline := time.Now().Add(20 * time.Second)
	if s.Addr == "" {
		select {
		case s.Addr = <-addrc:
		case <-s.done:
			return fmt.Errorf("%s exited before listening; see %s", s.Name, logName)
		case <-time.After(time.Until(deadline)):
			return fmt.Errorf("%s: no listening line in 20s; see %s", s.Name, logName)
		}
	}
	for {
		c, err := net.DialTimeout("tcp4", s.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before accepting; see %s", s.Name, logName)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s not accepting after 20s: %w", s.Name, s.Addr, err)
		}
	}
	s.pids = []int{s.cmd.Process.Pid}
	if !isNginx(s.Name) {
		return nil
	}
	for {
		if kids := childrenOf(s.cmd.Process.Pid); len(kids) >= m.Workers {
			s.pids = kids
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nginx: %d workers did not start", m.Workers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server: SIGTERM, then SIGKILL if it lingers.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// writeTemplate renders t with data into the file path.
func writeTemplate(path string, t *template.Template, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
