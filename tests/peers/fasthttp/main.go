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
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/valyala/fasthttp"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fasthttp:", err)
		os.Exit(1)
	}
	announce(ln.Addr().String())
	fs := &fasthttp.FS{
		Root:            *root,
		AcceptByteRange: true,
		Compress:        false,
	}
	// No read or idle timeouts: the idle-connection benchmark holds
	// thousands of keep-alive connections open while it measures.
	srv := &fasthttp.Server{Handler: fs.NewRequestHandler()}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "fasthttp:", err)
		os.Exit(1)
	}
}

// announce writes the start-up line the harness waits for.
func announce(addr string) {
	line, _ := json.Marshal(map[string]string{"message": "listening", "addr": addr})
	fmt.Fprintf(os.Stderr, "%s\n", line)
}
