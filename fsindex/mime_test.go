package fsindex

import (
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
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
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
