//go:build linux

package syscount

import "golang.org/x/sys/unix"

// Cachestat fills st with the page-cache state of the bytes [off, off+length)
// of fd, with cachestat(2) (Linux 6.5+): how many of the range's pages are
// in the page cache, dirty, under writeback, evicted and recently evicted.
// length 0 means to the end of the file. The kernel counts the pages in
// whole pages, from the page holding off to the page holding
// off+length-1.
//
// What it can answer, and where it may be refused:
//   - A page counts as cached as soon as it is in the file's page-cache
//     xarray, which readahead does before it starts the read: a page whose
//     read is still in flight counts, though reading it would wait for the
//     disk (filemap_cachestat in mm/filemap.c derives every count from the
//     xarray under RCU and never looks at PG_uptodate).
//   - It reads no file data and starts no I/O. It may sleep: it first
//     flushes the memory cgroup's statistics (rate-limited), and it
//     reschedules in a long walk. That is CPU work, bounded by the pages in
//     the range, never a wait for a device.
//   - ENOSYS on kernels before 6.5; EPERM where a seccomp filter refuses it
//     (systemd's SystemCallErrorNumber=EPERM, when the filter's groups do not
//     list it) and, on kernels with the check mincore(2) also makes
//     (can_do_cachestat in mm/filemap.c, early 2025), for a file the caller
//     neither opened for writing, owns nor could open for writing;
//     EOPNOTSUPP on hugetlbfs; EBADF for a bad descriptor (which tells a
//     probe the call itself is allowed: see transmit).
//
// It is not retried: it sleeps only uninterruptibly, so it never fails with
// EINTR.
func (c *Counters) Cachestat(fd int, off, length int64, st *unix.Cachestat_t) error {
	crange := unix.CachestatRange{Off: uint64(off), Len: uint64(length)}
	sp := c.begin()
	// fd goes in as the kernel's unsigned int: -1 becomes a descriptor no
	// process has, answered with EBADF.
	err := unix.Cachestat(uint(uint32(fd)), &crange, st, 0)
	c.end(sp, Cachestat, fd, off, int(length), int(st.Cache), err)
	return err
}
