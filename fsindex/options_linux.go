//go:build linux

package fsindex

import "time"

// Options configures an [Index]. Every field but Root has a default, chosen
// by its zero value.
type Options struct {
	// Root is the directory served. Open fails if it is missing or is not a
	// directory. A symlink naming the root is followed once, at Open.
	Root string

	// Index is the file served for a directory URL ending in "/", looked up
	// beneath the directory. Default "index.html".
	Index string

	// Listing generates an HTML listing for a directory that has no index
	// file. Without it such a directory is Forbidden.
	Listing bool

	// AllowDotfiles serves paths with a segment starting with "."; by
	// default they are NotFound and are hidden from listings.
	AllowDotfiles bool

	// Precompressed looks for name.br, name.zst and name.gz beside each file
	// and offers them as variants.
	Precompressed bool

	// Compressor, if set, builds gzip, brotli and zstd variants of the
	// cached files it finds compressible, on threads of its own (see
	// Compressor; package fsindex/compress). A sidecar file
	// (Precompressed) wins over a computed variant of the same coding.
	// Computed variants count against MemoryBudget and go when their
	// entry goes. Default nil: none.
	Compressor Compressor

	// SmallFileMax is the largest file whose bytes are kept in the entry.
	// Default 16 KiB (see the package documentation for the measurement);
	// negative: never keep bytes.
	SmallFileMax int64

	// MemoryBudget bounds the bytes of file bodies and listings the cache
	// keeps. Default 64 MiB.
	MemoryBudget int64

	// MaxEntries bounds the number of cached paths, found and missing.
	// Default 8192.
	MaxEntries int

	// MaxFds bounds the descriptors the cache keeps open. Default 1024.
	// Keep it well under RLIMIT_NOFILE minus the connections the server
	// accepts: an in-flight transfer can hold an evicted descriptor past
	// the budget until it ends.
	MaxFds int

	// Valid is how long a cached entry is trusted before the next lookup
	// revalidates it. Default 1 s; negative: revalidate on every lookup.
	Valid time.Duration

	// NegativeValid is how long a miss (NotFound or Forbidden) is
	// remembered. Default 1 s; negative: misses are not cached.
	NegativeValid time.Duration

	// ContentTypes maps a lower-case extension, without its dot, to the
	// Content-Type of the files that have it; ContentTypes builds one
	// from the built-in table, a system table and overrides. It is read
	// once per cache entry, never per request. Default (nil): the built-in
	// table alone.
	ContentTypes map[string]string

	// Header, if set, returns the header field lines every response that
	// carries an entry sends, given the path of the file the entry serves:
	// "/" and the root-relative path opened, so the index file answering
	// "/dir/" is "/dir/index.html" and a fallback or error page is its own
	// path, never the URL asked for; a listing is its directory's path with
	// a trailing "/" ("/" for the root). It is called once per entry built,
	// from any goroutine that builds one, and its result is kept as
	// Entry.Header: what depends on the path alone is worked out here, not
	// per request. Nil: no fields.
	Header func(path string) []byte
}

// The defaults, as documented on Options.
const (
	DefaultIndex         = "index.html"
	DefaultSmallFileMax  = 16 << 10
	DefaultMemoryBudget  = 64 << 20
	DefaultMaxEntries    = 8192
	DefaultMaxFds        = 1024
	DefaultValid         = time.Second
	DefaultNegativeValid = time.Second
)

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Index == "" {
		o.Index = DefaultIndex
	}
	if o.ContentTypes == nil {
		o.ContentTypes = contentTypes
	}
	if o.SmallFileMax == 0 {
		o.SmallFileMax = DefaultSmallFileMax
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxFds <= 0 {
		o.MaxFds = DefaultMaxFds
	}
	if o.Valid == 0 {
		o.Valid = DefaultValid
	}
	if o.Valid < 0 {
		o.Valid = 0
	}
	if o.NegativeValid == 0 {
		o.NegativeValid = DefaultNegativeValid
	}
	return o
}
