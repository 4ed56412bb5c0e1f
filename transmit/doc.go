// Package transmit turns a request and a file into a response on a socket:
// it decides the status and header fields (RFC 9110), encodes the head
// without allocating, and pushes the body from the page cache to the socket
// as a resumable state machine driven by an edge-triggered loop.
//
// # Walkthrough
//
// One Writer per loop, holding the loop's counters; one Response per
// connection (embedded in it), which keeps the Writer that planned it, so
// its calls take only the socket:
//
//	w := transmit.NewWriter(transmit.Config{ServerHeader: "epfs"}, loop.Counters())
//	// before planning, with a Date more than a second old: w.SetNow(time.Now())
//
//	// a request was parsed and looked up:
//	q := transmit.Request{Head: &req, Path: path, Query: query, KeepAlive: req.KeepAlive}
//	conn.resp.Plan(w, q, e, res)
//	// then, now and after every EPOLLOUT while the response is pending:
//	switch conn.resp.Step(conn.fd) {
//	case transmit.Done:       // log; close if conn.resp.Close(), else read on
//	case transmit.WouldBlock: // wait for Writable
//	case transmit.Yield:      // loop.Requeue(conn.id, poller.Out), or, when
//	                          // !loop.Waiting(), Step again (a bounded number of times)
//	case transmit.Failed:     // conn.resp.Err() says why; close
//	case transmit.Cold:       // park; on an I/O thread: conn.resp.Fetch().Run(tc, tbuf);
//	                          // back on the loop: conn.resp.Fetched(), Step again
//	}
//	conn.resp.Reset() // whenever the connection ends
//
// # Contract
//
//   - Ownership. Plan takes over the reference of the fsindex.Entry it is
//     given. The response releases it when Step returns Done or Failed, or at
//     Reset, whichever is first, so the caller never releases it. Reset is
//     safe at any point and more than once, except while a Fetch is out;
//     call it when a connection closes with a response in flight (after
//     Fetched, if its Fetch was out).
//   - Buffers. The head is encoded into a buffer from the Writer's pool, taken
//     by Plan and given back when the response ends; an idle keep-alive
//     connection holds no buffer and no pipe. Plan, PlanError and Step
//     allocate nothing in steady state (pools grow to the number of responses
//     in flight at once; a very long Location may grow a buffer once).
//   - Order. Step never sends a body byte while a head byte is unsent, and
//     never a later part before an earlier one.
//   - Offsets. File bytes are read at the response's own offset (sendfile
//     and splice with an offset pointer, pread), never through the shared
//     descriptor's file position: fsindex shares one descriptor between
//     every connection sending the file.
//   - Outcomes. Step's result has one meaning each (see Outcome): Done,
//     WouldBlock (wait for EPOLLOUT), Yield (requeue), Failed (close), and,
//     with Config.Probe, Cold (the next chunk is not in the page cache:
//     read it in off the loop with the response's Fetch, then Fetched and
//     Step again).
//   - The disk. With Config.Probe, no sendfile, splice or pread is made on
//     the loop for a chunk that the probe (cachestat(2) with
//     Config.Cachestat, else preadv2 with RWF_NOWAIT) found cold, and none
//     reads past the chunk the probe found resident. What the probes
//     cannot see is listed in cold_linux.go. Without Probe a
//     cache miss blocks the calling thread, as in any read of a regular
//     file.
//     Nothing is retried with another strategy, and a response is never
//     restarted from its beginning.
//   - Goroutines. A Writer and its Responses belong to one loop goroutine.
//     Writer.Stat may be read from any goroutine.
//   - Counting. Every syscall goes through the loop's *syscount.Counters,
//     the ones given to NewWriter: write, writev, sendto, sendfile, splice,
//     pread, cachestat and preadv2 (the probes), pipe2, close.
//     CachestatUsable counts its start-up call on the counters it is
//     given, and Fetch.Run its readahead and preads on the counters of the
//     thread that runs it. A client abort shows as the EPIPE or ECONNRESET
//     outcome of the call that met it and in the Writer's Aborts tally.
//
// # Response rules
//
//   - Methods (RFC 9110 §9): GET and HEAD serve, HEAD with exactly GET's
//     fields and no body (§9.3.2). OPTIONS gets 204 with Allow (§9.3.7).
//     Another method the parser knows gets 405 with "Allow: GET, HEAD,
//     OPTIONS" (§15.5.6); an unknown one 501 (§15.6.2).
//   - Preconditions in the order of §13.2.2: If-Match (strong, §13.1.1), else
//     If-Unmodified-Since (§13.1.4), fail with 412; If-None-Match (weak,
//     §13.1.2), else If-Modified-Since (§13.1.3), give 304 to GET and HEAD
//     (412 otherwise); then If-Range (strong, §13.1.5). A 304 carries Date,
//     ETag, Last-Modified, Cache-Control and Vary, and no body (§15.4.5).
//   - Ranges (§14): GET only. One satisfiable range gives 206 with
//     Content-Range; several give 206 multipart/byteranges with a boundary
//     per response and an exact Content-Length; the set is sorted and ranges
//     that overlap or touch are merged first, so a set that merges to one is
//     a plain 206. None satisfiable gives 416 with "Content-Range: bytes
//     */size" (§15.5.17). An invalid Range, one in another unit, more than
//     Config.MaxRanges specs, or a set whose lengths add up to more than the
//     representation (it can only overlap itself) is ignored: a whole 200
//     (§14.2, security note). So is a Range on an empty representation.
//   - Content coding (§12.5.3): when a file has variants (sidecar files, or
//     computed ones, fsindex.Entry.Computed) the client's preferred one is
//     sent (highest q-value; ties br, zstd, gzip, identity) with
//     Content-Encoding and its own length and ETag; validators apply to the
//     representation chosen, and so do ranges on a sidecar. A Range on a
//     file whose chosen variant is computed gets the identity instead (its
//     bytes exist only in memory, while the entry is cached), unless the
//     client refused identity ("identity;q=0", or "*;q=0" without an
//     identity entry): then the whole variant, 200, the Range ignored.
//     Every response about a negotiated file (fsindex.Entry.Negotiated: it
//     has variants or will get computed ones), identity, 304, 412 and 416
//     included, carries "Vary: Accept-Encoding" (§12.5.5).
//   - Fields: Date (the Writer's, refreshed by SetNow), Server (if set),
//     Content-Type, Content-Length, Last-Modified, ETag, Accept-Ranges:
//     bytes, Cache-Control (if set), Connection: close whenever the server
//     will close, and Connection: keep-alive to an HTTP/1.0 client that
//     keeps the connection. Config.Fields go on every response, and the
//     entry's own fields (fsindex.Entry.Header, worked out once per entry)
//     on every 200, 206 and 304 about it: both are appended as they are.
//   - Errors (400, 403, 404, 405, 412, 414, 416, 431, 500, 501, 503, 505)
//     carry a short text/plain body with its exact Content-Length, or, by
//     PlanPage, a file (an error page) with no validators, sent whole
//     whatever the request's preconditions and Range say (§13.2.1). A 301
//     for a directory named without its trailing slash sends Location: the
//     path, percent-encoded, plus "/" and the query as received.
//
// # The body
//
// Plan fixes where a response's body comes from: nowhere (HEAD, 204, 304),
// memory, or the file's descriptor by the Writer's strategy; Step
// dispatches on it. A body held in memory (fsindex keeps files of at most
// 16 KiB, and listings) goes out with the head in one writev. A body from
// a descriptor: the head with send(MSG_MORE), then the strategy of
// Config.Strategy:
//
//   - Sendfile (default): sendfile(2) with a 64-bit offset pointer, each
//     call capped at 1 GiB (below the kernel's 0x7ffff000-byte MAX_RW_COUNT).
//   - Splice: splice(2) file → pipe (at most 64 KiB, a default pipe's
//     capacity), then pipe → socket. Each transfer in flight holds a pipe
//     from the Writer's pool: two descriptors, their pipe2 and close
//     counted on the loop's counters.
//   - Copy: pread(2) into a 128 KiB buffer, then write(2): the baseline.
//
// Every call is asked for exactly min(bytes remaining, per-call cap, budget
// left): an over-long count would make the kernel mark the final segment
// MSG_MORE and stall a keep-alive response (golang/go#41513, #45256).
// A call that returns EAGAIN ends the Step with WouldBlock, and the next
// Step resumes at the same offset; a Step that has written Config.Budget
// bytes ends with Yield, so one fast reader of a large file cannot starve
// the loop's other connections (nginx's sendfile_max_chunk does the same).
// With Config.Probe each chunk of at most Config.Budget bytes is probed
// before the first call that reads it (one cachestat(2) over the chunk and
// 4 MiB after it with Config.Cachestat, plus the one-byte probes where
// this response's own reads may be in flight; otherwise two one-byte
// preadv2 with RWF_NOWAIT: its first and its last byte), and calls are
// capped at the chunk's end, so the loop reads the file only where the
// probe vouched for it. A cold chunk ends the Step with Cold; Fetch.Run, on a thread that may
// block, issues readahead(2) for the chunk and 2 MiB after it and preads the
// chunk to wait for it, so a large cold file streams while the socket
// drains. After two fetches whose chunk the probe still finds cold, the
// next one reads the bytes into the response's buffer and the loop writes
// them from there (see maxFaultRounds).
//
// A sendfile, splice or pread that returns 0 before the announced length
// means the file shrank: Failed with ErrTruncated, since the Content-Length
// can no longer be honoured. EPIPE and ECONNRESET are a client abort:
// Failed with ErrAborted.
//
// # Measurements
//
// The figures behind the choices above (MSG_MORE against TCP_CORK and
// writev, memory against head + sendfile, and each strategy by size) are in
// README.md beside this file, with the commands that produce them:
// BenchmarkHeadThenBody, BenchmarkTransfer and BenchmarkPlan.
package transmit
