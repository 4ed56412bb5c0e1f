//go:build !linux

package fsindex

// fsindex resolves paths with openat2(2) and caches open descriptors; it
// runs on Linux only. Building it elsewhere stops here, by name, instead of
// falling back silently.
var _ = epfs_builds_on_linux_only
