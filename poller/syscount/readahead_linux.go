//go:build linux

package syscount

import "golang.org/x/sys/unix"

// Readahead asks the kernel to start reading count bytes of fd from off into
// the page cache (readahead(2)). It returns once the reads are queued, not
// when they complete: it may still block while it queues them (allocating
// pages, mapping extents, waiting for a free request slot), so call it off
// an event loop. The kernel clamps each call to the larger of the device's
// readahead window and its optimal I/O size (read_ahead_kb, 128 KiB by
// default; force_page_cache_ra in mm/readahead.c) and ignores the rest.
func (c *Counters) Readahead(fd int, off int64, count int) error {
	sp := c.begin()
	// x/sys has no Readahead. On 64-bit kernels the offset is one word;
	// 32-bit ones split it in two (as for preadv2), which epfs does not build for.
	_, _, e := unix.Syscall(unix.SYS_READAHEAD, uintptr(fd), uintptr(off), uintptr(count))
	err := errnoErr(e)
	c.end(sp, Readahead, fd, off, count, 0, err)
	return err
}
