// Command nethttp is the net/http peer in the epfs benchmarks: the standard
// library's http.FileServer over a directory, with nothing tuned, because
// the point is to measure what a Go program gets for free.
//
//	nethttp -root DIR -listen 127.0.0.1:0
//
// Once bound it writes one JSON line to stderr, {"message":"listening",
// "addr":"127.0.0.1:PORT"}, the same start-up line epfs writes, so the
// benchmark harness can start every Go server the same way. GOMAXPROCS is
// taken from the environment.
package main

import (
	"net/http"

	"github.com/epfs/epfs/tests/peers/internal/peer"
)

func main() {
	ln, root := peer.Listen("nethttp", "tcp")
	// No timeouts: the idle-connection benchmark holds thousands of
	// keep-alive connections open for as long as it measures.
	srv := &http.Server{Handler: http.FileServer(http.Dir(root))}
	if err := srv.Serve(ln); err != nil {
		peer.Exit("nethttp", err)
	}
}
