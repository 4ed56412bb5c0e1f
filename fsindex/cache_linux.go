//go:build linux

package fsindex

import (
	"sync"

	"github.com/epfs/epfs/poller/syscount"
)

// maxShards is the shard count for the default budgets. Loops contend only
// when they hit the same shard, and then only on its RWMutex reader count.
const maxShards = 16

// maxEvict caps the entries one insertion evicts, so a miss does bounded
// work (nginx caps it likewise in ngx_expire_old_cached_files). If that is
// not enough room the new entry is served uncached. A large body (a
// listing) may evict one more entry per evictPer bytes it holds: its
// build, one fstatat per name, costs far more than the evictions, and a
// listing that could not be cached would be rebuilt per request.
const (
	maxEvict = 8
	evictPer = 16 << 10
)

// shard is one lock's worth of the cache: a map from request path to entry
// and a CLOCK ring over the same entries.
//
// The map and ring change only under mu held for writing. A hit holds mu
// for reading, takes a reference and sets the entry's used bit; the hand
// clears used bits and evicts the first entry it finds unused (second
// chance), which approximates LRU without writing shared state on a hit
// that is already marked.
type shard struct {
	mu      sync.RWMutex
	m       map[string]*Entry
	flights map[string]*flight // slow lookups in progress, by path
	ring    []*Entry           // cached entries by slot; nil slots are listed in free
	free    []int
	hand    int

	maxEntries int   // entries in m, found and missing
	maxNeg     int   // misses in m: a 404 flood cannot push out the working set
	maxFds     int   // descriptors held by cached entries
	maxBytes   int64 // body bytes held by cached entries
	negs       int
	fds        int
	bytes      int64 // includes cbytes
	cvars      int   // computed variants attached to cached entries
	cbytes     int64 // their bytes

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

// initShards splits the budgets over the shards: fewer shards when budgets
// are small, so that every shard can hold a few entries and descriptors.
func (x *Index) initShards() {
	o := &x.opts
	n := maxShards
	for n > 1 && (o.MaxEntries/n < 16 || o.MaxFds/n < 8) {
		n /= 2
	}
	x.shards = make([]shard, n)
	x.mask = uint64(n - 1)
	for i := range x.shards {
		sh := &x.shards[i]
		sh.maxEntries = max(1, o.MaxEntries/n)
		sh.maxNeg = max(1, sh.maxEntries/4)
		sh.maxFds = max(1, o.MaxFds/n)
		sh.maxBytes = o.MemoryBudget / int64(n)
		sh.reset()
	}
}

// reset empties the shard (its entries' references are the caller's to drop).
func (sh *shard) reset() {
	sh.m = make(map[string]*Entry)
	sh.flights = make(map[string]*flight)
	sh.ring = make([]*Entry, 0, min(sh.maxEntries, 1024))
	sh.free = sh.free[:0]
	sh.hand, sh.negs, sh.fds, sh.bytes = 0, 0, 0, 0
	sh.cvars, sh.cbytes = 0, 0
}

// hold returns the entry cached under key with a new reference if it is
// still want (revalidation found it unchanged and nothing replaced it).
func (sh *shard) hold(key string, want *Entry) (*Entry, bool) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.m[key] != want {
		return nil, false
	}
	if want.counted() {
		want.refs.Add(1)
	}
	return want, true
}

// publish caches e under e.key, replacing what was there and evicting to
// make room, and takes the cache's reference to e. If room cannot be made
// within maxEvict evictions, e stays uncached: the caller's reference is
// then the only one, and its Release closes e. Evicted entries lose the
// cache's reference after the lock is dropped, so no close(2) runs under it.
// It reports whether e was cached.
func (x *Index) publish(c *syscount.Counters, sh *shard, e *Entry) bool {
	var buf [maxEvict + 1]*Entry
	out := buf[:0]
	limit := maxEvict + 1 + int(e.bytes/evictPer)
	sh.mu.Lock()
	if x.closed.Load() {
		sh.mu.Unlock()
		return false
	}
	if old := sh.m[e.key]; old != nil {
		sh.remove(old)
		out = append(out, old)
	}
	for len(out) < limit && sh.over(e) {
		v := sh.victim(!e.positive() && sh.negs >= sh.maxNeg)
		if v == nil {
			break
		}
		sh.remove(v)
		out = append(out, v)
	}
	added := !sh.over(e)
	if added {
		sh.add(e)
	}
	sh.mu.Unlock()
	for _, v := range out {
		v.drop(c)
	}
	return added
}

// over reports whether adding e would exceed a budget.
func (sh *shard) over(e *Entry) bool {
	return len(sh.m) >= sh.maxEntries ||
		sh.fds+e.fds > sh.maxFds ||
		sh.bytes+e.bytes > sh.maxBytes ||
		!e.positive() && sh.negs >= sh.maxNeg
}

// victim advances the hand to the next entry to evict: the first one whose
// used bit is clear, clearing the bits it passes. negOnly restricts it to
// misses. Two turns of the ring always find one unless negOnly finds none.
func (sh *shard) victim(negOnly bool) *Entry {
	for range 2 * len(sh.ring) {
		if sh.hand >= len(sh.ring) {
			sh.hand = 0
		}
		v := sh.ring[sh.hand]
		sh.hand++
		if v == nil || negOnly && v.positive() {
			continue
		}
		if v.used.Load() {
			v.used.Store(false)
			continue
		}
		return v
	}
	return nil
}

func (sh *shard) add(e *Entry) {
	if e.counted() {
		e.refs.Add(1)
	}
	if k := len(sh.free); k > 0 {
		e.slot = sh.free[k-1]
		sh.free = sh.free[:k-1]
		sh.ring[e.slot] = e
	} else {
		e.slot = len(sh.ring)
		sh.ring = append(sh.ring, e)
	}
	sh.m[e.key] = e
	if e.owner != nil && e.loose.Swap(false) {
		e.owner.loose.Add(-e.bytes) // the cache's budget holds it now
	}
	sh.fds += e.fds
	sh.bytes += e.bytes
	if !e.positive() {
		sh.negs++
	}
}

func (sh *shard) remove(e *Entry) {
	delete(sh.m, e.key)
	sh.ring[e.slot] = nil
	sh.free = append(sh.free, e.slot)
	sh.fds -= e.fds
	sh.bytes -= e.bytes
	sh.cvars -= e.cvars
	sh.cbytes -= e.cbytes
	if !e.positive() {
		sh.negs--
	}
}

// drop releases the cache's reference to an entry it no longer holds. A
// listing still sent by responses is loose from here until they end.
func (e *Entry) drop(c *syscount.Counters) {
	if e.owner != nil {
		e.loose.Store(true)
		e.owner.loose.Add(e.bytes)
	}
	if e.counted() {
		e.unref(c)
	}
}
