package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// reorder puts a command's flags before its positional arguments, so that
// `epfs serve site --listen :9000` means what `epfs serve --listen :9000
// site` means. urfave/cli v2 hands the arguments to Go's flag package, which
// stops at the first one that is not a flag and leaves the rest as
// positional arguments, flags included (urfave/cli#976): without this, the
// later flags would be dropped without a word.
//
// args are the arguments after the command's name. A flag that takes a
// value keeps the next argument as its value ("--listen :9000"), unless it
// is written "--listen=:9000". "--" ends the flags: everything after it is
// positional, even when it starts with "-". The result has the flags, then
// An unknown flag stays among the flags, for the parser to report.
func reorder(flags []cli.Flag, args []string) (opts, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		opts = append(opts, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if hasValue {
			continue
		}
		if takesValue(flags, name) && i+1 < len(args) {
			i++
			opts = append(opts, args[i])
		}
	}
	return opts, pos
}

// takesValue reports whether the named flag is followed by a value: every
// flag but a boolean one (which takes "--flag=false" when it needs one).
func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if !hasName(f, name) {
			continue
		}
		if v, ok := f.(cli.DocGenerationFlag); ok {
			return v.TakesValue()
		}
		return false
	}
	return false
}

// positionalFlag names, for a command whose argument may stand for one of
// its flags, that flag: `epfs serve DIR` is `epfs serve --root DIR`.
var positionalFlag = map[string]string{"serve": "root"}

// reorderCommandLine applies reorder to the arguments of the command that
// args (os.Args) name, if any, and writes them back as the flags, then "--"
// and the positional arguments, which the flag package reads the same way.
// epfs's own flags (--help, --version) come before the command's name. The
// argument and the flag it stands for, given both at once, are an error:
// neither may be dropped silently.
func reorderCommandLine(app *cli.App, args []string) ([]string, error) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return args, nil
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		cmd := app.Command(a)
		if cmd == nil || cmd.Name == "help" {
			return args, nil
		}
		opts, pos := reorder(cmd.Flags, args[i+1:])
		if f := positionalFlag[cmd.Name]; f != "" && len(pos) > 0 {
			for _, o := range opts {
				if name, _, _ := strings.Cut(strings.TrimLeft(o, "-"), "="); name == f && strings.HasPrefix(o, "-") {
					return nil, usageErr{cmd: cmd.Name, msg: fmt.Sprintf("%s and --%s %s: give the %s once, as the argument or with --%s", showValue(pos[0]), f, "both given", f, f)}
				}
			}
		}
		out := append(append([]string(nil), args[:i+1]...), opts...)
		if len(pos) > 0 {
			out = append(append(out, "--"), pos...)
		}
		return out, nil
	}
	return args, nil
}

// noArgs is the Action guard of a command that takes no positional
// argument: a stray one is an error, never ignored.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr{cmd: c.Command.Name, msg: showValue(c.Args().First()) + ": unexpected argument (epfs " + c.Command.Name + " takes flags only)"}
	}
	return nil
}
