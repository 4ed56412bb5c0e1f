package transmit

import (
	"errors"

	"github.com/epfs/epfs/internal/enum"
)

// Strategy selects how file bytes reach the socket. It is chosen once per
// server; every strategy is a resumable state machine with the same outcomes.
type Strategy uint8

// Body strategies. Sendfile is the zero value and the default.
const (
	// Sendfile moves bytes from the page cache to the socket with
	// sendfile(2) at an explicit 64-bit offset: no copy through user space.
	Sendfile Strategy = iota
	// Splice moves bytes file → pipe → socket with splice(2), through a pipe
	// per transfer in flight taken from the Writer's pool.
	Splice
	// Copy reads with pread(2) into a buffer and writes it: two copies
	// through user space, kept as the baseline the others are measured by.
	Copy
	numStrategies
)

var strategyNames = [numStrategies]string{"sendfile", "splice", "copy"}

// String returns the strategy's name, as ParseStrategy accepts it.
func (s Strategy) String() string { return enum.Name(strategyNames[:], s) }

// ErrUnknownStrategy is returned by ParseStrategy for a name it does not know.
var ErrUnknownStrategy = errors.New(`transmit: unknown strategy (want "sendfile", "splice" or "copy")`)

// ParseStrategy returns the strategy named "sendfile", "splice" or "copy".
func ParseStrategy(name string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == name {
			return Strategy(i), nil
		}
	}
	return Sendfile, ErrUnknownStrategy
}

// Defaults and caps, as documented on Config.
const (
	DefaultBudget    = 2 << 20
	MinBudget        = 16 << 10
	DefaultMaxRanges = 16
	MaxRangesCap     = 64
)

// Config configures a Writer. Every zero field means its default.
type Config struct {
	// ServerHeader is the value of the Server field; "" sends none.
	ServerHeader string
	// CacheControl is the value of the Cache-Control field on responses
	// that carry a representation (200, 206, 304); "" sends none.
	CacheControl string
	// Fields are header field lines added to every response, errors
	// included, each "\r\nName: value", the form a head carries. They are
	// appended as they are: the caller checks names and values (RFC 9110
	// §5.1, §5.5) and keeps out the fields this package writes itself.
	// Fields that depend on the file served come with the entry instead
	// (fsindex.Entry.Header).
	Fields []byte
	// Strategy is how file bodies are moved (default Sendfile).
	Strategy Strategy
	// Budget bounds the bytes one Step writes to the socket, head and body
	// together, before it yields to the loop's other connections (default
	// 2 MiB, as nginx's sendfile_max_chunk; at least MinBudget). It is also
	// the chunk one probe vouches for. Measured on loopback, 100 MiB to 4
	// connections (docs/BENCHMARKS.md): 1 MiB made 1.9 sendfile and 1.0
	// cachestat per MiB, 2 MiB 1.3 and 0.5, 4 MiB 1.25 and 0.25; 2 MiB
	// keeps a turn near a millisecond at loopback speed for most of the gain.
	Budget int
	// MaxRanges is how many ranges one Range field may ask for before the
	// field is ignored and the whole representation sent (RFC 9110 §14.2's
	// security note). Default 16, at most MaxRangesCap.
	MaxRanges int
	// Probe makes Step check, before it sends a chunk of a file (at most
	// Budget bytes), that the chunk is in the page cache: a one-byte
	// preadv2(2) with RWF_NOWAIT at its first and at its last byte. A chunk
	// that is not resident is not sent: Step returns Cold and the caller
	// reads it in off the loop (see Fetch). Off (the default), file bytes
	// are sent as they are, and a cache miss blocks the calling thread.
	Probe bool
	// Cachestat makes the Probe one cachestat(2) over the chunk and 4 MiB
	// after it instead (Linux 6.5+): one call per chunk where the file is
	// resident, and it sees a missing page anywhere in the chunk, where the
	// one-byte probes see only its ends. Where this response's own reads
	// may still be in flight the one-byte probes run as well (cachestat
	// counts a page under read as cached). Set it where CachestatUsable
	// returned nil; if the kernel refuses a call later (EPERM, on kernels
	// that show the page cache only for files the process could write),
	// the Writer goes back to the one-byte probes and counts it
	// (CachestatRefused). See cold_linux.go.
	Cachestat bool
}

// withDefaults returns cfg with every zero field set to its default and every
// field clamped to its bounds.
func (cfg Config) withDefaults() Config {
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	cfg.Budget = max(cfg.Budget, MinBudget)
	if cfg.MaxRanges <= 0 {
		cfg.MaxRanges = DefaultMaxRanges
	}
	cfg.MaxRanges = min(cfg.MaxRanges, MaxRangesCap)
	if cfg.Strategy >= numStrategies {
		cfg.Strategy = Sendfile
	}
	return cfg
}
