// Command epfs is a Linux HTTP/1.1 static-file server built on an
// edge-triggered epoll loop and nonblocking sendfile.
//
// Package main is wiring only: flags become one config struct, validated
// once; the work happens in the packages it composes.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); builds
// without it report the module version or "devel".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func main() {
	os.Exit(run(os.Args))
}

// run executes the command line and returns the exit code. Every error ends
// as one line on stderr, never a stack trace.
func run(args []string) int {
	notFound := false
	app := &cli.App{
		Name:                 "epfs",
		Usage:                "a fast, safe static-file server for Linux (epoll + sendfile)",
		Version:              versionString(),
		HideVersion:          true,
		EnableBashCompletion: false,
		Commands: []*cli.Command{
			serveCommand(),
			echoCommand(),
			{
				Name:  "version",
				Usage: "print the version and exit",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "epfs %s\n", versionString())
					return nil
				},
			},
		},
		OnUsageError: usageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(c.App.ErrWriter, "epfs: unknown command %q (see 'epfs --help')\n", name)
			notFound = true
		},
		ExitErrHandler: func(*cli.Context, error) {
			// Exit codes are decided in run, not inside the library.
		},
	}
	err := app.Run(args)
	if notFound {
		return 2
	}
	if err == nil {
		return 0
	}
	var ue usageErr
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "epfs: %v (see 'epfs %s --help')\n", ue.err, ue.cmd)
		return 2
	}
	fmt.Fprintf(os.Stderr, "epfs: %v\n", err)
	return 1
}

// usageErr marks an error in the command line itself (an unknown flag, a
// value that does not parse), which exits 2 as is customary.
type usageErr struct {
	cmd string
	err error
}

func (u usageErr) Error() string { return u.err.Error() }

func usageError(c *cli.Context, err error, _ bool) error {
	name := "help"
	if c != nil && c.Command != nil && c.Command.Name != "" {
		name = c.Command.Name
	}
	return usageErr{cmd: name, err: err}
}
