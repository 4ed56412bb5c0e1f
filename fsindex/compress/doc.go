// Package compress builds the computed variants of fsindex: for each
// cached file of a compressible type (see Compressible) and of a size
// between Options.Min and Options.Max, a gzip, a brotli and a zstd variant,
// made once per version of the file and kept in the cache beside the
// identity bytes. It implements [fsindex.Compressor]; epfs serve turns it
// on by default (--compress).
//
// # Why once, and why here
//
// A server that compresses per request (nginx's gzip on, most small static
// servers) pays the codec on every response. A static file changes
// rarely, and fsindex already holds small files' bytes and revalidates
// every entry within its freshness bound, so the codec can run once per
// version: the variants live in the entry, count against the cache's
// memory budget, and go when the entry goes (evicted, or replaced because
// the file changed). Serving one is then a write from memory, like a
// small file's identity.
//
// # The contract
//
//   - Off the loops and off the I/O pool. The Pool has Threads goroutines,
//     each locked to its own OS thread, at nice Options.Nice (10): the
//     loops and the I/O pool get the CPU first. Its queue (Options.Queue)
//     is its own, so compression never fills the I/O queue that cache
//     misses and cold ranges need. Offer never blocks: a full queue drops
//     the job (counted, Dropped) and fsindex offers it again at the
//     entry's next revalidation.
//   - Each codec run records the kernel thread it runs on (gettid(2)) in
//     Runs, so a test can check that no loop ever compresses.
//   - Order. zstd first, then gzip, then brotli (the slowest at level 11):
//     a client that accepts several gets a variant soon. Each variant is
//     attached as soon as it is made; until then, a request gets another
//     coding it accepts, or identity.
//   - A variant is kept only if it is at least 5% smaller than the file.
//     A coding with a sidecar file (fsindex Options.Precompressed) is not
//     computed: the sidecar wins.
//   - Close drops the queued jobs, waits for the run in progress (one file;
//     at brotli 11 and 1 MiB a few seconds) and for the threads.
//
// Which goroutine may call what: Offer, Compressible, Stats, Dropped, Len,
// Runs, Threads, ThreadID and Counters are safe from any goroutine.
package compress
