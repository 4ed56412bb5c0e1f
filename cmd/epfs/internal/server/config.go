package server

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/epfs/epfs/fsindex/compress"
	"github.com/epfs/epfs/poller"
	"github.com/epfs/epfs/transmit"
	"github.com/rs/zerolog"
)

// Config is everything a Server needs, already parsed. The command line
// fills it; Validate checks it once, before anything starts.
type Config struct {
	Root   string   // directory served
	Listen []string // addresses: "host:port", "[::]:port", "unix:/path"
	Loops  int      // event loops (default: CPU count)

	// Inherited are listening sockets handed in by a service manager (see
	// Activation). When set, Listen is ignored: every loop accepts on each
	// inherited socket (EPOLLEXCLUSIVE), and a shutdown stops accepting on
	// them without shutting them down, so other holders keep serving.
	Inherited      []*poller.Listener
	InheritedNames []string // LISTEN_FDNAMES, for the start-up line

	MaxConns        int           // open connections at most, across loops; over it: 503 and close
	HeaderTimeout   time.Duration // first byte of a request to the end of its head
	IdleTimeout     time.Duration // keep-alive connection with no request in progress
	WriteTimeout    time.Duration // a response that makes no progress for this long is abandoned
	ShutdownTimeout time.Duration // how long responses in flight may finish after SIGTERM
	MaxHeaderBytes  int           // request head size limit (431 beyond)

	Index         string // index file name for directory URLs
	Autoindex     bool   // generate listings for directories without an index
	AllowDotfiles bool   // serve paths with a segment starting with "."
	Precompressed bool   // serve name.br/.zst/.gz to clients that accept them
	Fallback      string // URL path served with 200 for paths that do not exist ("" for none)
	ServerHeader  string // Server field value ("" for none)
	// CacheControl gives the responses carrying a file (200, 206, 304, an
	// error page) the Cache-Control of the first rule whose glob matches
	// the path of the file served; none matching, none sent.
	CacheControl []CacheRule
	// Headers add fields: one without a glob to every response, the
	// built-in errors and refusals included; one with a glob to the
	// responses carrying a file whose path matches it.
	Headers []HeaderRule
	// ErrorPages maps a status to the URL path of the file served, with
	// that status, in place of its built-in text (see PageStatuses).
	ErrorPages map[int]string
	// Compress builds gzip, brotli and zstd variants of compressible files
	// (see fsindex/compress) once per version, on threads of their own,
	// and serves them from the cache. The fields after it tune it; each
	// zero means the compress package's default.
	Compress            bool
	CompressGzipLevel   int   // 1-9
	CompressBrotliLevel int   // 0-11 (0 is brotli's fastest; unset is the default)
	CompressZstdLevel   int   // 1-22
	CompressMin         int64 // smallest file compressed, in bytes
	CompressMax         int64 // largest file compressed, in bytes
	CompressThreads     int   // compression threads, 1-64
	// ContentTypes maps a lower-case extension to its Content-Type
	// (fsindex.ContentTypes builds one); nil: fsindex's built-in table.
	ContentTypes map[string]string
	Transmit     string // body strategy: sendfile, splice or copy
	// SendBudget is how many bytes one response writes in one turn before
	// the loop's other connections go (0: transmit.DefaultBudget; from
	// transmit.MinBudget to MaxSendBudget). It is also the chunk the
	// residency probe vouches for, so a larger budget means fewer probes
	// and fewer, larger sendfile calls, and a longer turn (see
	// docs/BENCHMARKS.md).
	SendBudget int
	// IOThreads is the size of the I/O pool that reads cold file ranges
	// into the page cache off the loops (0: DefaultIOThreads). Negative
	// turns the pool off, and the probing with it (--io-threads 0): a
	// file range missing from the page cache then blocks its loop.
	IOThreads int

	// AccessLog receives one JSON line per response; nil turns it off.
	AccessLog io.Writer
	// Reopen, if set, is called on SIGHUP to reopen the access log (log
	// rotation); it returns the new writer.
	Reopen func() (io.Writer, error)
	// Log receives lifecycle and error events.
	Log zerolog.Logger
	// AdminIdleTimeout closes an admin listener connection (ServeAdmin)
	// that has had no request for this long.
	AdminIdleTimeout time.Duration
	// AdminMaxConns is how many admin listener connections may be open at
	// once; one more is closed as soon as it is accepted.
	AdminMaxConns int

	// Trace logs one line per system call on the serving path to Log, at
	// zerolog's trace level, which it enables (the study mode: slow,
	// synchronous, never for production traffic).
	Trace bool
	// Version is the program's version, for the start-up line.
	Version string
}

// Defaults for the fields a zero Config leaves open.
const (
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultWriteTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxHeaderBytes  = 8 << 10
	DefaultMaxConns        = 10000
	DefaultIOThreads       = 2
	MaxSendBudget          = 64 << 20 // a turn of 64 MiB is tens of milliseconds at loopback speed
	// A Prometheus scraper keeps one connection and asks every 15 s or
	// so; a minute idle outlasts any scrape interval in use.
	DefaultAdminIdleTimeout = 60 * time.Second
	DefaultAdminMaxConns    = 16
)

// compressOptions returns the compression pool's options from c.
func (c *Config) compressOptions() compress.Options {
	return compress.Options{Threads: c.CompressThreads, Min: c.CompressMin, Max: c.CompressMax,
		GzipLevel: c.CompressGzipLevel, BrotliLevel: c.CompressBrotliLevel, ZstdLevel: c.CompressZstdLevel}
}

// validateCompress checks the compression fields, naming the flag of the
// first one that is wrong. A brotli level of 0 is valid (its fastest) but
// reads as "default" here, so the command line passes -1 for it.
func (c *Config) validateCompress() error {
	if !c.Compress {
		return nil
	}
	switch {
	case c.CompressGzipLevel < 0 || c.CompressGzipLevel > 9:
		return fmt.Errorf("--compress-gzip-level %d: want 1 to 9", c.CompressGzipLevel)
	case c.CompressBrotliLevel < -1 || c.CompressBrotliLevel > 11:
		return fmt.Errorf("--compress-brotli-level %d: want 0 to 11", c.CompressBrotliLevel)
	case c.CompressZstdLevel < 0 || c.CompressZstdLevel > 22:
		return fmt.Errorf("--compress-zstd-level %d: want 1 to 22", c.CompressZstdLevel)
	case c.CompressThreads < 0 || c.CompressThreads > 64:
		return fmt.Errorf("--compress-threads %d: want 1 to 64", c.CompressThreads)
	case c.CompressMin < 0:
		return fmt.Errorf("--compress-min %d: want a size of at least 1 byte", int(c.CompressMin))
	case c.CompressMax < 0 || c.CompressMin > 0 && c.CompressMax > 0 && c.CompressMax < c.CompressMin:
		return fmt.Errorf("--compress-max %d: want at least --compress-min", int(c.CompressMax))
	}
	if _, err := c.compressOptions().Check(); err != nil {
		// A maximum under the default minimum, or the reverse.
		return fmt.Errorf("--compress-min, --compress-max: %v", err)
	}
	return nil
}

// timeout is one of the Config's timeouts: its flag, the field, and the
// default a zero value stands for.
type timeout struct {
	flag string
	v    *time.Duration
	def  time.Duration
}

// timeouts lists the timeouts, so defaults and checks are written once.
func (c *Config) timeouts() []timeout {
	return []timeout{
		{"--header-timeout", &c.HeaderTimeout, DefaultHeaderTimeout},
		{"--idle-timeout", &c.IdleTimeout, DefaultIdleTimeout},
		{"--write-timeout", &c.WriteTimeout, DefaultWriteTimeout},
		{"--shutdown-timeout", &c.ShutdownTimeout, DefaultShutdownTimeout},
		{"--admin-idle-timeout", &c.AdminIdleTimeout, DefaultAdminIdleTimeout},
	}
}

// applyDefaults fills zero fields with their defaults.
func (c *Config) applyDefaults() {
	if c.Root == "" {
		c.Root = "."
	}
	if len(c.Listen) == 0 {
		c.Listen = []string{":8080"}
	}
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.AdminMaxConns == 0 {
		c.AdminMaxConns = DefaultAdminMaxConns
	}
	for _, d := range c.timeouts() {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.IOThreads == 0 {
		c.IOThreads = DefaultIOThreads
	}
	if c.Transmit == "" {
		c.Transmit = "sendfile"
	}
}

// Validate fills defaults and checks every field, naming the flag of the
// first one that is wrong.
func (c *Config) Validate() error {
	c.applyDefaults()
	switch {
	case c.Loops < 1 || c.Loops > 1024:
		return fmt.Errorf("--loops %d: want 1 to 1024", c.Loops)
	case c.MaxConns < 1:
		return fmt.Errorf("--max-conns %d: want at least 1", c.MaxConns)
	case c.AdminMaxConns < 1:
		return fmt.Errorf("--admin-max-conns %d: want at least 1", c.AdminMaxConns)
	case c.SendBudget < 0 || c.SendBudget > 0 && c.SendBudget < transmit.MinBudget || c.SendBudget > MaxSendBudget:
		return fmt.Errorf("--send-budget %d: want %d to %d bytes", c.SendBudget, transmit.MinBudget, MaxSendBudget)
	case c.IOThreads > 64:
		return fmt.Errorf("--io-threads %d: want 0 to 64", c.IOThreads)
	case c.MaxHeaderBytes < 256 || c.MaxHeaderBytes > 1<<20:
		return fmt.Errorf("--max-header-bytes %d: want 256 to 1048576", c.MaxHeaderBytes)
	case c.Fallback != "" && c.Fallback[0] != '/':
		return fmt.Errorf("--fallback %s: want a URL path starting with /", c.Fallback)
	}
	if err := c.validateCompress(); err != nil {
		return err
	}
	for _, d := range c.timeouts() {
		if *d.v < 0 {
			return fmt.Errorf("%s %v: want a positive duration", d.flag, *d.v)
		}
	}
	for _, r := range c.Index {
		if r == '/' {
			return fmt.Errorf("--index %s: want a file name, not a path", c.Index)
		}
	}
	if err := checkValue(c.ServerHeader); err != nil {
		return fmt.Errorf("--server-header %q: %v", c.ServerHeader, err)
	}
	if _, err := compileRules(c.Headers, c.CacheControl); err != nil {
		return err
	}
	for status, page := range c.ErrorPages {
		if err := checkErrorPage(status, page); err != nil {
			return fmt.Errorf("--error-page %d=%s: %v", status, page, err)
		}
	}
	return nil
}

// PageStatuses are the statuses an error page may replace the built-in
// text of: every 4xx and 5xx epfs answers a request with but three. 412
// and 416 answer about the file itself, decided with its validators and
// length. 503 (--max-conns, descriptors or listing memory exhausted)
// comes from memory, never from a lookup, since a lookup is what failed
// or what the server cannot afford then.
var PageStatuses = []int{400, 403, 404, 405, 414, 431, 500, 501, 505}

// pageStatusList names PageStatuses for a message.
func pageStatusList() string {
	s := make([]string, len(PageStatuses))
	for i, st := range PageStatuses {
		s[i] = strconv.Itoa(st)
	}
	return strings.Join(s, ", ")
}

// checkErrorPage reports why status=page cannot be an error page.
func checkErrorPage(status int, page string) error {
	switch {
	case status == 412 || status == 416:
		return fmt.Errorf("want a status epfs answers with a page: %d is about the file itself and keeps its built-in text", status)
	case status == 503:
		return errors.New("want a status epfs answers with a page: 503 comes from memory, never from a file (the server is out of connections or descriptors)")
	case !slices.Contains(PageStatuses, status):
		return fmt.Errorf("want one of the statuses epfs answers with a page: %s", pageStatusList())
	}
	if page == "" || page[0] != '/' {
		return errors.New("want a URL path starting with /, such as 404=/404.html")
	}
	return nil
}
