package main

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// logFlags are the logging flags every long-running command takes.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn or error", EnvVars: []string{"EPFS_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "json", Usage: "log format: json, or console (coloured only on a terminal and without NO_COLOR)", EnvVars: []string{"EPFS_LOG_FORMAT"}},
	}
}

// newLogger builds the process logger from the logging flags. It is passed
// down explicitly; nothing uses zerolog's global logger. Durations are
// logged in milliseconds, in fields whose names say so (dur_ms).
func newLogger(c *cli.Context, w io.Writer) (zerolog.Logger, error) {
	var level zerolog.Level
	switch v := c.String("log-level"); v {
	case "debug", "info", "warn", "error":
		level, _ = zerolog.ParseLevel(v)
	default:
		return zerolog.Nop(), badValue("--log-level", v, "want debug, info, warn or error")
	}
	switch v := c.String("log-format"); v {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !colour(w)}
	default:
		return zerolog.Nop(), badValue("--log-format", v, "want json or console")
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Millisecond
	zerolog.DurationFieldInteger = false
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// colour reports whether console logs to w may carry ANSI colour codes:
// only when w is a terminal (never a file, a pipe or the journal), and
// never when NO_COLOR is set to anything but the empty string
// (https://no-color.org).
func colour(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// stderr is where logs go; a variable so that tests in this package can
// capture it.
var stderr io.Writer = os.Stderr
