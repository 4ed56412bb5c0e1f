// Package server composes epfs's packages into a running HTTP/1.1 static
// server: N poller loops, each owning its connections, its buffers, its
// timers and its access-log buffer; one shared fsindex cache; transmit for
// every response.
//
// One request, from accept4 to the last sendfile, reads top to bottom in
// conn_linux.go: worker.accept registers the descriptor once; conn.Handle
// remembers readiness; readHead reads into the request's bytes and parses
// with httpparse; serve decodes the path, looks it up in fsindex and plans
// the response with transmit; write steps the response until it is done,
// or would block (resume on EPOLLOUT), or has spent its fairness budget
// (the loop requeues it); finish logs it and goes on to the next pipelined
// request already buffered, which edge triggering would never announce
// again.
//
// The request is one value (request_linux.go): its bytes, the parsed head,
// the decoded path (in the request's own bytes), the planned response and
// the hand-over to the I/O pool, taken from the loop's pool when its first
// byte arrives and given back when the connection goes idle. Nothing of it
// is per-loop scratch, so a request the pool hands back is planned from
// what it already holds. The connection's state says what the request
// waits for (the connState table in conn_linux.go names every transition,
// the function that makes it and each state's timer); docs/REQUEST.md
// shows the table and walks a cold, uncached 8 MiB GET through it.
//
// The disk's blocking work goes to the I/O pool (--io-threads, poller/iopool)
// while the connection waits: no reads from its socket, readiness
// remembered, the write timer running. Two kinds: a cold file range, which
// transmit's probe found out of the page cache (park, stateFetch,
// fetched), and a lookup that is not a fresh fsindex hit (lookup_linux.go:
// lookupOnPool, stateLookup, runLookup on the pool thread with that
// thread's counters, lookedUp on the loop, which plans the response). A
// fresh hit stays on the loop and makes no system call. When the pool's
// queue is full a cold range is probed again after a short timer
// (stateRetry) and a lookup is done on the loop. A connection closed while
// the pool works for it is an orphan: it keeps its request until the
// pool's done runs, which releases what the work took.
//
// Memory: the per-loop pools (requests, connection structs, transmit's
// slabs and pipes, each a lifo.Pool) grow to the most connections ever in
// progress. A loop that sees no new connection or request for quietTrim
// (5 s) trims them to a small reserve; the timer is one-shot, armed by the next use of a
// pool, so an idle loop has none. Once every loop is trimmed the server
// collects garbage twice and returns every free page to the kernel
// (returnMemory: runtime.GC, debug.FreeOSMemory), because a server that
// allocates nothing per request would otherwise keep its high-water mark
// until the runtime's two-minute forced collection and the slow scavenger.
// The duration and the collections' stop-the-world pauses are logged
// ("memory returned") and exported.
//
// Contract with the command line: Config is filled from flags and checked
// once by Validate; New binds everything and fails with a clear error
// (root missing, address in use) before anything is served; Run serves until
// Shutdown has drained every loop. Shutdown stops accepting, closes idle
// connections, and lets responses in flight finish, each later one carrying
// Connection: close, for at most Config.ShutdownTimeout.
//
// It lives under cmd/epfs/internal so that its tests, benchmarks and fuzz
// targets drive real connections in-process, while package main stays
// wiring.
package server
