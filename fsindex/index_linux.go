//go:build linux

package fsindex

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned, with Failed, by a Lookup on a closed Index.
var ErrClosed = errors.New("fsindex: index closed")

// Index resolves request paths to open files beneath one root and caches
// the results. Every method is safe for concurrent use by any number of
// goroutines; each passes its own *syscount.Counters.
type Index struct {
	root    int     // O_PATH descriptor of the root directory
	opts    Options // with defaults filled in
	openat2 bool    // openat2 works here (probed at Open); else the walk resolves
	epoch   time.Time
	valid   int64 // opts.Valid in index-clock nanoseconds
	seed    maphash.Seed
	shards  []shard
	mask    uint64
	closed  atomic.Bool

	// Listings. One is at most listMax bytes. listed counts the bytes of
	// every listing body alive; loose those of the ones the cache does not
	// hold (never cached, or evicted or replaced while responses still
	// send them, and builds in progress, at listMax each), which may not
	// pass listBudget: the cache's share is bounded by its own budget.
	// built counts the listings built, for tests and metrics.
	listMax, listBudget int64
	listed, loose       atomic.Int64
	built               atomic.Uint64
}

// ErrMemory is returned, with Failed, by a Lookup that would build a
// listing while the listings held by responses alone, outside the cache,
// take their whole budget (a quarter of Options.MemoryBudget). It passes
// as those responses end (or time out); epfs answers 503.
var ErrMemory = errors.New("fsindex: listing memory budget exhausted")

// Open opens the root directory named by opts.Root and returns an Index
// over it. It probes openat2 once (the syscalls it makes are uncounted) and
// falls back to the component walk if the kernel lacks it (ENOSYS) or a
// sandbox refuses it (EPERM).
func Open(opts Options) (*Index, error) {
	return open(opts, false)
}

// open is Open with a test hook: walk forces the fallback resolver.
func open(opts Options, walk bool) (*Index, error) {
	if opts.Root == "" {
		return nil, errors.New("fsindex: Options.Root is empty")
	}
	opts = opts.withDefaults()
	if strings.ContainsAny(opts.Index, "/\x00") || opts.Index == "." || opts.Index == ".." {
		return nil, fmt.Errorf("fsindex: Options.Index %q must be a plain file name", opts.Index)
	}
	var c *syscount.Counters
	root, err := c.Openat(unix.AT_FDCWD, opts.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOTDIR {
			return nil, fmt.Errorf("fsindex: root %s is not a directory", opts.Root)
		}
		return nil, fmt.Errorf("fsindex: open root %s: %w", opts.Root, err)
	}
	x := &Index{root: root, opts: opts, epoch: time.Now(), valid: int64(opts.Valid), seed: maphash.MakeSeed()}
	x.openat2 = !walk && probeOpenat2(c, root)
	x.initShards()
	// A listing must fit a shard's byte budget several times over, or it
	// could never be cached and would be rebuilt per request.
	x.listMax = max(4<<10, min(maxListingBytes, x.shards[0].maxBytes/4))
	x.listBudget = max(opts.MemoryBudget/4, x.listMax)
	return x, nil
}

// probeOpenat2 reports whether openat2 resolves beneath a directory here.
// Probing once, as nginx probes EPOLLRDHUP, keeps the ENOSYS or EPERM
// answer off every later miss.
func probeOpenat2(c *syscount.Counters, root int) bool {
	how := unix.OpenHow{Flags: modePath, Resolve: resolveFlags}
	fd, err := c.Openat2(root, ".", &how)
	if err != nil {
		return false // ENOSYS, EPERM (seccomp), E2BIG: use the walk
	}
	c.Close(fd)
	return true
}

// UsesOpenat2 reports whether lookups resolve with openat2 (true) or with
// the fallback walk (false).
func (x *Index) UsesOpenat2() bool { return x.openat2 }

// Close drops the cache's references and closes the root. Entries still
// held keep their descriptors until released. Lookups after Close fail with
// ErrClosed.
func (x *Index) Close(c *syscount.Counters) error {
	if x.closed.Swap(true) {
		return ErrClosed
	}
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		drop := sh.ring
		sh.reset()
		sh.mu.Unlock()
		for _, e := range drop {
			if e != nil {
				e.drop(c)
			}
		}
	}
	return c.Close(x.root)
}

// now is the index clock: monotonic nanoseconds since Open.
func (x *Index) now() int64 { return int64(time.Since(x.epoch)) }

func (x *Index) shardFor(path string) *shard {
	return &x.shards[maphash.String(x.seed, path)&x.mask]
}

// Lookup resolves path, an absolute URL path already percent-decoded and
// normalised by the HTTP layer ("/", "/a/b.css", "/docs/"), and says how to
// answer it. For Found and Listing it returns an Entry holding one
// reference, which the caller must Release; for every other result the
// Entry is nil. The error is non-nil only with Failed.
//
// A hit on a fresh entry makes no system call and does not allocate. A
// stale hit revalidates with one openat2(O_PATH) and one fstat (a stale
// listing is rebuilt). A miss resolves, opens and fstats, reads a small
// file, and looks for variants. Concurrent slow lookups of one path share
// one such piece of work. c counts those calls; it may be nil.
//
// Lookup never retains path: the slow path works on its own copy. So a
// caller may pass a string that aliases a reusable buffer (unsafe.String over
// a connection's decoded-path bytes) and still pay no allocation on a hit.
func (x *Index) Lookup(c *syscount.Counters, path string) (*Entry, Result, error) {
	now := x.now()
	sh := x.shardFor(path)
	e, ok := x.hit(sh, path, now)
	if ok {
		return entryResult(e)
	}
	return x.lookupSlow(c, sh, path, e, now)
}

// LookupCached answers path from the cache alone, as Lookup would, but
// only when that needs no system call: ok is true for a hit on a fresh
// entry (or a fresh cached miss), with e and r what Lookup returns and e
// holding one reference the same way. ok is false, with nothing taken,
// when Lookup would go to the disk: a miss, or an entry past its validity
// that must be revalidated. The caller may then call Lookup on another
// goroutine (a thread that may block) with that goroutine's counters.
//
// It makes no system call, counts nothing, allocates nothing and never
// retains path.
func (x *Index) LookupCached(path string) (e *Entry, r Result, ok bool) {
	e, ok = x.hit(x.shardFor(path), path, x.now())
	if !ok {
		return nil, Failed, false
	}
	e, r, _ = entryResult(e)
	return e, r, true
}

// hit looks path up in its shard. If the entry is fresh it returns it with
// ok, referenced for the caller when it holds a descriptor; otherwise it
// returns the stale entry (or nil), unreferenced, for lookupSlow.
func (x *Index) hit(sh *shard, path string, now int64) (e *Entry, ok bool) {
	sh.mu.RLock()
	e = sh.m[path]
	if e == nil || !x.fresh(e, now) {
		sh.mu.RUnlock()
		return e, false
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	// Taken under the read lock: eviction needs the write lock, so the
	// cache's own reference cannot be dropped before ours exists. Results
	// past Listing carry no entry for the caller, hence no reference.
	if e.result <= Listing && e.counted() {
		e.refs.Add(1)
	}
	sh.mu.RUnlock()
	return e, true
}

// fresh reports whether e may be used without going to the disk.
func (x *Index) fresh(e *Entry, now int64) bool {
	if e.positive() {
		return now-e.checked.Load() < x.valid
	}
	return now < e.expires
}

// ListingBytes returns the bytes of the listing bodies alive now: cached
// ones, and loose ones, held only by responses (never cached, or evicted
// or replaced while being sent) or being built. Only the loose ones count
// against the listing budget (see ErrMemory).
func (x *Index) ListingBytes() (cached, loose int64) {
	l := x.loose.Load()
	return x.listed.Load() - l, l
}

// ListingsBuilt returns how many listings have been built since Open
// (including rebuilds that found the listing unchanged).
func (x *Index) ListingsBuilt() uint64 { return x.built.Load() }

// lookupSlow revalidates a stale entry or resolves the path afresh, once
// for all the goroutines that ask for path meanwhile: the first starts a
// flight, the others wait for it and share its answer. So a directory of
// 10,000 names is listed once however many requests want it at once, and
// every one of them holds the same body.
func (x *Index) lookupSlow(c *syscount.Counters, sh *shard, path string, stale *Entry, now int64) (*Entry, Result, error) {
	if x.closed.Load() {
		return nil, Failed, ErrClosed
	}
	sh.mu.Lock()
	if f := sh.flights[path]; f != nil {
		f.waiters++
		sh.mu.Unlock()
		<-f.done
		return f.e, f.r, f.err
	}
	// Everything kept from here on derives from this copy, never from the
	// caller's string, which may alias a buffer the caller will reuse.
	path = strings.Clone(path)
	f := &flight{done: make(chan struct{})}
	sh.flights[path] = f
	sh.mu.Unlock()
	e, r, err := x.resolveSlow(c, sh, path, stale, now)
	sh.mu.Lock()
	delete(sh.flights, path)
	if e != nil && e.counted() {
		// One reference per waiter, taken while ours keeps e alive.
		e.refs.Add(int32(f.waiters))
	}
	sh.mu.Unlock()
	f.e, f.r, f.err = e, r, err
	close(f.done)
	return e, r, err
}

// flight is one slow lookup in progress, shared by the lookups of the same
// path that arrive while it runs. waiters is guarded by the shard's lock;
// e, r and err are written before done is closed and read after.
type flight struct {
	done    chan struct{}
	waiters int
	e       *Entry
	r       Result
	err     error
}

// resolveSlow is lookupSlow's work: revalidate stale, or build afresh.
func (x *Index) resolveSlow(c *syscount.Counters, sh *shard, path string, stale *Entry, now int64) (*Entry, Result, error) {
	if stale != nil && stale.result == Listing {
		return x.relist(c, sh, path, stale, now)
	}
	if stale != nil && stale.positive() && x.unchanged(c, stale) {
		// now was read before the check began, so the validity window
		// never extends past a change the check could have missed.
		stale.checked.Store(now)
		if e, ok := sh.hold(path, stale); ok {
			x.offer(e) // a job the full queue refused is offered again
			return entryResult(e)
		}
	}
	e, err := x.build(c, path, now)
	if err != nil {
		return nil, Failed, err
	}
	if e.key != "" && x.publish(c, sh, e) {
		// Only a cached entry is compressed: its variants live and go
		// with it, and an uncached one could hold none.
		x.offer(e)
	}
	return entryResult(e)
}

// relist rebuilds a stale listing. The directory's own identity cannot
// tell: a file rewritten in place changes its size and time in the
// listing without touching the directory. If the new body is the old one
// byte for byte, the old entry stays (same ETag, one body alive) and is
// trusted for another Valid; otherwise the new one replaces it.
func (x *Index) relist(c *syscount.Counters, sh *shard, path string, stale *Entry, now int64) (*Entry, Result, error) {
	e, err := x.build(c, path, now)
	if err != nil {
		return nil, Failed, err
	}
	if e.result == Listing && bytes.Equal(e.Body, stale.Body) && bytes.Equal(e.json.Body, stale.json.Body) && e.ModTime.Equal(stale.ModTime) {
		if old, ok := sh.hold(path, stale); ok {
			stale.checked.Store(now)
			e.Release(c)
			return entryResult(old)
		}
	}
	if e.key != "" {
		x.publish(c, sh, e)
	}
	return entryResult(e)
}

func entryResult(e *Entry) (*Entry, Result, error) {
	if e.result > Listing {
		return nil, e.result, nil
	}
	return e, e.result, nil
}

// unchanged reports whether the path e was filled from still names the same
// version of the same file, and its variants are as they were. It looks the
// path up again beneath the root: a stat of a joined path string would
// follow a symlink swapped in since, out of the root.
func (x *Index) unchanged(c *syscount.Counters, e *Entry) bool {
	var st unix.Stat_t
	fd, err := x.open(c, e.openPath, modePath, &st)
	if err != nil {
		return false
	}
	c.Close(fd)
	if idOf(&st) != e.id {
		return false
	}
	if e.result != Found || !x.opts.Precompressed {
		return true
	}
	for enc := Brotli; enc < numEncodings; enc++ {
		var id fileID
		fd, err := x.open(c, e.openPath+encodingSuffixes[enc], modePath, &st)
		if err == nil {
			c.Close(fd)
			id = idOf(&st)
		} else if classify(err) == Failed {
			return false
		}
		if id != e.varIDs[enc] {
			return false
		}
	}
	return true
}
