//go:build !linux

package syscount

// epfs talks to epoll, sendfile and openat2 directly and runs on Linux only.
// Building it elsewhere stops here, by name, instead of falling back silently.
var _ = epfs_builds_on_linux_only
