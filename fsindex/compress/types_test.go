package compress

import "testing"

func TestCompressible(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8":       true,
		"text/css; charset=utf-8":        true,
		"text/javascript; charset=utf-8": true,
		"TEXT/PLAIN":                     true,
		"application/javascript":         true,
		"application/json":               true,
		"application/manifest+json":      true,
		"application/ld+json":            true,
		"image/svg+xml":                  true,
		"application/xhtml+xml":          true,
		"application/xml":                true,
		"application/wasm":               true,
		"image/png":                      false,
		"font/woff2":                     false,
		"application/octet-stream":       false,
		"application/pdf":                false,
		"video/mp4":                      false,
		"":                               false,
	} {
		if got := Compressible(ct); got != want {
			t.Errorf("Compressible(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	o, err := Options{}.Check()
	if err != nil || o.GzipLevel != DefaultGzipLevel || o.BrotliLevel != DefaultBrotliLevel || o.ZstdLevel != DefaultZstdLevel ||
		o.Min != DefaultMin || o.Max != DefaultMax || o.Threads != DefaultThreads || o.Queue != DefaultQueue {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	if o, err := (Options{BrotliLevel: -1}).Check(); err != nil || o.BrotliLevel != 0 {
		t.Errorf("BrotliLevel -1: %d %v, want level 0", o.BrotliLevel, err)
	}
	for _, bad := range []Options{{GzipLevel: 10}, {BrotliLevel: 12}, {ZstdLevel: 23}, {Threads: 65}, {Min: 10, Max: 5}, {Nice: 20}} {
		if _, err := bad.Check(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
