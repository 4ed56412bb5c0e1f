// Package fsindex turns a request path into an open file beneath a served
// root, and caches the answer: the descriptor, the metadata a response
// needs, the bytes of small files, precompressed variants, directory
// listings and misses.
//
// A static server's worst failure is serving a file it should not; its most
// common cost is open(2) and fstat(2) on every request. fsindex resolves
// every path with openat2(2) confined beneath a descriptor of the root, so
// no string it is given can name a file outside, and answers a repeated
// request from memory with no system call at all.
//
// # Walkthrough
//
//	idx, err := fsindex.Open(fsindex.Options{Root: "/srv/www", Precompressed: true})
//	...
//	// on a loop goroutine, with that loop's counters:
//	e, r, err := idx.Lookup(c, "/css/site.css")
//	switch r {
//	case fsindex.Found, fsindex.Listing:
//		// headers from e.ContentType, e.ETag, e.LastModified, e.Size;
//		// body from e.Body (one write) or e.Fd (sendfile at explicit offsets);
//		// e.Variant(fsindex.Brotli) if the client accepts br.
//		// ... when the last body byte is sent, or the connection dies:
//		e.Release(c)
//	case fsindex.RedirectSlash: // 301 to path + "/"
//	case fsindex.NotFound:      // 404
//	case fsindex.Forbidden:     // 403
//	case fsindex.Failed:        // 500, or 503 for EMFILE/ENFILE; err says which
//	}
//
// # Contract
//
//   - Paths. Lookup takes the decoded, normalised absolute path the HTTP layer
//     produced. It still refuses, as NotFound, anything that is not plain: no
//     leading "/", a NUL, an empty, "." or ".." segment. A segment starting
//     with "." is NotFound unless Options.AllowDotfiles; the policy applies to
//     the request path, not to where a symlink inside the root points.
//   - What is served. Regular files, and directories through their index
//     file or a listing. A directory named without its trailing slash is
//     RedirectSlash; a file named with one is NotFound (the kernel's ENOTDIR).
//     FIFOs, sockets and devices are Forbidden, and never opened: opening
//     a device runs its driver's open method, which can have side effects,
//     and opening a FIFO releases a writer waiting for a reader (fifo(7)).
//     Every path is first resolved with O_PATH, which opens nothing, and
//     fstat'ed; only a regular file or a directory is then opened for
//     reading: a directory through the O_PATH descriptor itself (openat of
//     "."), a regular file by resolving its path a second time and checking
//     that the result has the first one's device and inode. Between the two
//     resolutions, a process that can rename into the tree could swap in a
//     FIFO (or, with CAP_MKNOD or a device node on the same filesystem, a
//     device): it is then opened with O_NONBLOCK|O_NOCTTY, so it neither
//     blocks nor becomes a controlling terminal, and refused by the check.
//     Revalidation resolves with O_PATH and opens nothing at all.
//   - Content types. An entry's ContentType comes from the extension of the
//     file actually opened (an index file's, not the directory URL's), looked
//     up once when the entry is built in Options.ContentTypes, or in the
//     built-in table (ContentType) by default. ContentTypes layers a system
//     table (ParseMimeTypes) under the built-in one and overrides above both.
//     The bytes of a file are never sniffed.
//   - References. Lookup returns an Entry only with Found or Listing, holding
//     one reference for the caller, who calls Release exactly once when the
//     response no longer needs Fd or Body. The cache holds its own reference
//     while the entry is cached. A descriptor is closed by whoever drops the
//     last reference: an entry evicted or replaced while a transfer uses it
//     stays open until that transfer releases it. Variants share their
//     parent's reference and are never released themselves.
//   - Immutability. An Entry's exported fields never change after Lookup
//     returns it; any goroutine holding a reference reads them without
//     locks. Fd is shared by every response sending the file, so it is read
//     only at explicit offsets (pread, sendfile with an offset), never
//     through its file position.
//   - Goroutines. Open and Close are for the owner of the Index. Lookup,
//     LookupCached and Release may be called by any goroutine, concurrently,
//     each passing the *syscount.Counters it alone writes (nil counts
//     nothing): a loop's, or an I/O thread's. The system calls a call makes,
//     including a close(2) that a Release or an eviction triggers, are
//     counted on the counters passed to that call. An Entry may be released
//     on another goroutine than the one that looked it up (epfs looks a miss
//     up on an I/O thread and releases it on the loop), provided the hand-
//     over orders the two, as a channel or a mutex does. Open's own calls
//     (the root open and the openat2 probe) are uncounted.
//   - Off the loop. A loop that must not block asks LookupCached first: it
//     answers a fresh hit exactly as Lookup would, with no system call, and
//     refuses (ok false, nothing taken) whatever would go to the disk: a
//     miss, or an entry due for revalidation. The loop then has Lookup run
//     on a thread that may block, with that thread's counters, and takes
//     the result back. epfs does so on its I/O pool.
//   - Cost. A hit on a fresh entry takes a shard's read lock, one atomic add
//     for the reference, makes no system call and allocates nothing. A hit on
//     an entry past its validity revalidates: openat2(O_PATH), fstat, close
//     (three per precompressed suffix more when variants are on); a listing
//     past its validity is rebuilt (see Freshness). A miss
//     resolves with O_PATH, fstats, resolves again to open (a directory:
//     reopens "." beneath the O_PATH descriptor), fstats, reads a small file
//     with pread, and probes the variants the same way. All of it runs on the calling goroutine: a miss on a cold
//     disk blocks it, as a small-file read must (hence LookupCached).
//   - Errors. With Failed the error is the bare errno (compare with ==), or
//     ErrClosed after Close.
//
// # Confinement: what RESOLVE_BENEATH does and does not guarantee
//
// Every path is resolved by openat2(2) relative to an O_PATH descriptor of
// the root with RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS. The kernel then fails,
// with EXDEV or ELOOP, any resolution that would leave the root: a ".." above
// it, an absolute path, a symlink whose target climbs out, and also an
// absolute symlink even when it points back inside the root (use relative
// links in a served tree). Relative symlinks that stay beneath are followed,
// up to the kernel's 40 hops. Magic links (/proc/self/fd/N and friends),
// which jump without a path walk, are refused. A concurrent rename that the
// kernel cannot prove harmless to a ".." step makes openat2 return EAGAIN;
// it is retried a few times, then the walk below resolves that path.
//
// It does not guarantee more than "beneath this directory, as the kernel
// sees it now":
//
//   - Mounts. A bind mount or any filesystem mounted inside the root is
//     crossed (RESOLVE_NO_XDEV is not set): what is mounted there is served.
//     A bind mount of / or of /proc inside the root exposes them.
//   - Hard links. A hard link inside the root to a file elsewhere is that
//     file; no path check can tell. Whoever can create links in the root can
//     publish any file they can read.
//   - The root itself. If the root directory is moved, the descriptor
//     follows it; Options.Root is resolved once, at Open.
//   - Permissions. fsindex serves what the process can read. Run it as a
//     user who can read only what should be public.
//
// Where openat2 is missing (ENOSYS, Linux before 5.6) or refused (EPERM
// under some seccomp filters and container sandboxes), as probed once at
// Open, fsindex walks the path itself: one openat(O_NOFOLLOW) per
// component, readlinkat for each symlink with the same 40-hop limit, the
// target spliced into the remaining path, absolute targets refused, and a
// ".." above the root refused. It never opens "..": it restarts from the
// root along the names it has descended through, as os.Root does. Its
// window: while the walk stands in a directory, a process that can rename
// that directory out of the root (on the same filesystem) can make the rest
// of that one walk resolve beneath its new place. The window lasts one
// lookup, needs write access to the root's parent and the root, and is
// exactly what RESOLVE_BENEATH's rename check closes; the tests run the
// traversal corpus against both resolvers.
//
// # Freshness
//
// A cached entry is trusted for Options.Valid (default 1 s). The first
// lookup after that revalidates it: it resolves the same root-relative path
// again beneath the root (openat2 with O_PATH, never stat(2) on a joined
// string, which would follow a symlink swapped in towards /etc) and compares
// device, inode, mode, size, mtime and ctime, and the same for each
// precompressed suffix. If anything differs the path is resolved afresh and
// the new entry replaces the old. A cached miss is forgotten after
// Options.NegativeValid (default 1 s). So the bound is: a Lookup that starts
// more than Valid after a file, its variants, or any directory or symlink on
// its path changed (modified, truncated, replaced by rename, deleted), or
// more than NegativeValid after a missing file was created, sees the new
// state. Within the bound a stale entry may be served.
//
// Limits of the comparison: a rewrite in place that keeps the size and lands
// within the same timestamp tick as the previous write (ext4 stamps with the
// kernel's coarse clock, a few milliseconds) is invisible to it. A large
// file is served from its descriptor, so bytes written in place reach the
// socket at once while the ETag changes only at revalidation; a truncation
// makes sendfile return 0 early, which the sender must treat as an error.
// Publish by writing a new file and renaming it over the old one: the
// cached descriptor then keeps serving the complete old version until the
// entry is replaced.
//
// A listing comes in two forms, built together from one directory read:
// the HTML page in the entry's Body and a JSON document in Entry.JSON(),
// the same rows in the same order, each with an ETag of its own (a strong
// ETag names one representation, RFC 9110 §8.8.3). The JSON form shares
// the entry's reference and is counted in its bytes; the bounds below are
// for both forms together.
//
// A listing shows the sizes and times of the files in its directory, and a
// file rewritten in place does not touch its directory, so the directory's
// identity cannot revalidate it: a listing past Valid is rebuilt (getdents
// and one fstatat per name shown). If the new body is byte for byte the
// old one, the old entry stays, with its ETag (a hash of the body); else
// the new one, with a new ETag, replaces it. Its Last-Modified is the
// newest of the directory's and the listed entries' mtimes, so that
// If-Modified-Since cannot get a 304 for a listing that changed. The same
// bound therefore holds for listings, plus the time one rebuild takes.
//
// Every slow lookup (a miss, a revalidation, a rebuild) runs once per path
// at a time: the first Lookup starts it, and Lookups of the same path that
// arrive meanwhile wait for it and share its answer, each with its own
// reference. So a directory is listed at most once per Valid however many
// requests want it, and they all hold the same body. A listing is bounded
// by 10,000 names and by a quarter of a shard's byte budget (1 MiB by
// default, never less than 4 KiB), whichever comes first, and then ends
// with a note saying after how many names it stops; that bound also lets
// the cache always make room for it (see The cache), so it is not rebuilt
// per request. Listings are reference-counted like descriptors: one that
// is held only by responses (evicted or replaced while being sent, or not
// cached) is loose, and loose listings, with builds in progress counted at
// the bound, may take at most a quarter of Options.MemoryBudget. A Lookup
// that would build a listing past that fails with ErrMemory (epfs answers
// 503) until those responses end or time out; cached listings are bounded
// by the cache's own budget and never cause it.
//
// Why revalidation and not inotify, measured on this project's build
// machine (Linux 6.18, ext4): revalidation costs 2.8-3.0 µs (openat2 O_PATH +
// fstat + close), paid once per Valid by one request per hot entry, and
// nothing for cold ones. inotify delivers a change within microseconds but
// needs a watch on every directory of every cached path (3.5 µs each to add,
// counted against fs.inotify.max_user_watches, shared by the user's
// processes), a reader outside the loops that owns the queue and flushes
// everything on IN_Q_OVERFLOW, and it misses changes it is never told of:
// writes through a shared mmap, network and FUSE filesystems, the lower
// layer of an overlay. Revalidation is one rule that holds everywhere, with
// a bound operators already know from nginx's open_file_cache_valid.
//
// # Computed variants
//
// With Options.Compressor set (epfs uses package fsindex/compress), an
// entry whose Content-Type and size the Compressor accepts is offered to
// it as a Job once the entry is cached: on whichever goroutine built the
// entry, without blocking (a full queue refuses the job; it is offered
// again when the entry next revalidates unchanged, so at most once per
// Valid). The Compressor reads the identity bytes (the Body, or pread from
// the descriptor, proven to be the version the entry describes by fstat
// before and after) and attaches each variant with Job.Attach, which
// takes the shard's write lock: the entry must still be the one cached,
// and the variant's bytes must fit the shard's budget, making room as an
// insertion does (at most maxEvict entries plus one per 16 KiB). From then
// on Variant returns it; computed variants are the only part of an Entry
// that appears after Lookup returned it, through an atomic pointer each.
//
// A computed variant is an Entry with Computed set, Body holding the
// compressed bytes, Size their length, the identity's ModTime and
// LastModified, and a strong ETag of its own: the identity's with the
// coding and a hash of the variant's bytes. Its bytes count against
// MemoryBudget while its entry is cached and leave the budget with it,
// evicted or replaced; so a changed file's variants are never served past
// the freshness bound above, and the new version's are built anew. A
// sidecar (Precompressed) wins: a coding with a usable sidecar is not
// computed. Listings are not compressed. Negotiated reports that responses
// about the entry vary by Accept-Encoding even before its variants exist.
//
// # Small files
//
// A regular file of at most Options.SmallFileMax bytes (default 16 KiB) is
// read once with pread into Entry.Body, within Options.MemoryBudget
// (default 64 MiB), and its descriptor is closed: a hit is then answered
// with header and body in one write and no file system call. fstat before
// and after the read must agree and the read must end exactly at the size,
// otherwise it is retried, so a Body is exactly the bytes its Size and ETag
// describe (short of the same-tick rewrite above). The default comes from
// BenchmarkSmallFileThreshold (loopback TCP, one response per op, three
// runs; header write + sendfile vs one write from memory): 1 KiB 6.4-7.3 µs
// vs 2.3-2.5 µs, 4 KiB 6.7-7.5 vs 3.1-3.4, 16 KiB 11.7-13.4 vs 8.4-9.0,
// 64 KiB 34-42 vs 30-31, 256 KiB 109-147 vs 108-121. The saving is a
// syscall and a packet, a few microseconds, while the memory held per file
// grows linearly; past 16 KiB it is under 1.5x, and on a real NIC
// sendfile avoids the copy that loopback makes anyway. 16 KiB also keeps a
// header plus body within the initial congestion window of 10 segments (RFC
// 6928), and lets the default budget hold 4096 such files.
//
// # The cache
//
// The cache is split into up to 16 shards by a hash of the path, each with
// its own RWMutex, map, budgets (entries, descriptors, body bytes, misses)
// and CLOCK ring: a hit sets the entry's reference bit (only if clear, so a
// hot entry's cache line is not written), and an insertion that needs room
// advances the hand, clearing bits, and evicts the first entry whose bit is
// clear. One insertion evicts at most 8 entries, plus one per 16 KiB of its
// body (a listing's build costs far more); if that is not room enough the
// new entry is served uncached and closed on Release. Misses may take at
// most a quarter of a shard, so a flood of 404s cannot push out the working
// set. The descriptor budget (Options.MaxFds, default 1024) counts what the
// cache holds; transfers holding evicted entries add to it until they end.
//
// Only entries holding descriptors, and listings, count references: a
// small file's entry is kept alive by the garbage collector while anyone
// holds it, so a hit on it writes no shared memory but the shard's reader
// count. Measured
// with BenchmarkLookupHit on 2 cores, a hit costs about 50 ns single-threaded;
// with both cores hitting one small file about 39 ns per hit, one large
// (reference-counted) file about 78 ns, and 64 files about 34 ns, against
// 3.5-5.8 µs for os.Open+Stat+Close of the same path. One cache per loop
// would remove the shared reader count but multiply descriptors and memory
// by the loop count; the sharded cache was kept.
package fsindex
