//go:build linux

package fsindex

import (
	"errors"
	"hash/fnv"
	"strconv"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// NumEncodings is the number of Encoding values, Identity included: the
// length of an array indexed by Encoding.
const NumEncodings = int(numEncodings)

// Compressor builds computed variants of cached files off the caller's
// goroutine. fsindex offers it a Job for every entry it caches (and for
// one that revalidates unchanged with no variants yet) whose Content-Type
// and size Compressible accepts; the Compressor compresses on threads of
// its own and attaches each variant with Job.Attach, then calls Job.Done.
//
// Offer is called by whichever goroutine looked the entry up, a loop
// included, so it must never block: a full queue refuses the job (false),
// and fsindex offers it again at the entry's next revalidation (at most
// once per Options.Valid). Compressible is called once per entry built.
// Package fsindex/compress is the implementation epfs uses.
type Compressor interface {
	Compressible(contentType string, size int64) bool
	Offer(j *Job) bool
}

// Job is one cached entry to compress. Its methods are for the goroutine
// that runs the job, one at a time; Done must be called exactly once,
// after the last Attach, for every job Offer accepted.
type Job struct {
	x *Index
	e *Entry
}

// Errors from Job.Attach and Job.Read.
var (
	// ErrStale: the entry is no longer cached (evicted, replaced because the
	// file changed, or the index closed), or the file no longer is the
	// version the entry describes. The job has nothing left to do.
	ErrStale = errors.New("fsindex: entry no longer cached or file changed")
	// ErrNoRoom: the variant does not fit in the cache's memory budget even
	// after the bounded eviction an insertion may do.
	ErrNoRoom = errors.New("fsindex: no room for the variant in the memory budget")
)

// Compression states of an entry (Entry.cstate). An entry that gets
// computed variants moves cIdle → cQueued when a Job for it is accepted,
// cQueued → cDone when the job is done; a job the queue refused moves it
// back to cIdle, so the next revalidation offers it again.
const (
	cIdle   uint32 = iota // may be offered
	cQueued               // a job is queued or running
	cDone                 // the job ran: variants attached, or none worth keeping
)

// Size returns the identity's length in bytes.
func (j *Job) Size() int64 { return j.e.Size }

// Path returns the request path the entry is cached under, for logs.
func (j *Job) Path() string { return j.e.key }

// ContentType returns the entry's Content-Type.
func (j *Job) ContentType() string { return j.e.ContentType }

// Wants reports whether a variant in enc is to be computed: enc is a
// coding and no usable sidecar file (Options.Precompressed) provides it,
// since a sidecar on disk wins over a computed variant.
func (j *Job) Wants(enc Encoding) bool {
	return enc > Identity && enc < numEncodings && j.e.variants[enc] == nil
}

// Read returns the identity bytes: the entry's Body when it holds them
// (not to be modified), else the file read with pread into *buf, which is
// grown if it is too small (so a caller can reuse it for the next job). A file read is proven to be the version the entry
// describes: fstat before and after must match the entry's identity and
// the read must end at its size, otherwise ErrStale. c counts the calls,
// on the goroutine that runs the job.
func (j *Job) Read(c *syscount.Counters, bufp *[]byte) ([]byte, error) {
	e := j.e
	if e.Body != nil {
		return e.Body, nil
	}
	var st unix.Stat_t
	if err := c.Fstat(e.Fd, &st); err != nil {
		return nil, err
	}
	if idOf(&st) != e.id {
		return nil, ErrStale
	}
	if int64(cap(*bufp)) < e.Size {
		*bufp = make([]byte, e.Size)
	}
	buf := (*bufp)[:e.Size]
	n := 0
	for n < len(buf) {
		m, err := c.Pread(e.Fd, buf[n:], int64(n))
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return nil, ErrStale // truncated under us
		}
		n += m
	}
	if err := c.Fstat(e.Fd, &st); err != nil {
		return nil, err
	}
	if idOf(&st) != e.id {
		return nil, ErrStale
	}
	return buf, nil
}

// Attach makes body the entry's variant in enc, if the entry is still
// cached and the variant fits its shard's memory budget (evicting, like
// an insertion, at most maxEvict other entries plus one per evictPer
// bytes). From then on Entry.Variant(enc) returns it, to every goroutine.
// Its bytes count against the budget until the entry leaves the cache,
// and go with it. body must not be modified afterwards. The close(2)s an
// eviction may trigger are counted on c.
func (j *Job) Attach(c *syscount.Counters, enc Encoding, body []byte) error {
	if !j.Wants(enc) {
		return nil
	}
	e, x := j.e, j.x
	v := &Entry{
		Fd:           -1,
		Size:         int64(len(body)),
		ModTime:      e.ModTime,
		Inode:        e.Inode,
		ETag:         variantETag(e.ETag, enc, body),
		LastModified: e.LastModified,
		ContentType:  e.ContentType,
		Body:         body,
		Encoding:     enc,
		Computed:     true,
		result:       Found,
	}
	need := v.Size
	sh := x.shardFor(e.key)
	var buf [maxEvict + 1]*Entry
	out := buf[:0]
	limit := maxEvict + int(need/evictPer)
	sh.mu.Lock()
	if x.closed.Load() || sh.m[e.key] != e || e.computed[enc].Load() != nil {
		sh.mu.Unlock()
		return ErrStale
	}
	if e.bytes+need > sh.maxBytes {
		sh.mu.Unlock()
		return ErrNoRoom // would not fit with every other entry gone: evict none
	}
	for len(out) < limit && sh.bytes+need > sh.maxBytes {
		victim := sh.victim(false)
		if victim == nil {
			break
		}
		if victim == e {
			// The entry being compressed is hot (its bit was set) or the
			// ring holds little else; it is not evicted for its own variant.
			victim.used.Store(true)
			if len(sh.m) == 1 {
				break
			}
			limit--
			continue
		}
		sh.remove(victim)
		out = append(out, victim)
	}
	err := ErrNoRoom
	if sh.bytes+need <= sh.maxBytes {
		e.computed[enc].Store(v)
		e.bytes += need
		e.cvars++
		e.cbytes += need
		sh.bytes += need
		sh.cvars++
		sh.cbytes += need
		err = nil
	}
	sh.mu.Unlock()
	for _, o := range out {
		o.drop(c)
	}
	return err
}

// Done ends the job: it drops the reference the job held on the entry's
// descriptor (its close, if the entry was evicted meanwhile, is counted on
// c) and marks the entry compressed, so it is not offered again.
func (j *Job) Done(c *syscount.Counters) {
	j.e.cstate.Store(cDone)
	if j.e.counted() {
		j.e.unref(c)
	}
}

// offer hands e to the Compressor if it gets computed variants and none
// is queued or done. The job holds a reference of its own while it runs,
// so a descriptor stays open for its read even if the entry is evicted.
func (x *Index) offer(e *Entry) {
	if !e.compressible || !e.cstate.CompareAndSwap(cIdle, cQueued) {
		return
	}
	if e.counted() {
		e.refs.Add(1)
	}
	if !x.opts.Compressor.Offer(&Job{x: x, e: e}) {
		if e.counted() {
			e.refs.Add(-1) // the caller's reference is still held: never the last
		}
		e.cstate.Store(cIdle)
	}
}

// variantETag returns a computed variant's strong entity tag: the
// identity's, with the coding and a hash of the variant's bytes, so that
// each representation has its own tag (RFC 9110 §8.8.3: a strong tag
// changes with the representation's bytes) and the tag is the same across
// restarts when the codec makes the same bytes.
func variantETag(identity string, enc Encoding, body []byte) string {
	h := fnv.New32a()
	h.Write(body)
	b := make([]byte, 0, len(identity)+16)
	b = append(b, identity[:len(identity)-1]...)
	b = append(b, '-')
	b = append(b, encodingNames[enc]...)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(h.Sum32()), 16)
	return string(append(b, '"'))
}

// VariantsHeld returns the computed variants the cache holds now and
// their bytes (part of the memory budget).
func (x *Index) VariantsHeld() (n int, bytes int64) {
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.RLock()
		n += sh.cvars
		bytes += sh.cbytes
		sh.mu.RUnlock()
	}
	return n, bytes
}
