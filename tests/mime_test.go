package tests

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The Content-Type table as an operator meets it: the built-in types a
// player or feed reader needs, a system table (mime.types(5)) filling in
// what the built-in table lacks but never overriding it, --mime-type over
// both, and an empty --mime-types-file turning the system table off.
func TestServeContentTypes(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"en.vtt", "live.m3u8", "stream.mpd", "feed.rss", "feed.atom", "src.tar", "page.html", "a.sysonly", "b.md", "c.unknown", "D.SYSONLY"} {
		if err := os.WriteFile(filepath.Join(f.root, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	types := filepath.Join(t.TempDir(), "mime.types")
	const table = "# a system table\napplication/x-sysonly sysonly\ntext/x-system-html html htm\ntext/x-system-md md\nnot-a-type broken\n"
	if err := os.WriteFile(types, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, base string, want map[string]string) {
		t.Helper()
		for path, typ := range want {
			code, _, h := get(t, base, path)
			if code != 200 || h.Get("Content-Type") != typ {
				t.Errorf("GET %s: %d, Content-Type %q; want 200 and %q", path, code, h.Get("Content-Type"), typ)
			}
		}
	}

	t.Run("file and overrides", func(t *testing.T) {
		p, base := serve(t, f, "--mime-types-file", types, "--mime-type", "md=text/plain; charset=utf-8", "--mime-type", "tar=application/x-override,.Unknown=image/x-dotted")
		check(t, base, map[string]string{
			"/en.vtt":     "text/vtt; charset=utf-8",
			"/live.m3u8":  "application/vnd.apple.mpegurl",
			"/stream.mpd": "application/dash+xml",
			"/feed.rss":   "application/rss+xml",
			"/feed.atom":  "application/atom+xml",
			"/page.html":  "text/html; charset=utf-8", // the built-in table wins over the file
			"/a.sysonly":  "application/x-sysonly",    // the file fills in
			"/D.SYSONLY":  "application/x-sysonly",    // extensions compare without case
			"/b.md":       "text/plain; charset=utf-8",
			"/src.tar":    "application/x-override",
			"/c.unknown":  "image/x-dotted",
		})
		// The start-up line says what the table holds: one extension
		// from the file that the built-in table lacks, one line skipped.
		line := logLine(p, "content types")
		if line["file"] != types || line["from_file"] != 1.0 || line["skipped"] != 1.0 || line["overrides"] != 3.0 {
			t.Errorf("start-up line %v: want file %s, from_file 1, skipped 1, overrides 3", line, types)
		}
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit %d", code)
		}
	})

	t.Run("no system table", func(t *testing.T) {
		p, base := serve(t, f, "--mime-types-file", "")
		check(t, base, map[string]string{
			"/a.sysonly": "application/octet-stream",
			"/src.tar":   "application/x-tar",
			"/b.md":      "text/markdown; charset=utf-8",
		})
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit %d", code)
		}
	})
}
