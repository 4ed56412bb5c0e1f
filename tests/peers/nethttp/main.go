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
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
	announce(ln.Addr().String())
	// No timeouts: the idle-connection benchmark holds thousands of
	// keep-alive connections open for as long as it measures.
	srv := &http.Server{Handler: http.FileServer(http.Dir(*root))}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
}

// announce writes the start-up line the harness waits for.
func announce(addr string) {
	line, _ := json.Marshal(map[string]string{"message": "listening", "addr": addr})
	fmt.Fprintf(os.Stderr, "%s\n", line)
}
