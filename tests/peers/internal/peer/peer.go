// Package peer is what the benchmark's Go peers share: their command line
// (-root, -listen), their listener, and the start-up line the harness
// waits for, the same JSON line epfs writes, so that the harness starts
// every Go server the same way.
package peer

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
)

// Listen parses the command line, binds -listen on network ("tcp" or
// "tcp4") and announces the bound address on stderr. It returns the
// listener and -root. name prefixes the one line it writes before exiting
// 1 when the address cannot be bound.
func Listen(name, network string) (ln net.Listener, root string) {
	rootFlag := flag.String("root", ".", "directory to serve")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen(network, *listen)
	if err != nil {
		Exit(name, err)
	}
	line, _ := json.Marshal(map[string]string{"message": "listening", "addr": ln.Addr().String()})
	fmt.Fprintf(os.Stderr, "%s\n", line)
	return ln, *rootFlag
}

// Exit writes "name: err" to stderr and exits 1.
func Exit(name string, err error) {
	fmt.Fprintln(os.Stderr, name+":", err)
	os.Exit(1)
}
