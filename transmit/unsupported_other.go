//go:build !linux

package transmit

// transmit moves bodies with sendfile(2) and splice(2) on an epoll loop:
// Linux only. Building it elsewhere stops here, by name, instead of falling
// back silently.
var _ = epfs_builds_on_linux_only
