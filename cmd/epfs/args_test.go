package main

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

// reorderCommandLine: flags first, then "--" and the positional arguments,
// a value kept with its flag, "--" honoured, a bool flag never eating the
// argument after it.
func TestReorderCommandLine(t *testing.T) {
	app := newApp()
	for _, tc := range []struct {
		in, out []string
		err     string
	}{
		{[]string{"epfs", "serve", "site", "--listen", ":9000"}, []string{"epfs", "serve", "--listen", ":9000", "--", "site"}, ""},
		{[]string{"epfs", "serve", "--autoindex", "site", "--loops=2"}, []string{"epfs", "serve", "--autoindex", "--loops=2", "--", "site"}, ""},
		// As in Go's flag package, a flag that takes a value takes the next
		// argument, even "--" (and --listen then refuses it as an address).
		{[]string{"epfs", "serve", "--listen", "--", "site"}, []string{"epfs", "serve", "--listen", "--", "--", "site"}, ""},
		{[]string{"epfs", "serve", "--", "-site", "--loops", "2"}, []string{"epfs", "serve", "--", "-site", "--loops", "2"}, ""},
		{[]string{"epfs", "serve", "--bogus", "site"}, []string{"epfs", "serve", "--bogus", "--", "site"}, ""},
		{[]string{"epfs", "serve", "--listen", ":1"}, []string{"epfs", "serve", "--listen", ":1"}, ""},
		{[]string{"epfs", "--version"}, []string{"epfs", "--version"}, ""},
		{[]string{"epfs", "help", "serve"}, []string{"epfs", "help", "serve"}, ""},
		{[]string{"epfs", "echo", "x", "--loops", "1"}, []string{"epfs", "echo", "--loops", "1", "--", "x"}, ""},
		{[]string{"epfs", "serve", "site", "--root", "other"}, nil, "site and --root both given: give the root once, as the argument or with --root"},
		{[]string{"epfs", "serve", "--root=other", "site"}, nil, "site and --root both given: give the root once, as the argument or with --root"},
	} {
		out, err := reorderCommandLine(app, tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(out, tc.out) {
			t.Errorf("%q: %q, %v; want %q", tc.in, out, err, tc.out)
		}
	}
}

// A repeatable flag keeps a value's commas (a header value has them); the
// lists that may be comma-separated (--listen) split where they are read.
func TestSliceFlagsKeepCommas(t *testing.T) {
	app := newApp()
	var got []string
	app.Commands = append(app.Commands, &cli.Command{
		Name:   "probe",
		Flags:  []cli.Flag{&cli.StringSliceFlag{Name: "header", EnvVars: []string{"EPFS_TEST_HEADER"}}},
		Action: func(c *cli.Context) error { got = c.StringSlice("header"); return nil },
	})
	if err := app.Run([]string{"epfs", "probe", "--header", "Cache-Control: public, max-age=60", "--header", "X: a,b"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Cache-Control: public, max-age=60", "X: a,b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("--header values %q, want %q", got, want)
	}
	t.Setenv("EPFS_TEST_HEADER", "Vary: Accept, Accept-Encoding")
	if err := app.Run([]string{"epfs", "probe"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Vary: Accept, Accept-Encoding"}; !reflect.DeepEqual(got, want) {
		t.Errorf("EPFS_TEST_HEADER gave %q, want %q", got, want)
	}
}
