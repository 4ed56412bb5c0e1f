package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The compression mode (-compress, issue 21): real-world text served
// compressed. The files are jQuery's and Bootstrap's distributed files,
// from their npm packages at pinned versions, fetched with `npm pack` and
// checked against pinned SHA-256 sums (never committed), and one large
// HTML page made from jquery.js. Each server runs on CPU 0 with one
// worker, wrk -t1 -c64 on CPU 1, rounds interleaved; clients send
// "Accept-Encoding: gzip, br, zstd" unless the row says otherwise. nginx
// runs `gzip on` with gzip_types set to the types epfs compresses, at its
// default level (1) and at 6; epfs with its defaults (--compress on).
const compressModeName = "compress"

// npmPackage is one pinned npm package: `npm pack name@version` must give
// a tarball with this SHA-256.
type npmPackage struct{ spec, sha256 string }

var (
	jqueryPkg    = npmPackage{"jquery@3.7.1", "68a9f787516da47c680e09c187bcbac4536b6f85d90eb882844e12919e583f53"}
	bootstrapPkg = npmPackage{"bootstrap@5.3.3", "38cee936dbd80138de6775683149f22e9226fc2d654392337a921f53000c789e"}
)

// compressFiles are the files served, from the packages.
var compressFiles = []struct {
	pkg        npmPackage
	path, name string
}{
	{jqueryPkg, "package/dist/jquery.min.js", "jquery.min.js"},
	{jqueryPkg, "package/dist/jquery.js", "jquery.js"},
	{bootstrapPkg, "package/dist/css/bootstrap.min.css", "bootstrap.min.css"},
	{bootstrapPkg, "package/dist/js/bootstrap.bundle.min.js", "bootstrap.bundle.min.js"},
}

// pageName is the large HTML page, made from jquery.js.
const pageName = "page.html"

const acceptAll = "Accept-Encoding: gzip, br, zstd"

// compressRow is one line of the table: a server and what its clients ask.
type compressRow struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	Accept string `json:"accept"` // the Accept-Encoding line, "" for none
}

var compressRows = []compressRow{
	{"epfs identity", srvEpfs, ""},
	{"epfs (gets br)", srvEpfs, acceptAll},
	{"epfs gzip", srvEpfs, "Accept-Encoding: gzip"},
	{"epfs zstd", srvEpfs, "Accept-Encoding: zstd"},
	{"nginx gzip level 1 (default)", srvNginxGzip, acceptAll},
	{"nginx gzip level 6", srvNginxGzip6, acceptAll},
}

// CompressResult is one row on one file, over the rounds.
type CompressResult struct {
	File     string    `json:"file"`
	Size     int64     `json:"size"`
	Row      string    `json:"row"`
	Encoding string    `json:"content_encoding"`
	Body     int64     `json:"body_bytes"` // body bytes of one response on the wire
	RPS      []float64 `json:"requests_per_sec"`
	CPU      []float64 `json:"cpu_us_per_request"`
}

// fetchCorpus packs the pinned packages into dir with npm, checks their
// sums, and writes the served files into root.
func fetchCorpus(dir, root string) error {
	tarballs := map[string]string{}
	for _, p := range []npmPackage{jqueryPkg, bootstrapPkg} {
		cmd := exec.Command("npm", "pack", "--silent", p.spec)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("npm pack %s: %w", p.spec, err)
		}
		name := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(name, '\n'); i >= 0 {
			name = name[i+1:]
		}
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != p.sha256 {
			return fmt.Errorf("%s: SHA-256 %x, want the pinned %s", p.spec, sum, p.sha256)
		}
		tarballs[p.spec] = path
	}
	for _, f := range compressFiles {
		b, err := untarFile(tarballs[f.pkg.spec], f.path)
		if err != nil {
			return fmt.Errorf("%s: %w", f.pkg.spec, err)
		}
		if err := os.WriteFile(filepath.Join(root, f.name), b, 0o644); err != nil {
			return err
		}
	}
	src, err := os.ReadFile(filepath.Join(root, "jquery.js"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, pageName), []byte(largePage(src)), 0o644)
}

// untarFile returns the bytes of name in the gzipped tarball at path.
func untarFile(path, name string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s not in the tarball: %w", name, err)
		}
		if h.Name == name {
			return io.ReadAll(tr)
		}
	}
}

// largePage is a documentation-style HTML page: a heading, a table of
// contents and jquery.js shown in <pre> sections of 200 lines.
func largePage(src []byte) string {
	var b strings.Builder
	lines := strings.Split(string(src), "\n")
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>jQuery 3.7.1 source</title></head><body>\n<h1>jQuery 3.7.1</h1>\n<nav><ul>\n")
	for i := 0; i < len(lines); i += 200 {
		fmt.Fprintf(&b, "<li><a href=\"#l%d\">Lines %d to %d</a></li>\n", i+1, i+1, min(i+200, len(lines)))
	}
	b.WriteString("</ul></nav>\n")
	for i := 0; i < len(lines); i += 200 {
		fmt.Fprintf(&b, "<section id=\"l%d\"><h2>Lines %d to %d</h2>\n<pre><code>", i+1, i+1, min(i+200, len(lines)))
		b.WriteString(html.EscapeString(strings.Join(lines[i:min(i+200, len(lines))], "\n")))
		b.WriteString("</code></pre></section>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// probeOne makes one request and returns its Content-Encoding and the
// body bytes it carried (chunked framing, which nginx's gzip uses, taken
// off by the client).
func probeOne(url, accept string) (enc string, n int64, err error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", 0, err
	}
	if accept != "" {
		k, v, _ := strings.Cut(accept, ": ")
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	n, err = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("Content-Encoding"), n, err
}

// awaitVariants waits until epfs serves every file in every coding.
func awaitVariants(ctx context.Context, s *server, files []string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for _, f := range files {
		for _, enc := range []string{"zstd", "gzip", "br"} {
			for {
				got, _, err := probeOne("http://"+s.Addr+"/"+f, "Accept-Encoding: "+enc)
				if err != nil {
					return err
				}
				if got == enc {
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					return fmt.Errorf("epfs: no %s variant of %s after 5 minutes", enc, f)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	return nil
}

// buildCost reads, from epfs's /metrics, each coding's time in the codec
// and identity bytes compressed.
func buildCost(admin string) (map[string][2]float64, error) {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string][2]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, enc := range []string{"gzip", "br", "zstd"} {
			v := out[enc]
			if rest, ok := strings.CutPrefix(line, `epfs_compress_build_seconds_sum{encoding="`+enc+`"} `); ok {
				v[0], _ = strconv.ParseFloat(rest, 64)
			}
			if rest, ok := strings.CutPrefix(line, `epfs_compress_bytes_total{direction="in",encoding="`+enc+`"} `); ok {
				v[1], _ = strconv.ParseFloat(rest, 64)
			}
			out[enc] = v
		}
	}
	return out, sc.Err()
}

// runCompress is the compression mode; it writes compress.{json,md}.
func (b *bench) runCompress(ctx context.Context, o options) error {
	root := filepath.Join(b.tmp, "text")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	logf("compress: npm pack %s %s", jqueryPkg.spec, bootstrapPkg.spec)
	if err := fetchCorpus(b.tmp, root); err != nil {
		return err
	}
	b.root = root
	files := []string{pageName}
	for _, f := range compressFiles {
		files = append(files, f.name)
	}
	m := mode{Name: compressModeName, Workers: 1, ServerCPU: "0", WrkCPU: "1", WrkThreads: 1, Compress: true}
	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, name := range []string{srvEpfs, srvNginxGzip, srvNginxGzip6} {
		s, err := b.startServer(name, "", m)
		if err != nil {
			return err
		}
		servers[name] = s
	}
	// The variants are built once, before the first measured request:
	// what a request costs then is what every later one does.
	t0 := time.Now()
	if err := awaitVariants(ctx, servers[srvEpfs], files); err != nil {
		return err
	}
	logf("compress: epfs built every variant in %v", time.Since(t0).Round(time.Millisecond))
	cost, err := buildCost(servers[srvEpfs].Admin)
	if err != nil {
		return err
	}
	results := map[string]*CompressResult{}
	key := func(file, row string) string { return file + "|" + row }
	for _, f := range files {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			return err
		}
		for _, row := range compressRows {
			s := servers[row.Server]
			enc, n, err := probeOne("http://"+s.Addr+"/"+f, row.Accept)
			if err != nil {
				return err
			}
			results[key(f, row.Name)] = &CompressResult{File: f, Size: st.Size(), Row: row.Name, Encoding: enc, Body: n}
			// Warm-up: a second of load on each, unmeasured.
			w := wrkRun{URL: "http://" + s.Addr + "/" + f, Conns: 16, Threads: 1, Duration: time.Second, CPU: m.WrkCPU}
			if row.Accept != "" {
				w.Headers = []string{row.Accept}
			}
			if _, err := runWrk(ctx, b.wrkLua, w); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	for r := 1; r <= o.rounds; r++ {
		for _, f := range files {
			for _, row := range compressRows {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s := servers[row.Server]
				w := wrkRun{URL: "http://" + s.Addr + "/" + f, Conns: 64, Threads: 1, Duration: o.duration, CPU: m.WrkCPU}
				if row.Accept != "" {
					w.Headers = []string{row.Accept}
				}
				cpu0, err := cpuMicros(s.pids)
				if err != nil {
					return err
				}
				res, err := runWrk(ctx, b.wrkLua, w)
				if err != nil {
					return err
				}
				cpu1, err := cpuMicros(s.pids)
				if err != nil {
					return err
				}
				if res.Errors() > 0 {
					return fmt.Errorf("%s %s: wrk counted %d errors", row.Name, f, res.Errors())
				}
				cr := results[key(f, row.Name)]
				cr.RPS = append(cr.RPS, res.RequestsPerSec())
				cr.CPU = append(cr.CPU, (cpu1-cpu0)/float64(res.Requests))
				logf("compress round %d/%d  %-24s %-30s %9.0f req/s  %7.1f µs CPU/req", r, o.rounds, f, row.Name, res.RequestsPerSec(), (cpu1-cpu0)/float64(res.Requests))
			}
		}
	}
	return writeCompressReport(o, files, results, key, cost)
}

// writeCompressReport writes compress.json and compress.md and prints the
// markdown.
func writeCompressReport(o options, files []string, results map[string]*CompressResult, key func(string, string) string, cost map[string][2]float64) error {
	var all []*CompressResult
	var md strings.Builder
	m := machineInfo()
	fmt.Fprintf(&md, "## Compression %s\n\nMachine: %s, %d cores, Linux %s; %s; %s. Load average %s at the end (a shared machine: other work ran beside it).\n\n",
		m.Date, m.CPU, m.Cores, m.Kernel, m.Go, m.Nginx, loadavg())
	fmt.Fprintf(&md, "Command: `benchpeers %s`. Server on CPU 0 (one loop / one worker), wrk -t1 -c64 on CPU 1, %d interleaved rounds of %v; req/s is the median (min–max). Ratios are of medians.\n\n",
		strings.Join(os.Args[1:], " "), o.rounds, o.duration)
	for _, f := range files {
		id := results[key(f, compressRows[0].Name)]
		ng := results[key(f, "nginx gzip level 1 (default)")]
		fmt.Fprintf(&md, "### %s (%d bytes)\n\n| clients / server | Content-Encoding | body bytes | req/s | × epfs identity | × nginx gzip 1 | CPU µs/req |\n|---|---|---:|---:|---:|---:|---:|\n", f, id.Size)
		for _, row := range compressRows {
			cr := results[key(f, row.Name)]
			all = append(all, cr)
			sp := spreadOf(cr.RPS)
			cpu := spreadOf(cr.CPU)
			enc := cr.Encoding
			if enc == "" {
				enc = "identity"
			}
			fmt.Fprintf(&md, "| %s | %s | %d | %.0f (%.0f–%.0f) | %.2f | %.2f | %.1f |\n", row.Name, enc, cr.Body,
				float64(sp.Median), float64(sp.Min), float64(sp.Max),
				ratio(float64(sp.Median), float64(spreadOf(id.RPS).Median)), ratio(float64(sp.Median), float64(spreadOf(ng.RPS).Median)), float64(cpu.Median))
		}
		md.WriteString("\n")
	}
	md.WriteString("### Build time of the variants (once per file version, at nice 10)\n\n| coding | level | identity MiB compressed | codec seconds | seconds per MiB |\n|---|---|---:|---:|---:|\n")
	levels := map[string]string{"gzip": "9", "br": "11", "zstd": "19"}
	for _, enc := range []string{"zstd", "gzip", "br"} {
		c := cost[enc]
		fmt.Fprintf(&md, "| %s | %s | %.2f | %.3f | %.3f |\n", enc, levels[enc], c[1]/(1<<20), c[0], ratio(c[0], c[1]/(1<<20)))
	}
	js, err := json.MarshalIndent(map[string]any{"results": all, "build": cost}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "compress.json"), js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "compress.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	logf("wrote %s/compress.{json,md}", o.out)
	return nil
}
