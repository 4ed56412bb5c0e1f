// Command fasthttp is the fasthttp peer in the epfs benchmarks:
// github.com/valyala/fasthttp's FS request handler over a directory, in its
// default configuration apart from compression, which is off because no
// other server in the comparison compresses.
//
//	fasthttp -root DIR -listen 127.0.0.1:0
//
// Once bound it writes one JSON line to stderr, {"message":"listening",
// "addr":"127.0.0.1:PORT"}, the same start-up line epfs writes. GOMAXPROCS
// is taken from the environment.
package main

import (
	"github.com/epfs/epfs/tests/peers/internal/peer"
	"github.com/valyala/fasthttp"
)

func main() {
	ln, root := peer.Listen("fasthttp", "tcp4")
	fs := &fasthttp.FS{
		Root:            root,
		AcceptByteRange: true,
		Compress:        false,
	}
	// No read or idle timeouts: the idle-connection benchmark holds
	// thousands of keep-alive connections open while it measures.
	srv := &fasthttp.Server{Handler: fs.NewRequestHandler()}
	if err := srv.Serve(ln); err != nil {
		peer.Exit("fasthttp", err)
	}
}
