package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/epfs/epfs/cmd/epfs/internal/server"
	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a directory over HTTP/1.1",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "root", Value: ".", Usage: "directory to serve", EnvVars: []string{"EPFS_ROOT"}},
			&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice(":8080"), Usage: "address to listen on, repeatable: host:port, [::]:port or unix:/path", EnvVars: []string{"EPFS_LISTEN"}},
			&cli.IntFlag{Name: "loops", Value: 0, DefaultText: "CPU count", Usage: "event loops, one goroutine locked to a thread each", EnvVars: []string{"EPFS_LOOPS"}},
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
			&cli.StringFlag{Name: "cache-control", Usage: "Cache-Control value for file responses (empty: none)", EnvVars: []string{"EPFS_CACHE_CONTROL"}},
			&cli.StringFlag{Name: "fallback", Usage: "URL path served with 200 for paths that do not exist (single-page apps)", EnvVars: []string{"EPFS_FALLBACK"}},
			&cli.StringFlag{Name: "server-header", Value: "epfs", Usage: "Server field value (empty: none)", EnvVars: []string{"EPFS_SERVER_HEADER"}},
			&cli.StringFlag{Name: "transmit", Value: "sendfile", Usage: "body strategy: sendfile, splice or copy", EnvVars: []string{"EPFS_TRANSMIT"}},
			&cli.IntFlag{Name: "io-threads", Value: server.DefaultIOThreads, Usage: "threads that read cold file ranges into the page cache off the loops; 0 turns them off (a cold read then blocks its loop)", EnvVars: []string{"EPFS_IO_THREADS"}},
			&cli.StringFlag{Name: "access-log", Value: "-", Usage: "access log: a file path, - for standard output, or off", EnvVars: []string{"EPFS_ACCESS_LOG"}},
			&cli.StringFlag{Name: "admin-listen", Usage: "address of the admin listener serving /metrics (off when empty)", EnvVars: []string{"EPFS_ADMIN_LISTEN"}},
			&cli.DurationFlag{Name: "admin-idle-timeout", Value: server.DefaultAdminIdleTimeout, Usage: "close an admin connection with no request for this long", EnvVars: []string{"EPFS_ADMIN_IDLE_TIMEOUT"}},
			&cli.IntFlag{Name: "admin-max-conns", Value: server.DefaultAdminMaxConns, Usage: "admin connections open at most; one more is closed at once", EnvVars: []string{"EPFS_ADMIN_MAX_CONNS"}},
			&cli.BoolFlag{Name: "pprof", Usage: "also serve /debug/pprof/ on the admin listener", EnvVars: []string{"EPFS_PPROF"}},
			&cli.BoolFlag{Name: "trace", Usage: "log every system call of the serving path (slow: for study, not production)", EnvVars: []string{"EPFS_TRACE"}},
		}, logFlags()...),
		Action:       runServe,
		OnUsageError: usageError,
	}
}

func runServe(c *cli.Context) error {
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	cfg := server.Config{
		Root:             c.String("root"),
		Listen:           c.StringSlice("listen"),
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
		CacheControl:     c.String("cache-control"),
		Fallback:         c.String("fallback"),
		ServerHeader:     c.String("server-header"),
		Transmit:         c.String("transmit"),
		IOThreads:        c.Int("io-threads"),
		AdminIdleTimeout: c.Duration("admin-idle-timeout"),
		AdminMaxConns:    c.Int("admin-max-conns"),
		Log:              log,
		Trace:            c.Bool("trace"),
	}
	if c.Bool("pprof") && c.String("admin-listen") == "" {
		return fmt.Errorf("flag --pprof needs --admin-listen")
	}
	if c.IsSet("loops") && cfg.Loops == 0 {
		return fmt.Errorf("invalid value 0 for flag --loops: want 1 to 1024")
	}
	for _, flag := range []string{"header-timeout", "idle-timeout", "write-timeout", "shutdown-timeout", "max-conns", "max-header-bytes", "admin-idle-timeout", "admin-max-conns"} {
		if c.IsSet(flag) && isZero(c, flag) {
			return fmt.Errorf("invalid value 0 for flag --%s: want a positive value", flag)
		}
	}
	switch n := cfg.IOThreads; {
	case n < 0:
		return fmt.Errorf("invalid value %d for flag --io-threads: want 0 to 64", n)
	case n == 0:
		cfg.IOThreads = -1 // server.Config: negative is off, zero the default
	}
	switch c.String("dotfiles") {
	case "allow":
		cfg.AllowDotfiles = true
	case "deny":
	default:
		return fmt.Errorf("invalid value %q for flag --dotfiles: want allow or deny", c.String("dotfiles"))
	}
	if err := accessLog(c.String("access-log"), &cfg); err != nil {
		return err
	}
	// A service manager may hand the listening sockets in (socket
	// activation); then --listen is ignored.
	inherited, names, err := server.Activation()
	if err != nil {
		return err
	}
	if len(inherited) > 0 {
		cfg.Inherited, cfg.InheritedNames = inherited, names
		if c.IsSet("listen") {
			log.Warn().Strs("listen", cfg.Listen).Msg("socket activation: --listen ignored")
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}

	if addr := c.String("admin-listen"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("invalid value %q for flag --admin-listen: %w", addr, err)
		}
		admin := srv.ServeAdmin(ln, c.Bool("pprof"))
		defer admin.Close()
		log.Info().Str("addr", ln.Addr().String()).Str("metrics", "http://"+ln.Addr().String()+"/metrics").Msg("admin listening")
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	for {
		select {
		case err := <-done:
			srv.Summary(log, "stopped")
			return err
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				srv.Summary(log, "counters")
				continue
			}
			if sig == syscall.SIGHUP {
				if err := srv.Reopen(); err != nil {
					log.Error().Err(err).Msg("reopening the access log")
				} else {
					log.Info().Msg("access log reopened")
				}
				continue
			}
			log.Info().Str("signal", sig.String()).Msg("shutting down")
			srv.Shutdown()
		}
	}
}

// isZero reports whether a numeric or duration flag was set to zero, which
// Config would otherwise read as "use the default".
func isZero(c *cli.Context, flag string) bool {
	switch flag {
	case "max-conns", "max-header-bytes", "admin-max-conns":
		return c.Int(flag) == 0
	}
	return c.Duration(flag) == 0
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
		return fmt.Errorf("invalid value %q for flag --access-log: %w", where, err)
	}
	cfg.AccessLog = f
	cfg.Reopen = open
	return nil
}
