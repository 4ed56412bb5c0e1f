// Command epfs is a Linux HTTP/1.1 static-file server built on an
// edge-triggered epoll loop and nonblocking sendfile.
//
// Package main is wiring only: flags become one config struct, validated
// once; the work happens in the packages it composes.
//
// Exit status: 0 on success, 2 for a mistake in the command line (an
// unknown flag, a bad value, a stray argument), 1 for a failure at run
// time (a missing root, a port in use). Every error is one line on stderr.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at link time by `make build` and `make release`
// (-ldflags "-X main.version=$(git describe)"); builds without it fall
// back to what the Go toolchain recorded (see versionString).
var version = ""

// versionString is the stamped version or, for `go install` and plain `go
// build`, the module version, else the VCS revision Go stamped (absent
// with -buildvcs=false, as from a source tarball), else "devel".
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev != "" {
		return "devel-" + rev + dirty
	}
	return "devel"
}

func main() {
	os.Exit(run(os.Args))
}

// newApp is the command tree; the completion scripts and the man page are
// generated from it, so they cannot drift from the flags.
func newApp() *cli.App {
	return &cli.App{
		Name:    "epfs",
		Usage:   "a fast, safe static-file server for Linux (epoll + sendfile)",
		Version: versionString(),
		Commands: []*cli.Command{
			serveCommand(),
			echoCommand(),
			{
				Name:  "version",
				Usage: "print the version and exit",
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return printVersion(c)
				},
			},
			completionCommand(),
			manCommand(),
		},
		// A header-like value keeps its commas; flags that take lists
		// split them where they are read (see serveConfig).
		DisableSliceFlagSeparator: true,
		OnUsageError:              usageError,
		ExitErrHandler: func(*cli.Context, error) {
			// Exit codes are decided in run, not inside the library.
		},
	}
}

// run executes the command line and returns the exit code. Every error ends
// as one line on stderr, never a stack trace.
func run(args []string) int {
	app := newApp()
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
	cli.VersionPrinter = func(c *cli.Context) { printVersion(c) }
	var err error
	app.CommandNotFound = func(c *cli.Context, name string) {
		err = usageErr{msg: showValue(name) + ": unknown command"}
	}
	if args, err = reorderCommandLine(app, args); err == nil {
		if rerr := app.Run(args); rerr != nil {
			err = rerr
		}
	}
	return exitCode(err, func(line string) { fmt.Fprintln(os.Stderr, line) })
}

func printVersion(c *cli.Context) error {
	_, err := fmt.Fprintf(c.App.Writer, "epfs %s\n", versionString())
	return err
}
