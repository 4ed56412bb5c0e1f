package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// usageErr is a mistake in the command line itself: an unknown flag, a value
// that does not parse or is out of range, a stray argument. It exits 2, as
// is customary; every other error is a run-time failure and exits 1.
type usageErr struct {
	cmd string // the command whose help the hint names ("" for epfs itself)
	msg string // one line: the flag, the value, what is expected
}

func (u usageErr) Error() string { return u.msg }

// badValue is the one way a wrong value is reported: the flag as written,
// the value (quoted only when it would otherwise be invisible or ambiguous),
// and what is expected.
func badValue(flag, value, want string) error {
	return usageErr{msg: fmt.Sprintf("%s %s: %s", flag, showValue(value), want)}
}

// showValue writes a value the way a shell user would have typed it.
func showValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"'\\$`") || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fmt.Sprintf("%q", v)
	}
	return v
}

// The errors urfave/cli passes on from Go's flag package, reworded into the
// house style by usageError.
var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	needsArgument = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	badFlagValue  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for flag -+([^:]*): `)
	badEnvValue   = regexp.MustCompile(`^could not parse "(.*)" as .* from env(?:ironment)? var(?:iable)? "(.*)" for flag ([^:]*): `)
)

// usageError is every command's OnUsageError: it rewrites the parser's
// message as one line in the house style and marks it as a usage error.
func usageError(c *cli.Context, err error, _ bool) error {
	cmd := ""
	var flags []cli.Flag
	if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		cmd, flags = c.Command.Name, c.Command.Flags
	} else if c != nil {
		flags = c.App.Flags
	}
	return usageErr{cmd: cmd, msg: reword(err.Error(), flags)}
}

// reword turns a flag-package message into "--flag value: want …".
func reword(msg string, flags []cli.Flag) string {
	if m := undefinedFlag.FindStringSubmatch(msg); m != nil {
		return "--" + m[1] + ": unknown flag"
	}
	if m := needsArgument.FindStringSubmatch(msg); m != nil {
		return "--" + m[1] + ": needs a value (" + expected(m[1], flags) + ")"
	}
	if m := badFlagValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s %s: %s", m[2], showValue(m[1]), expected(m[2], flags))
	}
	if m := badEnvValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s=%s (--%s): %s", m[2], showValue(m[1]), m[3], expected(m[3], flags))
	}
	return msg
}

// expected says what a flag of this type accepts.
func expected(name string, flags []cli.Flag) string {
	for _, f := range flags {
		if !hasName(f, name) {
			continue
		}
		switch f.(type) {
		case *cli.IntFlag, *altsrc.IntFlag:
			return "want a whole number"
		case *cli.DurationFlag, *altsrc.DurationFlag:
			return "want a duration such as 500ms, 10s or 1m30s"
		case *cli.BoolFlag, *altsrc.BoolFlag:
			return "want true or false (or no value)"
		}
		return "want a value"
	}
	return "want a value"
}

func hasName(f cli.Flag, name string) bool {
	for _, n := range f.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// exitCode prints err as one line and returns the process's exit status.
func exitCode(err error, errOut func(string)) int {
	if err == nil {
		return 0
	}
	var ue usageErr
	if errors.As(err, &ue) {
		hint := "epfs --help"
		if ue.cmd != "" {
			hint = "epfs " + ue.cmd + " --help"
		}
		errOut(fmt.Sprintf("epfs: %s (see '%s')", ue.msg, hint))
		return 2
	}
	errOut("epfs: " + err.Error())
	return 1
}
