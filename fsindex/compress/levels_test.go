//go:build linux

package compress

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkLevels is the measurement behind the default levels: every
// level of each codec over the files in $EPFS_COMPRESS_CORPUS (the
// harness's jQuery and Bootstrap files: make bench-peers
// BENCH_FLAGS=-compress fetches them; any directory of text will do),
// reporting the compressed size as a fraction of the input (ratio) and
// the time per MiB. Skipped without the variable.
//
//	EPFS_COMPRESS_CORPUS=/path/to/text go test -run '^$' -bench Levels -benchtime 3x ./fsindex/compress/
func BenchmarkLevels(b *testing.B) {
	dir := os.Getenv("EPFS_COMPRESS_CORPUS")
	if dir == "" {
		b.Skip("EPFS_COMPRESS_CORPUS names no directory of text files")
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	var files [][]byte
	var total int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		total += int64(len(data))
	}
	if total == 0 {
		b.Skip("no files in " + dir)
	}
	run := func(name string, enc func(out *bytes.Buffer, in []byte)) {
		b.Run(name, func(b *testing.B) {
			var out bytes.Buffer
			var n int
			b.SetBytes(total)
			for b.Loop() {
				n = 0
				for _, f := range files {
					out.Reset()
					enc(&out, f)
					n += out.Len()
				}
			}
			b.ReportMetric(float64(n)/float64(total), "ratio")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/(float64(total)/(1<<20)), "ms/MiB")
		})
	}
	for l := 1; l <= 9; l++ {
		run("gzip-"+strconv.Itoa(l), func(out *bytes.Buffer, in []byte) {
			w, _ := gzip.NewWriterLevel(out, l)
			w.Write(in)
			w.Close()
		})
	}
	for l := 0; l <= 11; l++ {
		run("brotli-"+strconv.Itoa(l), func(out *bytes.Buffer, in []byte) {
			w := brotli.NewWriterLevel(out, l)
			w.Write(in)
			w.Close()
		})
	}
	for _, l := range []int{1, 3, 7, 19} {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(l)), zstd.WithEncoderConcurrency(1))
		if err != nil {
			b.Fatal(err)
		}
		run("zstd-"+strconv.Itoa(l), func(out *bytes.Buffer, in []byte) {
			out.Write(e.EncodeAll(in, nil))
		})
	}
}
