//go:build linux

package fsindex

import (
	"errors"
	"strings"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// The open flags a resolved path is opened with: what it is opened for.
const (
	// modeRead opens for pread/sendfile/getdents, and only what openRead
	// has already seen to be a regular file or a directory. O_NONBLOCK and
	// O_NOCTTY are for the race openRead names: should a FIFO or a terminal
	// be renamed in between, opening it returns at once instead of waiting
	// for a writer (fifo(7)), and never acquires a controlling terminal.
	modeRead = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	// modePath resolves without opening the file itself (O_PATH, open(2)):
	// no read permission is needed and no device or FIFO open side effect
	// can happen: a driver's open method is not called. Every resolution
	// starts with it.
	modePath = unix.O_PATH | unix.O_CLOEXEC
)

const (
	// maxHops is the walk's symlink limit, the kernel's MAXSYMLINKS
	// (include/linux/namei.h), so both paths answer ELOOP alike.
	maxHops = 40
	// maxSteps bounds the components the walk handles, counting the ones
	// symlinks and ".." restarts add, so no input makes it work unboundedly.
	maxSteps = 1024
	// maxAgain bounds openat2's EAGAIN retries before the walk takes over.
	maxAgain = 4
)

// resolveFlags confine openat2 to the root. RESOLVE_BENEATH fails any
// resolution that would leave the starting directory, through "..", an
// absolute path or an absolute symlink, with EXDEV (openat2(2)).
// RESOLVE_NO_MAGICLINKS refuses /proc/*/fd-style links, which jump to their
// target without a path walk and so would escape any check (ELOOP).
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// open resolves rel (root-relative, no leading slash; "" is the root)
// beneath the root, opens it in mode and fstats the result into st. Errors
// are bare errnos.
func (x *Index) open(c *syscount.Counters, rel string, mode int, st *unix.Stat_t) (int, error) {
	fd, err := x.resolve(c, rel, mode)
	if err != nil {
		return -1, err
	}
	if err := c.Fstat(fd, st); err != nil {
		c.Close(fd)
		return -1, err
	}
	return fd, nil
}

// errSpecial is openRead's answer for a FIFO, socket or device (or a
// directory where only a regular file will do): never opened, never served.
var errSpecial = errors.New("fsindex: not a regular file or directory")

// openRead opens rel beneath the root for reading, but only if it is a
// regular file, or a directory when dirOK, and fstats it into st. Anything
// else is never opened: opening a device runs its driver's open method,
// which can have side effects (rewind a tape, raise a modem line, consume
// a FIFO writer's rendezvous). So it resolves with O_PATH, which opens
// nothing, and looks at the result with fstat first. For any other type
// (or a directory without dirOK) it returns errSpecial with st filled.
//
// A directory is then reopened through the O_PATH descriptor itself
// (openat of "." beneath it): the same directory, no second walk. A
// regular file has no such way short of /proc/self/fd, so its path is
// resolved a second time and the result fstat'ed and checked against the
// first by device and inode; a mismatch (the name was replaced in between)
// starts again, at most maxAgain times, then fails with EAGAIN. The window
// between the two resolutions is the one remaining race: a process that
// can rename into the served tree can swap a FIFO in there, which is then
// opened (without blocking, O_NONBLOCK) and refused by the check; for a
// device it would also need one on the same filesystem, or CAP_MKNOD.
func (x *Index) openRead(c *syscount.Counters, rel string, dirOK bool, st *unix.Stat_t) (int, error) {
	for range maxAgain {
		pfd, err := x.open(c, rel, modePath, st)
		if err != nil {
			return -1, err
		}
		typ := st.Mode & unix.S_IFMT
		if typ == unix.S_IFDIR && dirOK {
			fd, err := c.Openat(pfd, ".", modeRead|unix.O_DIRECTORY, 0)
			c.Close(pfd)
			return fd, err
		}
		c.Close(pfd)
		if typ != unix.S_IFREG {
			return -1, errSpecial
		}
		first := *st
		fd, err := x.open(c, rel, modeRead, st)
		if err != nil {
			return -1, err
		}
		if st.Dev == first.Dev && st.Ino == first.Ino {
			return fd, nil
		}
		c.Close(fd)
	}
	return -1, unix.EAGAIN
}

// resolve opens rel beneath the root with openat2, or with the walk when
// openat2 is unavailable or keeps reporting a race.
func (x *Index) resolve(c *syscount.Counters, rel string, mode int) (int, error) {
	if !x.openat2 {
		return x.walk(c, rel, mode)
	}
	name := rel
	if name == "" {
		name = "."
	}
	how := unix.OpenHow{Flags: uint64(mode), Resolve: resolveFlags}
	for range maxAgain {
		fd, err := c.Openat2(x.root, name, &how)
		// EAGAIN: a rename or mount somewhere in the mount namespace raced
		// a ".." step, and the kernel cannot prove it stayed beneath
		// (openat2(2), ERRORS). Retrying is what the man page suggests.
		if err != unix.EAGAIN {
			return fd, err
		}
	}
	// Under a steady stream of renames openat2 may never win; the walk
	// never opens "..", so it does not need the rename check.
	return x.walk(c, rel, mode)
}

// walk is the fallback when openat2 is missing (ENOSYS, Linux < 5.6) or
// refused by a sandbox (EPERM under some seccomp filters). It resolves rel
// one component at a time with openat(O_NOFOLLOW), reads each symlink with
// readlinkat and splices its target into the remaining path itself, and
// answers like RESOLVE_BENEATH: an absolute symlink or a ".." above the root
// fails with EXDEV. It never opens "..": it restarts from the root along the
// directory names it has descended through, so a directory that is renamed
// while the walk stands in it cannot lead the walk out. The window it does
// have is in the package documentation.
func (x *Index) walk(c *syscount.Counters, rel string, mode int) (int, error) {
	var (
		stack []string // names from the root down to dirfd, all real directories
		dirfd = x.root
		rest  = rel
		hops  int
	)
	leave := func() {
		if dirfd != x.root {
			c.Close(dirfd)
		}
		dirfd = x.root
	}
	for steps := 0; steps < maxSteps; steps++ {
		name, after, inner := strings.Cut(rest, "/")
		rest = after
		if name == "" && !inner {
			// End of the path on a directory (the root, or a trailing
			// slash): open the directory we stand in.
			fd, err := c.Openat(dirfd, ".", mode|unix.O_DIRECTORY, 0)
			leave()
			return fd, err
		}
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			if len(stack) == 0 {
				leave()
				return -1, unix.EXDEV
			}
			stack = stack[:len(stack)-1]
			rest = joinRest(stack, rest)
			stack = stack[:0]
			leave()
			continue
		}
		if inner {
			// An inner component (or a last one with a trailing slash) must be a directory. O_PATH|O_NOFOLLOW|
			// O_DIRECTORY opens a real directory and fails with ENOTDIR on
			// anything else, a symlink included; readlinkat tells them apart.
			fd, err := c.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err == unix.ENOTDIR {
				target, lerr := x.readlink(c, dirfd, name, &hops)
				if lerr == unix.EINVAL {
					leave()
					return -1, unix.ENOTDIR // not a symlink: a file in the middle
				}
				if lerr != nil {
					leave()
					return -1, lerr
				}
				rest = target + "/" + rest
				continue
			}
			if err != nil {
				leave()
				return -1, err
			}
			leave()
			dirfd = fd
			stack = append(stack, name)
			continue
		}
		// The last component. With O_NOFOLLOW, opening a symlink for
		// reading fails with ELOOP; with O_PATH it opens the link itself.
		fd, err := c.Openat(dirfd, name, mode|unix.O_NOFOLLOW, 0)
		isLink := err == unix.ELOOP
		if err == nil && mode&unix.O_PATH != 0 {
			var st unix.Stat_t
			if err = c.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
				c.Close(fd)
				if err != nil {
					leave()
					return -1, err
				}
				isLink = true
			}
		}
		if !isLink {
			leave()
			return fd, err
		}
		target, lerr := x.readlink(c, dirfd, name, &hops)
		if lerr == unix.EINVAL {
			leave()
			return -1, unix.ELOOP // replaced by a non-link since the open: a race, refuse
		}
		if lerr != nil {
			leave()
			return -1, lerr
		}
		rest = target
	}
	leave()
	return -1, unix.ELOOP
}

// readlink reads the symlink name in dirfd for the walk, counting a hop and
// refusing what RESOLVE_BENEATH refuses.
func (x *Index) readlink(c *syscount.Counters, dirfd int, name string, hops *int) (string, error) {
	*hops++
	if *hops > maxHops {
		return "", unix.ELOOP
	}
	var buf [unix.PathMax]byte
	n, err := c.Readlinkat(dirfd, name, buf[:])
	if err != nil {
		return "", err
	}
	if n == len(buf) {
		return "", unix.ENAMETOOLONG // possibly truncated (readlink(2))
	}
	if n == 0 {
		return "", unix.ENOENT
	}
	if buf[0] == '/' {
		// An absolute target names the host's root, not ours. openat2
		// with RESOLVE_BENEATH refuses it even when it points back inside
		// the served root; the walk does the same, so both paths agree.
		return "", unix.EXDEV
	}
	return string(buf[:n]), nil
}

// joinRest rebuilds the remaining path after a ".." restart: the directory
// names still above us, then what was left to walk.
func joinRest(stack []string, rest string) string {
	if len(stack) == 0 {
		return rest
	}
	return strings.Join(stack, "/") + "/" + rest
}

// classify maps a resolution errno to the result it gives the client, or
// Failed for errors that say nothing about the path.
func classify(err error) Result {
	switch err {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG:
		return NotFound
	case errSpecial, // a FIFO, socket or device, never opened
		unix.EXDEV,  // RESOLVE_BENEATH or the walk: the path leaves the root
		unix.ELOOP,  // a symlink loop, too many hops, or a magic link
		unix.EACCES, // permission: exists but not ours to read
		unix.EPERM,
		unix.ENXIO, // open(2) on a UNIX socket or a device with no driver
		unix.ENODEV:
		return Forbidden
	}
	return Failed
}
