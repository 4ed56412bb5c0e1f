//go:build !linux

package poller

// epfs's loop is built on epoll, eventfd and accept4: Linux only. Building it
// elsewhere stops here, by name, instead of falling back silently.
var _ = epfs_builds_on_linux_only
