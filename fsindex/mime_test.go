package fsindex

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"index.html":         "text/html; charset=utf-8",
		"a/b/style.CSS":      "text/css; charset=utf-8",
		"app.js":             "text/javascript; charset=utf-8",
		"mod.mjs":            "text/javascript; charset=utf-8",
		"data.json":          "application/json",
		"app.js.map":         "application/json",
		"logo.svg":           "image/svg+xml",
		"a.png":              "image/png",
		"a.JPG":              "image/jpeg",
		"a.jpeg":             "image/jpeg",
		"a.gif":              "image/gif",
		"a.webp":             "image/webp",
		"a.avif":             "image/avif",
		"favicon.ico":        "image/vnd.microsoft.icon",
		"f.woff":             "font/woff",
		"f.woff2":            "font/woff2",
		"f.ttf":              "font/ttf",
		"m.wasm":             "application/wasm",
		"README.txt":         "text/plain; charset=utf-8",
		"README.md":          "text/markdown; charset=utf-8",
		"t.csv":              "text/csv; charset=utf-8",
		"feed.xml":           "text/xml; charset=utf-8",
		"doc.pdf":            "application/pdf",
		"a.zip":              "application/zip",
		"a.tar.gz":           "application/gzip",
		"s.mp3":              "audio/mpeg",
		"v.mp4":              "video/mp4",
		"v.webm":             "video/webm",
		"a.ogg":              "audio/ogg",
		"Makefile":           "application/octet-stream",
		"noext.":             "application/octet-stream",
		"dir.d/file":         "application/octet-stream", // the dot is in a directory name
		"x.unknownextension": "application/octet-stream",
		".html":              "text/html; charset=utf-8",
		// The types a player or feed reader refuses as octet-stream.
		"subs/en.vtt":     "text/vtt; charset=utf-8",
		"live/index.m3u8": "application/vnd.apple.mpegurl",
		"seg-001.ts":      "video/mp2t",
		"dash/stream.mpd": "application/dash+xml",
		"seg-1.m4s":       "video/iso.segment",
		"feed.rss":        "application/rss+xml",
		"feed.atom":       "application/atom+xml",
		"src.tar":         "application/x-tar",
		"a.tar.zst":       "application/zstd",
		"cal.ICS":         "text/calendar; charset=utf-8",
		"conf.yaml":       "application/yaml",
		"m.glb":           "model/gltf-binary",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestContentTypeTable: every built-in entry is what CheckType and
// CheckExtension accept, so the built-in table obeys the rules a system
// table and an override are held to; textual types name their charset.
func TestContentTypeTable(t *testing.T) {
	for ext, typ := range contentTypes {
		if got, err := CheckExtension(ext); err != nil || got != ext {
			t.Errorf("built-in extension %q: %q %v", ext, got, err)
		}
		if err := CheckType(typ); err != nil {
			t.Errorf("built-in type %s=%q: %v", ext, typ, err)
		}
		if strings.HasPrefix(typ, "text/") && !strings.HasSuffix(typ, "; charset=utf-8") {
			t.Errorf("built-in type %s=%q: a text type names its charset", ext, typ)
		}
	}
}

func TestParseMimeTypes(t *testing.T) {
	const file = `# mime.types(5): a type, then its extensions
text/plain			txt asc text
application/x-thing		thing THING2
application/x-first		dup
application/x-second	dup
application/x-none
not-a-type			bad
image/x-ok			.dotted ok/no
  # an indented comment
video/x-tail		tail # a trailing comment
`
	got, skipped, err := ParseMimeTypes(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"txt": "text/plain", "asc": "text/plain", "text": "text/plain",
		"thing": "application/x-thing", "thing2": "application/x-thing",
		"dup":    "application/x-first", // the first line to name it keeps it
		"dotted": "image/x-ok",
		"tail":   "video/x-tail",
	}
	if !maps.Equal(got, want) {
		t.Errorf("ParseMimeTypes:\n got %v\nwant %v", got, want)
	}
	if skipped != 2 { // the line of not-a-type, and "ok/no"
		t.Errorf("skipped %d, want 2", skipped)
	}
}

// TestContentTypesPrecedence: the built-in table wins over the system's,
// an override over both, and the system's fills in what the built-in table
// does not know.
func TestContentTypesPrecedence(t *testing.T) {
	system := map[string]string{"html": "text/x-system-html", "vtt": "text/x-system-vtt", "thing": "application/x-thing"}
	overrides := map[string]string{"vtt": "text/vtt", "md": "text/plain; charset=utf-8"}
	table := ContentTypes(system, overrides)
	for name, want := range map[string]string{
		"a.html":  "text/html; charset=utf-8",
		"a.vtt":   "text/vtt",
		"a.md":    "text/plain; charset=utf-8",
		"a.THING": "application/x-thing",
		"a.css":   "text/css; charset=utf-8",
		"a.none":  "application/octet-stream",
	} {
		if got := lookupType(table, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if ContentType("a.html") != "text/html; charset=utf-8" || ContentType("a.thing") != defaultContentType {
		t.Error("ContentTypes changed the built-in table")
	}
}

func TestCheckTypeAndExtension(t *testing.T) {
	for _, typ := range []string{"text/vtt", "text/vtt; charset=utf-8", "application/vnd.apple.mpegurl", "model/gltf+json"} {
		if err := CheckType(typ); err != nil {
			t.Errorf("CheckType(%q): %v", typ, err)
		}
	}
	for _, typ := range []string{"", "text", "text/", "/plain", "text/plain\r\nSet-Cookie: a=b", "text/plain\n", "text/plain; charset", "a b/c"} {
		if err := CheckType(typ); err == nil {
			t.Errorf("CheckType(%q) accepted it", typ)
		}
	}
	for in, want := range map[string]string{"vtt": "vtt", ".VTT": "vtt", "Tar": "tar"} {
		if got, err := CheckExtension(in); err != nil || got != want {
			t.Errorf("CheckExtension(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, ext := range []string{"", ".", "tar.gz", "a/b", "x\x00", strings.Repeat("x", maxExtension+1)} {
		if _, err := CheckExtension(ext); err == nil {
			t.Errorf("CheckExtension(%q) accepted it", ext)
		}
	}
}

// TestOptionsContentTypes: an index built with a table gives its entries
// the table's types, looked up on the name of the file actually opened.
func TestOptionsContentTypes(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a.vtt=WEBVTT", "b.thing=x", "c.html=<p>")
	x, err := Open(Options{Root: root, ContentTypes: ContentTypes(map[string]string{"thing": "application/x-thing"}, map[string]string{"vtt": "text/x-override"})})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close(nil)
	for path, want := range map[string]string{"/a.vtt": "text/x-override", "/b.thing": "application/x-thing", "/c.html": "text/html; charset=utf-8"} {
		e, r, err := x.Lookup(nil, path)
		if r != Found {
			t.Fatalf("%s: %v %v", path, r, err)
		}
		if e.ContentType != want {
			t.Errorf("%s: Content-Type %q, want %q", path, e.ContentType, want)
		}
		e.Release(nil)
	}
}

func TestHTTPDate(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC), "Sun, 06 Nov 1994 08:49:37 GMT"}, // RFC 9110 §5.6.7
		{time.Date(2024, 2, 29, 23, 59, 59, 999, time.FixedZone("X", 3600)), "Thu, 29 Feb 2024 22:59:59 GMT"},
		{time.Unix(0, 0), "Thu, 01 Jan 1970 00:00:00 GMT"},
	} {
		if got := string(appendHTTPDate(nil, tc.t)); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.t, got, tc.want)
		}
		if got := string(appendHTTPDate(nil, tc.t)); got != tc.t.UTC().Format(time.RFC1123[:len(time.RFC1123)-3]+"GMT") {
			t.Errorf("%v: %q disagrees with time.Format", tc.t, got)
		}
	}
}
