//go:build !linux

package server

// The server is built on epoll, sendfile and openat2: Linux only. Building
// it elsewhere stops here, by name, instead of falling back silently.
var _ = epfs_builds_on_linux_only
