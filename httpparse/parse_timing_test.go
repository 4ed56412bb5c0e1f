package httpparse

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// BenchmarkParse compares Parse with net/http's ReadRequest on the same
// bytes. The net/http side reuses its bufio.Reader and bytes.Reader, so it
// pays only for parsing (and the allocations ReadRequest makes).
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, req string }{
		{"browser", browserGET},
		{"curl", curlGET},
	} {
		raw := []byte(c.req)
		b.Run(c.name+"/epfs", func(b *testing.B) {
			var p Parser
			var req Request
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(raw, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/net-http", func(b *testing.B) {
			rd := bytes.NewReader(raw)
			br := bufio.NewReader(rd)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(raw)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// One byte per call: the cost of a slow client, linear by design.
	raw := []byte(browserGET)
	b.Run("browser/epfs-bytewise", func(b *testing.B) {
		var p Parser
		var req Request
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			for i := 1; i <= len(raw); i++ {
				p.Parse(raw[:i], &req)
			}
		}
	})
}
