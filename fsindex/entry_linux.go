//go:build linux

package fsindex

import (
	"sync/atomic"
	"time"

	"github.com/epfs/epfs/internal/enum"
	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// Result says what a path resolved to, and so which response it gets.
type Result uint8

// Results of [Index.Lookup]. Only Found and Listing come with an Entry.
const (
	Found         Result = iota // a regular file: serve the Entry (200, 206, 304...)
	Listing                     // a generated directory listing: Entry.Body is its HTML, Entry.JSON its JSON form
	RedirectSlash               // a directory named without its trailing "/": answer 301 to path+"/"
	NotFound                    // nothing servable: missing, a dotfile, a malformed path (404)
	Forbidden                   // exists but is never served: a special file, an escape, a directory with no index (403)
	Failed                      // the lookup itself failed (EMFILE, EIO...): the error says why (500 or 503)
)

var resultNames = [...]string{"found", "listing", "redirect-slash", "not-found", "forbidden", "failed"}

// String returns the result's name, for logs and tests.
func (r Result) String() string { return enum.Name(resultNames[:], r) }

// Encoding names a content coding (RFC 9110 §8.4.1) in which a precompressed
// variant of a file is stored beside it.
type Encoding uint8

// Content codings with their file suffixes. Identity is the file itself.
const (
	Identity Encoding = iota // no coding: the original file
	Brotli                   // "br", stored as name.br (RFC 7932)
	Zstd                     // "zstd", stored as name.zst (RFC 8878)
	Gzip                     // "gzip", stored as name.gz (RFC 1952)
	numEncodings
)

var (
	encodingNames    = [numEncodings]string{"identity", "br", "zstd", "gzip"}
	encodingSuffixes = [numEncodings]string{"", ".br", ".zst", ".gz"}
)

// String returns the content-coding token, as Content-Encoding carries it.
func (e Encoding) String() string { return enum.Name(encodingNames[:], e) }

// Entry is what a response needs to know about one file: an open descriptor
// or the bytes themselves, and the metadata headers are built from.
//
// An Entry is immutable once Lookup has returned it: every exported field
// may be read without locks by any goroutine holding a reference, and must
// not be written. Lookup takes one reference for its caller; the caller
// drops it with Release when the response (every byte of the body) is done.
// The descriptor stays open until the last reference is dropped, even if the
// cache has evicted or replaced the entry meanwhile.
type Entry struct {
	// Fd is a descriptor open for reading the file, or -1 when Body holds
	// the bytes (small files, listings). It is shared by every response
	// that sends the file: read it only at explicit offsets (pread,
	// sendfile with a non-nil offset), never through the file position.
	// Its O_NONBLOCK flag is set and, for a regular file, ignored by the
	// kernel (open(2): "no effect for regular files").
	Fd int

	// Size is the length in bytes when the entry was filled.
	Size int64

	// ModTime is the file's modification time (for a listing, the
	// directory's).
	ModTime time.Time

	// Inode is the file's inode number.
	Inode uint64

	// ETag is a strong entity tag, quoted: "inode-size-mtime" in hex for a
	// file, a hash of the body for a listing. It is stable across restarts.
	ETag string

	// LastModified is ModTime as an IMF-fixdate, ready for the header.
	LastModified string

	// ContentType is the Content-Type value from the built-in table
	// (see ContentType). A variant carries the type of the original.
	ContentType string

	// Body holds the file's bytes when it is small enough to keep (len(Body)
	// == Size), or a listing's HTML; nil otherwise. A non-nil Body is
	// exactly the bytes the ETag and Size describe. Do not modify it.
	Body []byte

	// Header is what Options.Header returned for the entry's path: field
	// lines, each "\r\nName: value", appended as they are to the head of
	// a response that carries the entry. A variant shares its original's.
	// Nil when there are none. Do not modify it.
	Header []byte

	// Encoding is Identity for a file looked up by path, and the coding of
	// a variant returned by Variant.
	Encoding Encoding

	// Computed is true for a variant a Compressor made (Options.Compressor),
	// false for the identity and for a sidecar file's variant. Its bytes
	// exist only in memory and only while its entry is cached, so a sender
	// should answer a Range with the identity (epfs does; see transmit).
	Computed bool

	variants [numEncodings]*Entry // [Brotli..Gzip]: usable precompressed variants, or nil
	json     *Entry               // a listing's JSON form; nil for anything else
	form     bool                 // this is a listing's JSON form: it shares the listing's reference

	// Computed variants. computed[enc] is nil until a Job attaches one
	// (under the shard's write lock), then never changes; it is read
	// without locks. compressible is set when the entry is built: it gets
	// computed variants (and so varies by Accept-Encoding). cstate is
	// cIdle, cQueued or cDone (see offer). cvars and cbytes count the
	// attached variants and their bytes, under the shard's lock.
	computed     [numEncodings]atomic.Pointer[Entry]
	compressible bool
	cstate       atomic.Uint32
	cvars        int
	cbytes       int64

	key      string               // the cache key: the request path
	openPath string               // root-relative path that was opened, and is revalidated
	result   Result               // what key resolved to
	id       fileID               // identity of openPath when filled
	varIDs   [numEncodings]fileID // identity of openPath+suffix when filled (zero: absent)
	expires  int64                // negative entries: index clock at which the miss is forgotten
	refs     atomic.Int32         // if counted: one for the cache while it is in a shard, one per Lookup not yet released
	checked  atomic.Int64         // index clock when the entry was last known to match the disk
	used     atomic.Bool          // CLOCK reference bit: set on a hit, cleared by the sweeping hand
	slot     int                  // index in the shard's ring while cached
	fds      int                  // descriptors held by the entry and its variants
	bytes    int64                // body bytes held by the entry and its variants
	owner    *Index               // a listing's Index, whose listing tallies count it until its last reference goes; nil otherwise
	loose    atomic.Bool          // a listing not held by the cache: counted in owner.loose
}

// Variant returns the variant of e in enc, or nil when there is none that
// may be served. A sidecar file comes first: precompressed lookups are on,
// name.br (.zst, .gz) exists beside the file, is a regular file and is not
// older than the original. Otherwise a computed variant (Options.Compressor)
// once it is built: until then, and for files the Compressor does not take,
// nil. The variant shares e's reference: it stays valid while e is held,
// and is never released by itself.
func (e *Entry) Variant(enc Encoding) *Entry {
	if enc == Identity || enc >= numEncodings {
		return nil
	}
	if v := e.variants[enc]; v != nil {
		return v
	}
	return e.computed[enc].Load()
}

// Negotiated reports whether the representation sent for e depends on
// Accept-Encoding: it has a sidecar variant, or gets computed ones (built
// or not yet). Every response about such a resource, identity and 304
// included, should carry "Vary: Accept-Encoding" (RFC 9110 §12.5.5).
func (e *Entry) Negotiated() bool {
	return e.compressible || e.variants[Brotli] != nil || e.variants[Zstd] != nil || e.variants[Gzip] != nil
}

// JSON returns the JSON form of a listing (see the package doc), or nil
// when e is not a listing. It is built with the page, from the same
// directory read, and has its own Body, Size, ETag and ContentType
// ("application/json"). Like a variant it shares e's reference: it stays
// valid while e is held, and is never released by itself.
func (e *Entry) JSON() *Entry { return e.json }

// Release drops the reference Lookup took. It must be called exactly once
// per Entry that Lookup returned, after the last use of its Fd or Body; the
// caller's counters account the close(2) that may follow. Releasing a
// variant panics; so does releasing twice an entry that holds descriptors
// or a listing (a small file served from memory cannot tell, but its
// holder must not rely on it).
func (e *Entry) Release(c *syscount.Counters) {
	if e.Encoding != Identity || e.form {
		panic("fsindex: Release of a variant or a listing's JSON form; release the entry Lookup returned")
	}
	if e.counted() {
		e.unref(c)
	}
}

// counted reports whether e's references are counted: an entry that
// holds descriptors, which its last user closes, and a listing, whose body
// its last user takes off the listing budget. A small file's entry is kept
// alive by the garbage collector for as long as anyone holds it, so its
// hits and releases skip the shared counter, whose cache line would
// otherwise bounce between the loops on every hit.
func (e *Entry) counted() bool { return e.fds > 0 || e.owner != nil }

// unref drops one reference; the last one closes the descriptors and takes
// a listing's body off the budget.
func (e *Entry) unref(c *syscount.Counters) {
	n := e.refs.Add(-1)
	if n > 0 {
		return
	}
	if n < 0 {
		panic("fsindex: Entry released more often than it was looked up")
	}
	if x := e.owner; x != nil {
		x.listed.Add(-e.bytes)
		if e.loose.Load() {
			x.loose.Add(-e.bytes)
		}
	}
	e.closeFds(c)
}

func (e *Entry) closeFds(c *syscount.Counters) {
	if e.Fd >= 0 {
		// Never retried: see syscount.Counters.Close.
		c.Close(e.Fd)
	}
	for _, v := range e.variants {
		if v != nil && v.Fd >= 0 {
			c.Close(v.Fd)
		}
	}
}

// positive reports whether e is revalidated by identity (found files,
// listings, redirects) rather than forgotten after a time (misses).
func (e *Entry) positive() bool { return e.result < NotFound }

// fileID is what revalidation compares: the object a path names and the
// version of it. ctime is included because it moves on every write and
// metadata change even when a tool (touch -d, rsync -t, tar) sets mtime back.
type fileID struct {
	dev, ino    uint64
	mode        uint32
	size        int64
	mtime, ctim unix.Timespec
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: st.Dev, ino: st.Ino, mode: st.Mode, size: st.Size, mtime: st.Mtim, ctim: st.Ctim}
}
