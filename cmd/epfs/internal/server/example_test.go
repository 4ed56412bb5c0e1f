//go:build linux

package server_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/epfs/epfs/cmd/epfs/internal/server"
)

// Serve a directory on a free port, fetch one file, and shut down.
func Example() {
	root, err := os.MkdirTemp("", "epfs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello, world\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	s, err := server.New(server.Config{Root: root, Listen: []string{"127.0.0.1:0"}, Loops: 1})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()

	resp, err := http.Get("http://" + s.Addrs()[0] + "/hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Print(string(body))

	s.Shutdown() // idle connections close at once; Run returns when all are gone
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// 200 OK
	// hello, world
}
