package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/epfs/epfs/poller/echo"
	"github.com/epfs/epfs/poller/syscount"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// echoConfig is the validated configuration of `epfs echo`.
type echoConfig struct {
	listen string
	loops  int
	engine string // "poller" or "net"
}

func echoCommand() *cli.Command {
	return &cli.Command{
		Name:  "echo",
		Usage: "run the poller's echo server (a demo and a benchmark target for the event loop)",
		Description: "Echoes every byte back on each connection. With --engine poller it runs on epfs's\n" +
			"edge-triggered loops; with --engine net it runs a goroutine per connection on Go's\n" +
			"net package, the baseline the poller is measured against.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address: host:port, [::]:port or unix:/path", EnvVars: []string{"EPFS_LISTEN"}},
			&cli.IntFlag{Name: "loops", Value: 1, Usage: "event loops (poller engine)", EnvVars: []string{"EPFS_LOOPS"}},
			&cli.StringFlag{Name: "engine", Value: "poller", Usage: "poller or net", EnvVars: []string{"EPFS_ENGINE"}},
		}, logFlags()...),
		Action:       func(c *cli.Context) error { return forCommand(c, runEcho(c)) },
		OnUsageError: usageError,
	}
}

func runEcho(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	cfg := echoConfig{listen: c.String("listen"), loops: c.Int("loops"), engine: c.String("engine")}
	if cfg.loops < 1 || cfg.loops > 1024 {
		return badValue("--loops", fmt.Sprint(cfg.loops), "want 1 to 1024")
	}
	if err := checkListen("--listen", cfg.listen); err != nil {
		return err
	}
	if cfg.engine != "poller" && cfg.engine != "net" {
		return badValue("--engine", cfg.engine, "want poller or net")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if cfg.engine == "net" {
		return echoNet(cfg, log, sigs)
	}
	return echoPoller(cfg, log, sigs)
}

func echoPoller(cfg echoConfig, log zerolog.Logger, sigs <-chan os.Signal) error {
	s, err := echo.Start(echo.Config{Addr: cfg.listen, Loops: cfg.loops})
	if err != nil {
		return err
	}
	log.Info().Str("engine", "poller").Str("addr", s.Addr()).Int("loops", cfg.loops).Msg("echo listening")
	sig := <-sigs
	snap := s.Counters()
	err = s.Close()
	log.Info().Str("signal", sig.String()).
		Uint64("accepted", snap.Events[syscount.Accepted]).
		Uint64("bytes", snap.Events[syscount.BytesWritten]).
		Uint64("epoll_wait", snap.Total(syscount.EpollWait)).
		Uint64("read", snap.Total(syscount.Read)).
		Uint64("write", snap.Total(syscount.Write)).
		Msg("echo stopped")
	return err
}

// echoNet is the baseline: one goroutine per connection on Go's net
// package, which parks goroutines in the runtime's own netpoller.
func echoNet(cfg echoConfig, log zerolog.Logger, sigs <-chan os.Signal) error {
	network, addr := "tcp", cfg.listen
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	log.Info().Str("engine", "net").Str("addr", ln.Addr().String()).Msg("echo listening")
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					log.Error().Err(err).Msg("accept")
				}
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	sig := <-sigs
	ln.Close()
	mu.Lock()
	for c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	log.Info().Str("signal", sig.String()).Msg("echo stopped")
	return nil
}
