package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// logFlags are the logging flags every long-running command takes.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error", EnvVars: []string{"EPFS_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "json", Usage: "log format: json or console", EnvVars: []string{"EPFS_LOG_FORMAT"}},
	}
}

// newLogger builds the process logger from the logging flags. It is passed
// down explicitly; nothing uses zerolog's global logger.
func newLogger(c *cli.Context, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil || c.String("log-level") == "" {
		return zerolog.Nop(), fmt.Errorf("invalid value %q for flag --log-level: want debug, info, warn or error", c.String("log-level"))
	}
	switch c.String("log-format") {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Nop(), fmt.Errorf("invalid value %q for flag --log-format: want json or console", c.String("log-format"))
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// stderr is where logs go; a variable so that tests in this package can
// capture it.
var stderr io.Writer = os.Stderr
