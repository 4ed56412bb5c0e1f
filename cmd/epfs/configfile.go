package main

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// configFlag is --config: a TOML file whose keys are flag names and whose
// values are what the flag would take ("10s" for a duration, a list for a
// repeatable flag).
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Usage: "TOML file setting any flag by its name (flag > environment > file > default)", EnvVars: []string{"EPFS_CONFIG"}, TakesFile: true}
}

// fileable wraps each flag so that altsrc can fill it from the --config
// file when neither the command line nor the environment set it.
func fileable(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			out[i] = altsrc.NewStringFlag(f)
		case *cli.StringSliceFlag:
			out[i] = altsrc.NewStringSliceFlag(f)
		case *cli.IntFlag:
			out[i] = altsrc.NewIntFlag(f)
		case *cli.BoolFlag:
			out[i] = altsrc.NewBoolFlag(f)
		case *cli.DurationFlag:
			out[i] = altsrc.NewDurationFlag(f)
		default:
			out[i] = f // not settable from the file, and so refused there
		}
	}
	return out
}

// loadConfigFile is the Before of a command with --config: it reads the
// file, refuses keys that name no flag (a misspelt setting must not be
// ignored), and applies each value to the flags the command line and the
// environment left unset.
func loadConfigFile(flags []cli.Flag) cli.BeforeFunc {
	return func(c *cli.Context) error {
		if !c.IsSet("config") {
			return nil
		}
		path := c.String("config")
		var keys map[string]any
		if _, err := toml.DecodeFile(path, &keys); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return forCommand(c, fmt.Errorf("--config %s: %v", showValue(path), pe.Err))
			}
			return forCommand(c, badValue("--config", path, "want a TOML file: "+oneLine(err.Error())))
		}
		known := map[string]bool{}
		for _, f := range flags {
			if _, ok := f.(altsrc.FlagInputSourceExtension); !ok {
				continue
			}
			for _, n := range f.Names() {
				known[n] = true
			}
		}
		var unknown []string
		for k := range keys {
			if !known[k] {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return forCommand(c, badValue("--config", path, fmt.Sprintf("unknown setting %q: want the name of a flag of epfs %s", unknown[0], c.Command.Name)))
		}
		src := altsrc.NewMapInputSource(path, fileValues(keys))
		if err := altsrc.ApplyInputSourceValues(c, src, flags); err != nil {
			return forCommand(c, badValue("--config", path, typeMismatch(err)))
		}
		return nil
	}
}

// onceScalar are the repeatable flags that once took one value: in the file
// their old form, a lone string ("cache-control = 'no-cache'"), still means
// what it meant, a list of one. Every other list flag wants a list.
var onceScalar = map[string]bool{"cache-control": true}

// fileValues turns the decoded file into what altsrc reads: integers as
// int (as altsrc's own TOML loader does), and a onceScalar string as a
// list of one.
func fileValues(keys map[string]any) map[any]any {
	m := make(map[any]any, len(keys))
	for k, v := range keys {
		switch x := v.(type) {
		case int64:
			m[k] = int(x)
		case string:
			if onceScalar[k] {
				m[k] = []any{x}
				continue
			}
			m[k] = x
		default:
			m[k] = v
		}
	}
	return m
}

// altsrc's message for a value of the wrong type, and what each of its type
// names means in a TOML file.
var (
	mismatch  = regexp.MustCompile(`^Mismatched type for flag '(.*)'\. Expected '(.*)' but actual is '(.*)'$`)
	tomlTypes = map[string]string{
		"[]interface{}": "a list of strings, such as [\":8080\"]",
		"int":           "a number",
		"bool":          "true or false",
		"duration":      "a duration in quotes, such as \"10s\"",
		"string":        "a string in quotes",
	}
)

// typeMismatch rewords a value of the wrong type in the file.
func typeMismatch(err error) string {
	m := mismatch.FindStringSubmatch(err.Error())
	if m == nil {
		return oneLine(err.Error())
	}
	want := tomlTypes[m[2]]
	if want == "" {
		want = m[2]
	}
	return fmt.Sprintf("setting %q: want %s", m[1], want)
}

// oneLine folds a library's multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// forCommand names the command in a usage error's hint.
func forCommand(c *cli.Context, err error) error {
	var ue usageErr
	if errors.As(err, &ue) && ue.cmd == "" {
		ue.cmd = c.Command.Name
		return ue
	}
	return err
}
