package main

import (
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/epfs/epfs/cmd/epfs/internal/server"
	"github.com/epfs/epfs/fsindex/compress"
	"github.com/epfs/epfs/transmit"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// serveFlags are the flags of `epfs serve`, every one also settable by its
// environment variable and, through --config, by a TOML file.
func serveFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "root", Value: ".", Usage: "directory to serve (or give it as the argument DIR)", EnvVars: []string{"EPFS_ROOT"}},
		&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice(":8080"), Usage: "address to listen on, repeatable or comma-separated: host:port, [::]:port or unix:/path", EnvVars: []string{"EPFS_LISTEN"}},
		&cli.BoolFlag{Name: "reuse-port", Usage: "start even if another process serves a --listen TCP port, sharing it by SO_REUSEPORT (a planned overlap for a restart without socket activation)", EnvVars: []string{"EPFS_REUSE_PORT"}},
		&cli.IntFlag{Name: "loops", Value: 0, DefaultText: "CPU count", Usage: "event loops, one goroutine locked to a thread each", EnvVars: []string{"EPFS_LOOPS"}},
		&cli.IntFlag{Name: "gomaxprocs", Value: 0, DefaultText: "loops + 1", Usage: "Ps of the Go scheduler (GOMAXPROCS); keep it above --loops, so that a P is free while every loop works", EnvVars: []string{"EPFS_GOMAXPROCS"}},
		&cli.IntFlag{Name: "max-conns", Value: server.DefaultMaxConns, Usage: "open connections at most; beyond it new ones get 503 and are closed", EnvVars: []string{"EPFS_MAX_CONNS"}},
		&cli.DurationFlag{Name: "header-timeout", Value: server.DefaultHeaderTimeout, Usage: "time from a request's first byte to the end of its head", EnvVars: []string{"EPFS_HEADER_TIMEOUT"}},
		&cli.DurationFlag{Name: "idle-timeout", Value: server.DefaultIdleTimeout, Usage: "keep-alive connection with no request in progress", EnvVars: []string{"EPFS_IDLE_TIMEOUT"}},
		&cli.DurationFlag{Name: "write-timeout", Value: server.DefaultWriteTimeout, Usage: "close a response that makes no progress for this long", EnvVars: []string{"EPFS_WRITE_TIMEOUT"}},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: server.DefaultShutdownTimeout, Usage: "how long responses in flight may finish after SIGTERM", EnvVars: []string{"EPFS_SHUTDOWN_TIMEOUT"}},
		&cli.IntFlag{Name: "max-header-bytes", Value: server.DefaultMaxHeaderBytes, Usage: "request head size limit (431 beyond)", EnvVars: []string{"EPFS_MAX_HEADER_BYTES"}},
		&cli.StringFlag{Name: "index", Value: "index.html", Usage: "file served for a directory URL", EnvVars: []string{"EPFS_INDEX"}},
		&cli.BoolFlag{Name: "autoindex", Usage: "list directories that have no index file", EnvVars: []string{"EPFS_AUTOINDEX"}},
		&cli.StringFlag{Name: "dotfiles", Value: "deny", Usage: "allow or deny paths with a segment starting with '.'", EnvVars: []string{"EPFS_DOTFILES"}},
		&cli.BoolFlag{Name: "precompressed", Usage: "serve name.br, name.zst, name.gz to clients that accept them", EnvVars: []string{"EPFS_PRECOMPRESSED"}},
		&cli.StringSliceFlag{Name: "cache-control", Usage: "Cache-Control of file responses: VALUE for every file, or GLOB=VALUE for the files whose path matches GLOB (* or starting with /; repeatable, first match wins; one a line in the environment variable; empty VALUE: none)", EnvVars: []string{"EPFS_CACHE_CONTROL"}},
		&cli.StringSliceFlag{Name: "header", Usage: "'Name: value' added to every response, or GLOB=Name: value to the file responses whose path matches GLOB (repeatable; one a line in the environment variable)", EnvVars: []string{"EPFS_HEADER"}},
		&cli.BoolFlag{Name: "nosniff", Value: true, Usage: "send X-Content-Type-Options: nosniff on every response (--nosniff=false: not unless a --header sets it)", EnvVars: []string{"EPFS_NOSNIFF"}},
		&cli.StringSliceFlag{Name: "error-page", Usage: "STATUS=/path: serve that file under the root, with the status, in place of the built-in text of 400, 403, 404, 405, 414, 431, 500, 501 or 505 (repeatable; one a line in the environment variable)", EnvVars: []string{"EPFS_ERROR_PAGE"}},
		&cli.BoolFlag{Name: "compress", Value: true, Usage: "compress text files (HTML, CSS, JavaScript, JSON, XML, SVG, wasm...) once per version with gzip, brotli and zstd, off the loops, and serve the variants from the cache; --compress=false: off", EnvVars: []string{"EPFS_COMPRESS"}},
		&cli.IntFlag{Name: "compress-gzip-level", Value: compress.DefaultGzipLevel, Usage: "gzip level of computed variants, 1 to 9", EnvVars: []string{"EPFS_COMPRESS_GZIP_LEVEL"}},
		&cli.IntFlag{Name: "compress-brotli-level", Value: compress.DefaultBrotliLevel, Usage: "brotli level of computed variants, 0 to 11", EnvVars: []string{"EPFS_COMPRESS_BROTLI_LEVEL"}},
		&cli.IntFlag{Name: "compress-zstd-level", Value: compress.DefaultZstdLevel, Usage: "zstd level of computed variants, 1 to 22", EnvVars: []string{"EPFS_COMPRESS_ZSTD_LEVEL"}},
		&cli.IntFlag{Name: "compress-min", Value: compress.DefaultMin, Usage: "smallest file compressed, in bytes (below it compression saves no packet)", EnvVars: []string{"EPFS_COMPRESS_MIN"}},
		&cli.IntFlag{Name: "compress-max", Value: compress.DefaultMax, Usage: "largest file compressed, in bytes (larger ones are served identity or from sidecars)", EnvVars: []string{"EPFS_COMPRESS_MAX"}},
		&cli.IntFlag{Name: "compress-threads", Value: compress.DefaultThreads, Usage: "compression threads (at nice 10, beside the loops and the I/O pool)", EnvVars: []string{"EPFS_COMPRESS_THREADS"}},
		&cli.StringSliceFlag{Name: "mime-type", Usage: "EXT=TYPE: the Content-Type of files ending in .EXT, over the built-in table and the --mime-types-file (repeatable or comma-separated)", EnvVars: []string{"EPFS_MIME_TYPE"}},
		&cli.StringFlag{Name: "mime-types-file", Value: defaultMimeTypesFile, Usage: "system table (mime.types(5)) for extensions the built-in table does not know, read at start-up when present (empty: none)", EnvVars: []string{"EPFS_MIME_TYPES_FILE"}, TakesFile: true},
		&cli.StringFlag{Name: "fallback", Usage: "URL path of a file served with 200 for paths that do not exist (single-page apps)", EnvVars: []string{"EPFS_FALLBACK"}},
		&cli.StringFlag{Name: "server-header", Value: "epfs", Usage: "Server field value (empty: none)", EnvVars: []string{"EPFS_SERVER_HEADER"}},
		&cli.StringFlag{Name: "transmit", Value: "sendfile", Usage: "body strategy: sendfile, splice or copy", EnvVars: []string{"EPFS_TRANSMIT"}},
		&cli.IntFlag{Name: "send-budget", Value: transmit.DefaultBudget, Usage: "bytes one response sends in a turn before the loop's other connections go (also the chunk each residency probe covers)", EnvVars: []string{"EPFS_SEND_BUDGET"}},
		&cli.IntFlag{Name: "io-threads", Value: server.DefaultIOThreads, Usage: "threads that read cold file ranges into the page cache off the loops; 0 turns them off (a cold read then blocks its loop)", EnvVars: []string{"EPFS_IO_THREADS"}},
		&cli.StringFlag{Name: "access-log", Value: "-", Usage: "access log: a file path, - for standard output, or off", EnvVars: []string{"EPFS_ACCESS_LOG"}},
		&cli.StringFlag{Name: "admin-listen", Usage: "address of the admin listener serving /metrics (off when empty)", EnvVars: []string{"EPFS_ADMIN_LISTEN"}},
		&cli.DurationFlag{Name: "admin-idle-timeout", Value: server.DefaultAdminIdleTimeout, Usage: "close an admin connection with no request for this long", EnvVars: []string{"EPFS_ADMIN_IDLE_TIMEOUT"}},
		&cli.IntFlag{Name: "admin-max-conns", Value: server.DefaultAdminMaxConns, Usage: "admin connections open at most; one more is closed at once", EnvVars: []string{"EPFS_ADMIN_MAX_CONNS"}},
		&cli.BoolFlag{Name: "pprof", Usage: "also serve /debug/pprof/ on the admin listener", EnvVars: []string{"EPFS_PPROF"}},
		&cli.BoolFlag{Name: "trace", Usage: "log every system call of the serving path (slow: for study, not production)", EnvVars: []string{"EPFS_TRACE"}},
	}, logFlags()...)
}

func serveCommand() *cli.Command {
	flags := fileable(serveFlags())
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve a directory over HTTP/1.1",
		ArgsUsage: "[DIR]",
		Description: "Serves DIR (or --root, default the current directory) on every --listen address.\n" +
			"Flags may come before or after DIR; \"--\" ends the flags. Each flag can also be set by\n" +
			"its environment variable or in the --config file: flag > environment > file > default.",
		Flags:        append(flags, configFlag()),
		Before:       loadConfigFile(flags),
		Action:       func(c *cli.Context) error { return forCommand(c, runServe(c)) },
		OnUsageError: usageError,
	}
}

// serveOptions is the validated configuration of `epfs serve`: the
// server's own Config and what package main does around it.
type serveOptions struct {
	server.Config
	adminListen string
	pprof       bool
	reusePort   bool
	types       typeTable
	gomaxprocs  int // 0: chosen by setProcs
}

// serveConfig reads and checks every flag of `epfs serve`, once, before
// anything starts. A wrong value is a usageErr (exit 2); a root or file that
// does not exist is a run-time error (exit 1).
func serveConfig(c *cli.Context, log zerolog.Logger) (serveOptions, error) {
	o := serveOptions{
		Config: server.Config{
			Root:             c.String("root"),
			Loops:            c.Int("loops"),
			MaxConns:         c.Int("max-conns"),
			HeaderTimeout:    c.Duration("header-timeout"),
			IdleTimeout:      c.Duration("idle-timeout"),
			WriteTimeout:     c.Duration("write-timeout"),
			ShutdownTimeout:  c.Duration("shutdown-timeout"),
			MaxHeaderBytes:   c.Int("max-header-bytes"),
			Index:            c.String("index"),
			Autoindex:        c.Bool("autoindex"),
			Precompressed:    c.Bool("precompressed"),
			Compress:         c.Bool("compress"),
			Fallback:         c.String("fallback"),
			ServerHeader:     c.String("server-header"),
			Transmit:         c.String("transmit"),
			IOThreads:        c.Int("io-threads"),
			SendBudget:       c.Int("send-budget"),
			AdminIdleTimeout: c.Duration("admin-idle-timeout"),
			AdminMaxConns:    c.Int("admin-max-conns"),
			Log:              log,
			Trace:            c.Bool("trace"),
			Version:          versionString(),
		},
		adminListen: c.String("admin-listen"),
		pprof:       c.Bool("pprof"),
		reusePort:   c.Bool("reuse-port"),
		gomaxprocs:  c.Int("gomaxprocs"),
	}
	switch c.NArg() {
	case 0:
	case 1:
		o.Root = c.Args().First() // reorderCommandLine refused it beside --root
	default:
		return o, usageErr{msg: showValue(c.Args().Get(1)) + ": unexpected argument (want at most one DIR)"}
	}
	// Slice flags do not split at commas (App.DisableSliceFlagSeparator, so
	// that a header value keeps its commas); addresses never contain one, so
	// "--listen a,b" and EPFS_LISTEN=a,b are split here.
	for _, l := range c.StringSlice("listen") {
		for _, a := range strings.Split(l, ",") {
			if a = strings.TrimSpace(a); a == "" {
				return o, badValue("--listen", l, "want host:port, [::]:port or unix:/path, not an empty address")
			}
			if err := checkListen("--listen", a); err != nil {
				return o, err
			}
			o.Listen = append(o.Listen, a)
		}
	}
	if o.pprof && o.adminListen == "" {
		return o, usageErr{msg: "--pprof: needs --admin-listen"}
	}
	if o.adminListen != "" {
		if err := checkListen("--admin-listen", o.adminListen); err != nil {
			return o, err
		}
	}
	if c.IsSet("loops") && o.Loops == 0 {
		return o, badValue("--loops", "0", "want 1 to 1024")
	}
	if n := o.gomaxprocs; (c.IsSet("gomaxprocs") && n == 0) || n < 0 || n > 1025 {
		return o, badValue("--gomaxprocs", fmt.Sprint(n), "want 1 to 1025")
	}
	for _, flag := range []string{"header-timeout", "idle-timeout", "write-timeout", "shutdown-timeout", "admin-idle-timeout"} {
		if c.IsSet(flag) && c.Duration(flag) <= 0 {
			return o, badValue("--"+flag, c.Duration(flag).String(), "want a positive duration such as 10s")
		}
	}
	for _, flag := range []string{"max-conns", "max-header-bytes", "admin-max-conns", "send-budget"} {
		if c.IsSet(flag) && c.Int(flag) <= 0 {
			return o, badValue("--"+flag, fmt.Sprint(c.Int(flag)), "want a positive number")
		}
	}
	if err := compressFlags(c, &o.Config); err != nil {
		return o, err
	}
	switch n := o.IOThreads; {
	case n < 0:
		return o, badValue("--io-threads", fmt.Sprint(n), "want 0 to 64")
	case n == 0:
		o.IOThreads = -1 // server.Config: negative is off, zero the default
	}
	if o.Index == "" {
		return o, badValue("--index", "", "want a file name such as index.html")
	}
	if _, err := transmit.ParseStrategy(o.Transmit); err != nil {
		return o, badValue("--transmit", o.Transmit, "want sendfile, splice or copy")
	}
	switch c.String("dotfiles") {
	case "allow":
		o.AllowDotfiles = true
	case "deny":
	default:
		return o, badValue("--dotfiles", c.String("dotfiles"), "want allow or deny")
	}
	if err := fieldRules(c, &o.Config); err != nil {
		return o, err
	}
	if err := o.Validate(); err != nil {
		return o, usageErr{msg: err.Error()}
	}
	if err := checkRoot(&o.Config); err != nil {
		return o, err
	}
	var err error
	o.types, err = contentTypes(c)
	o.ContentTypes = o.types.types
	return o, err
}

// compressFlags reads the compression flags into cfg, checking each
// against its range first: in server.Config a zero field means "the
// default", so a 0 (or any value out of range) given on the command line is
// refused here, naming the flag, rather than taken for the default.
// Brotli's level 0 is valid and passed as -1 (compress.Options' spelling of
// it).
func compressFlags(c *cli.Context, cfg *server.Config) error {
	if !cfg.Compress {
		return nil
	}
	for _, f := range []struct {
		name     string
		min, max int
	}{
		{"compress-gzip-level", 1, 9}, {"compress-brotli-level", 0, 11}, {"compress-zstd-level", 1, 22},
		{"compress-threads", 1, 64}, {"compress-min", 1, math.MaxInt}, {"compress-max", 1, math.MaxInt},
	} {
		if v := c.Int(f.name); v < f.min || v > f.max {
			want := fmt.Sprintf("want %d to %d", f.min, f.max)
			if f.max == math.MaxInt {
				want = "want a size in bytes, at least 1"
			}
			return badValue("--"+f.name, strconv.Itoa(v), want)
		}
	}
	if lo, hi := c.Int("compress-min"), c.Int("compress-max"); hi < lo {
		return badValue("--compress-max", strconv.Itoa(hi), fmt.Sprintf("want at least --compress-min (%d)", lo))
	}
	cfg.CompressGzipLevel = c.Int("compress-gzip-level")
	cfg.CompressBrotliLevel = c.Int("compress-brotli-level")
	if cfg.CompressBrotliLevel == 0 {
		cfg.CompressBrotliLevel = -1
	}
	cfg.CompressZstdLevel = c.Int("compress-zstd-level")
	cfg.CompressThreads = c.Int("compress-threads")
	cfg.CompressMin, cfg.CompressMax = int64(c.Int("compress-min")), int64(c.Int("compress-max"))
	return nil
}

// checkRoot fails at start-up, with the flag's name, when the root is not a
// directory or the --fallback file is not in it.
func checkRoot(cfg *server.Config) error {
	fi, err := os.Stat(cfg.Root)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("--root %s: no such directory", showValue(cfg.Root))
	case err != nil:
		return fmt.Errorf("--root %s: %v", showValue(cfg.Root), unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("--root %s: not a directory", showValue(cfg.Root))
	}
	if cfg.Fallback != "" {
		if err := checkFile(cfg.Root, "--fallback", cfg.Fallback, cfg.Fallback); err != nil {
			return err
		}
	}
	for _, status := range server.PageStatuses {
		if page := cfg.ErrorPages[status]; page != "" {
			if err := checkFile(cfg.Root, "--error-page", fmt.Sprintf("%d=%s", status, page), page); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkFile fails, naming the flag and its value, when the URL path p is not
// a regular file under root. A start-up check only: the server resolves
// the file beneath the root on every use, so a symlink out of it is still
// refused there.
func checkFile(root, flag, value, p string) error {
	fi, err := os.Stat(root + p)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("%s %s: no such file in --root %s", flag, showValue(value), showValue(root))
	case err != nil:
		return fmt.Errorf("%s %s: %v", flag, showValue(value), unwrapPath(err))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s %s: not a regular file", flag, showValue(value))
	}
	return nil
}

// fieldRules reads --cache-control, --header, --nosniff and --error-page
// into cfg. A value that does not parse is a usage error naming the flag
// and the value as given.
func fieldRules(c *cli.Context, cfg *server.Config) error {
	for _, v := range lines(c.StringSlice("cache-control")) {
		r, err := server.ParseCacheControl(v)
		if err != nil {
			return badValue("--cache-control", v, err.Error())
		}
		cfg.CacheControl = append(cfg.CacheControl, r)
	}
	sniff := c.Bool("nosniff")
	for _, v := range lines(c.StringSlice("header")) {
		r, err := server.ParseHeader(v)
		if err != nil {
			return badValue("--header", v, err.Error())
		}
		if r.Glob == "" && strings.EqualFold(r.Name, "X-Content-Type-Options") {
			sniff = false // the operator's own value replaces the default
		}
		cfg.Headers = append(cfg.Headers, r)
	}
	if sniff {
		// RFC 9110 leaves sniffing to the client; this field (WHATWG
		// Fetch §3.5.5) tells a browser to trust Content-Type, so that a
		// text file is never run as a script or a style sheet.
		cfg.Headers = append([]server.HeaderRule{{Name: "X-Content-Type-Options", Value: "nosniff"}}, cfg.Headers...)
	}
	for _, v := range lines(c.StringSlice("error-page")) {
		const want = "want STATUS=/path, such as 404=/404.html"
		code, p, ok := strings.Cut(v, "=")
		status, err := strconv.Atoi(code)
		if !ok || err != nil {
			return badValue("--error-page", v, want)
		}
		if prev := cfg.ErrorPages[status]; prev != "" && prev != p {
			return badValue("--error-page", v, fmt.Sprintf("want one page per status, and %d already has %s", status, showValue(prev)))
		}
		if cfg.ErrorPages == nil {
			cfg.ErrorPages = map[int]string{}
		}
		cfg.ErrorPages[status] = p
	}
	return nil
}

// lines splits each value at its newlines, and drops blank ones: no field
// value or path holds a newline (RFC 9110 §5.5), so EPFS_HEADER,
// EPFS_CACHE_CONTROL and EPFS_ERROR_PAGE may each carry several, one a
// line. (An empty --cache-control, which meant none, is none.)
func lines(values []string) []string {
	var out []string
	for _, v := range values {
		for l := range strings.SplitSeq(v, "\n") {
			if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// unwrapPath drops the operation and path from a *PathError, which the
// message around it already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func runServe(c *cli.Context) error {
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	o, err := serveConfig(c, log)
	if err != nil {
		return err
	}
	if err := accessLog(c.String("access-log"), &o.Config); err != nil {
		return err
	}
	procs := setProcs(o.Loops, o.gomaxprocs)
	// A service manager may hand the listening sockets in (socket
	// activation); then --listen is ignored.
	inherited, names, err := server.Activation()
	if err != nil {
		return err
	}
	if len(inherited) > 0 {
		o.Inherited, o.InheritedNames = inherited, names
		if c.IsSet("listen") {
			log.Warn().Strs("listen", o.Listen).Msg("socket activation: --listen ignored")
		}
	} else if !o.reusePort {
		if err := refuseServed(o.Listen); err != nil {
			return err
		}
	}
	srv, err := server.New(o.Config)
	if err != nil {
		return err
	}
	logProcs(log, procs, o.Loops)

	if o.adminListen != "" {
		ln, err := net.Listen("tcp", o.adminListen)
		if err != nil {
			return fmt.Errorf("--admin-listen %s: %w", o.adminListen, unwrapOp(err))
		}
		admin := srv.ServeAdmin(ln, o.pprof)
		defer admin.Close()
		log.Info().Str("addr", ln.Addr().String()).Str("metrics", "http://"+ln.Addr().String()+"/metrics").Msg("admin listening")
	}
	log.Info().Str("file", o.types.file).Int("from_file", o.types.fromFile).Int("skipped", o.types.skipped).
		Int("overrides", o.types.overrides).Msg("content types")

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	notify := newNotifier(log)
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	notify.send("READY=1\nSTATUS=serving " + strings.Join(srv.Addrs(), ", "))
	for {
		select {
		case err := <-done:
			srv.Summary(log, "stopped")
			return err
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				srv.Summary(log, "counters")
			case syscall.SIGHUP:
				reload(srv, o.Reopen != nil, log, notify)
			default:
				log.Info().Str("signal", sig.String()).Msg("shutting down")
				notify.send("STOPPING=1")
				srv.Shutdown()
			}
		}
	}
}

// reload is what SIGHUP (systemctl reload) does: reopen the access log, for
// log rotation. It logs the outcome, and tells the service manager it began
// and ended (RELOADING=1, then READY=1), so the reload is observable both in
// the journal and in `systemctl status`.
func reload(srv *server.Server, logFile bool, log zerolog.Logger, notify *notifier) {
	notify.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicMicros()))
	if !logFile {
		log.Info().Msg("reloaded: no access log file to reopen")
		notify.send("READY=1\nSTATUS=reloaded at " + time.Now().UTC().Format(time.RFC3339))
		return
	}
	if err := srv.Reopen(); err != nil {
		log.Error().Err(err).Msg("reload: reopening the access log")
		notify.send("READY=1\nSTATUS=reload failed: " + err.Error())
		return
	}
	log.Info().Msg("reloaded: access log reopened")
	notify.send("READY=1\nSTATUS=reloaded at " + time.Now().UTC().Format(time.RFC3339))
}

// accessLog opens the access log the flag names.
func accessLog(where string, cfg *server.Config) error {
	switch where {
	case "off", "":
		return nil
	case "-":
		cfg.AccessLog = os.Stdout
		return nil
	}
	open := func() (io.Writer, error) {
		return os.OpenFile(where, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	f, err := open()
	if err != nil {
		return fmt.Errorf("--access-log %s: %v", showValue(where), unwrapPath(err))
	}
	cfg.AccessLog = f
	cfg.Reopen = open
	return nil
}
