//go:build linux && !race

package server

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Steady-state allocation of the whole server, measured from outside it.
//
// The client is a blocking socket driven by bare syscalls with fixed buffers
// (rawClient): it allocates nothing, so every malloc that testing.AllocsPerRun
// (runtime.MemStats.Mallocs, process-wide) sees during a round trip is made by
// the server's loop goroutine, or by the runtime and test framework in the
// background. AllocsPerRun averages over the runs and rounds down, so a
// once-a-second allocation (the fsindex revalidation of a cached entry, the
// access log handing its buffer to the sink) does not count as per request,
// while one allocation per request would show as 1. Each case also logs the
// exact Mallocs delta over its runs. The race detector allocates on its own,
// hence the build tag.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	// The access log's every field, those that zerolog must escape too
	// (quotes, a backslash, a tab, UTF-8 and bytes that are not).
	odd := []byte("GET /small.bin HTTP/1.1\r\nHost: t.example:8080\r\nUser-Agent: a \"quoted\" \\ agent\t\xc3\xa9\xff\r\n" +
		"Referer: http://r.example/?q=\"<x>\"\r\n\r\n")
	for _, tc := range []struct {
		name   string
		log    bool
		rules  bool // header and Cache-Control rules, and a 404 page
		req    []byte
		status int
	}{
		{"small cached file", false, false, get("/small.bin"), 200},
		{"large sendfile file", false, false, get("/large.bin"), 200},
		{"not found", false, false, get("/missing"), 404},
		{"small with access log", true, false, get("/small.bin"), 200},
		{"small with access log, odd fields", true, false, odd, 200},
		{"small with rules", false, true, get("/small.bin"), 200},
		{"large with rules", false, true, get("/large.bin"), 200},
		{"error page", false, true, get("/missing"), 404},
		// The root has no index: "/" is its listing. Choosing the form
		// by Accept allocates nothing either.
		{"listing page", false, false, []byte("GET / HTTP/1.1\r\nHost: t\r\nAccept: text/html,*/*;q=0.8\r\n\r\n"), 200},
		{"listing JSON", false, false, []byte("GET / HTTP/1.1\r\nHost: t\r\nAccept: application/json;q=0.9, text/html;q=0.5\r\n\r\n"), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Root: testRoot(t, false), Autoindex: true}
			if tc.log {
				cfg.AccessLog = io.Discard
			}
			if tc.rules {
				cfg.Headers = []HeaderRule{{Name: "X-Content-Type-Options", Value: "nosniff"}, {Glob: "/**", Name: "Access-Control-Allow-Origin", Value: "*"}}
				cfg.CacheControl = []CacheRule{{Glob: "/small.*", Value: "no-cache"}, {Glob: "*", Value: "public, max-age=31536000, immutable"}}
				cfg.ErrorPages = map[int]string{404: "/small.bin"}
			}
			r := start(t, cfg)
			c := dialRaw(t, r.addr)
			req := tc.req
			for i := 0; i < 200; i++ { // warm-up: pools, cache, log buffer
				c.roundTrip(t, req, tc.status)
			}
			const runs = 1000
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(runs, func() { c.roundTrip(t, req, tc.status) })
			runtime.ReadMemStats(&after)
			t.Logf("%s: %v allocs per request (%d mallocs over %d requests, client included)",
				tc.name, allocs, after.Mallocs-before.Mallocs, runs+1)
			if allocs != 0 {
				t.Errorf("%v allocations per request, want 0", allocs)
			}
		})
	}
}

var allocSink []byte

// The measurement sees what the loop goroutine allocates: one allocation
// made there per request shows as exactly 1.
func TestAllocationMeasurementSeesTheLoop(t *testing.T) {
	r := start(t, Config{Root: testRoot(t, false)})
	c := dialRaw(t, r.addr)
	req := get("/small.bin")
	ran := make(chan struct{}, 1)
	alloc := func() { allocSink = make([]byte, 64); ran <- struct{}{} }
	loop := r.workers[0].loop
	step := func() {
		loop.Submit(alloc)
		<-ran
		c.roundTrip(t, req, 200)
	}
	for i := 0; i < 200; i++ {
		step()
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 1 {
		t.Errorf("%v allocations per run with one made on the loop, want 1", allocs)
	}
}

// A computed variant is served as a small file is, from memory: no
// allocation per request once it is built (with the compression threads
// idle beside the loops).
func TestSteadyStateVariantAllocatesNothing(t *testing.T) {
	dir := testRoot(t, false)
	text := bytes.Repeat([]byte("body { color: #123456; margin: 0 auto; }\n"), 800) // 32 KiB: read from its descriptor
	if err := os.WriteFile(filepath.Join(dir, "site.css"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, Config{Root: dir, Compress: true})
	c := dialRaw(t, r.addr)
	req := []byte("GET /site.css HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
	// Hang guard, not a timing: the first responses are identity until
	// the variant is built.
	for deadline := time.Now().Add(30 * time.Second); c.roundTrip(t, req, 200) >= int64(len(text)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("hang guard: no gzip variant within 30s")
		}
	}
	for i := 0; i < 200; i++ {
		c.roundTrip(t, req, 200)
	}
	if allocs := testing.AllocsPerRun(1000, func() { c.roundTrip(t, req, 200) }); allocs != 0 {
		t.Errorf("%v allocations per request for a computed variant, want 0", allocs)
	}
}
