package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/epfs/epfs/fsindex"
	"github.com/urfave/cli/v2"
)

// defaultMimeTypesFile is read at start-up when it exists: the system's
// table (mime.types(5)) names the extensions epfs's own table does not.
const defaultMimeTypesFile = "/etc/mime.types"

// typeTable is the Content-Type table of `epfs serve` and where it came
// from, for the start-up line.
type typeTable struct {
	types     map[string]string
	file      string // the system table read ("" for none)
	fromFile  int    // extensions the file gave that the built-in table lacks
	skipped   int    // lines or names of the file not taken (not a type, not an extension)
	overrides int    // --mime-type settings
}

// contentTypes builds the table from --mime-types-file and --mime-type.
// The default file may be missing (a minimal image has none); a file named
// by the operator must exist.
func contentTypes(c *cli.Context) (typeTable, error) {
	var tt typeTable
	overrides, err := mimeOverrides(c.StringSlice("mime-type"))
	if err != nil {
		return tt, err
	}
	tt.overrides = len(overrides)
	var system map[string]string
	if path := c.String("mime-types-file"); path != "" {
		f, err := os.Open(path)
		switch {
		case os.IsNotExist(err) && !c.IsSet("mime-types-file"):
		case err != nil:
			return tt, fmt.Errorf("--mime-types-file %s: %v", showValue(path), unwrapPath(err))
		default:
			defer f.Close()
			if system, tt.skipped, err = fsindex.ParseMimeTypes(f); err != nil {
				return tt, fmt.Errorf("--mime-types-file %s: %v", showValue(path), unwrapPath(err))
			}
			tt.file = path
		}
	}
	tt.types = fsindex.ContentTypes(system, overrides)
	// What the file added: the table's extensions beyond the built-in
	// ones and the overrides.
	tt.fromFile = len(tt.types) - len(fsindex.ContentTypes(nil, overrides))
	return tt, nil
}

// mimeOverrides parses --mime-type values: EXT=TYPE, repeatable or
// comma-separated (no media type in use holds a comma).
func mimeOverrides(values []string) (map[string]string, error) {
	const want = "want EXT=TYPE, such as vtt=text/vtt"
	m := map[string]string{}
	for _, v := range values {
		for _, kv := range strings.Split(v, ",") {
			e, typ, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, badValue("--mime-type", kv, want)
			}
			ext, err := fsindex.CheckExtension(strings.TrimSpace(e))
			if err != nil {
				return nil, badValue("--mime-type", kv, want+" ("+err.Error()+")")
			}
			typ = strings.TrimSpace(typ)
			if err := fsindex.CheckType(typ); err != nil {
				return nil, badValue("--mime-type", kv, want+" ("+err.Error()+")")
			}
			if prev, dup := m[ext]; dup && prev != typ {
				return nil, badValue("--mime-type", kv, fmt.Sprintf("want one type per extension, and %s already has %s", ext, showValue(prev)))
			}
			m[ext] = typ
		}
	}
	return m, nil
}
