//go:build linux

package fsindex

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeCompressor queues jobs for the test to run by hand.
type fakeCompressor struct {
	jobs chan *Job
}

func (f *fakeCompressor) Compressible(ct string, size int64) bool {
	return strings.HasPrefix(ct, "text/") && size >= 8
}

func (f *fakeCompressor) Offer(j *Job) bool {
	select {
	case f.jobs <- j:
		return true
	default:
		return false
	}
}

// next returns the job offered, failing when none is.
func (f *fakeCompressor) next(t *testing.T) *Job {
	t.Helper()
	select {
	case j := <-f.jobs:
		return j
	default:
		t.Fatal("no job offered")
		return nil
	}
}

// TestComputedVariants: a cached compressible file is offered once; a
// variant attached is what Variant returns, with its own ETag, counted in
// the budget and the held tallies; it goes when the entry is replaced,
// and a job for the replaced entry finds it stale.
func TestComputedVariants(t *testing.T) {
	dir := t.TempDir()
	small := strings.Repeat("small file text ", 4)
	large := strings.Repeat("large ", 8<<10) // above SmallFileMax: read from the descriptor
	mkTree(t, dir, "a.txt="+small, "b.txt="+large, "c.png="+small, "d.txt=tiny")
	fc := &fakeCompressor{jobs: make(chan *Job, 1)}
	x := newIndex(t, Options{Root: dir, Compressor: fc, Valid: time.Hour}, false)

	e, _, _ := x.Lookup(nil, "/a.txt")
	if !e.Negotiated() || e.Variant(Gzip) != nil {
		t.Fatalf("a.txt: Negotiated %v, variant before the job ran", e.Negotiated())
	}
	e.Release(nil)
	for _, p := range []string{"/c.png", "/d.txt"} {
		e, _, _ := x.Lookup(nil, p)
		if e.Negotiated() {
			t.Errorf("%s: negotiated, want not compressible", p)
		}
		e.Release(nil)
	}
	j := fc.next(t)
	var buf []byte
	in, err := j.Read(nil, &buf)
	if err != nil || string(in) != small || !j.Wants(Gzip) || j.Wants(Identity) {
		t.Fatalf("Read: %q %v", in, err)
	}
	if err := j.Attach(nil, Gzip, []byte("GZ")); err != nil {
		t.Fatal(err)
	}
	if err := j.Attach(nil, Gzip, []byte("again")); err != ErrStale {
		t.Errorf("second Attach of one coding: %v, want ErrStale", err)
	}
	j.Done(nil)
	e, _, _ = x.Lookup(nil, "/a.txt")
	v := e.Variant(Gzip)
	if v == nil || string(v.Body) != "GZ" || v.Size != 2 || !v.Computed || v.Encoding != Gzip || v.ETag == e.ETag || e.Variant(Brotli) != nil {
		t.Fatalf("variant %+v", v)
	}
	e.Release(nil)
	if n, b := x.VariantsHeld(); n != 1 || b != 2 {
		t.Errorf("held %d variants, %d bytes; want 1, 2", n, b)
	}
	// The large file: read from its descriptor, which the job holds.
	e, _, _ = x.Lookup(nil, "/b.txt")
	e.Release(nil)
	j = fc.next(t)
	in, err = j.Read(nil, &buf)
	if err != nil || !bytes.Equal(in, []byte(large)) || &buf[0] != &in[0] {
		t.Fatalf("Read of a descriptor: %d bytes, %v", len(in), err)
	}
	// Replaced (the file changed): the job finds its entry gone.
	mkTree(t, dir, "b.txt="+large+"more")
	x.valid = 0
	e, _, _ = x.Lookup(nil, "/b.txt")
	e.Release(nil)
	if err := j.Attach(nil, Brotli, []byte("BR")); err != ErrStale {
		t.Errorf("Attach to a replaced entry: %v, want ErrStale", err)
	}
	j.Done(nil)
	j = fc.next(t) // the new version's
	j.Attach(nil, Zstd, []byte("ZS"))
	j.Done(nil)
	// a.txt's variant goes with its entry when it is replaced.
	mkTree(t, dir, "a.txt="+small+"changed")
	e, _, _ = x.Lookup(nil, "/a.txt")
	if e.Variant(Gzip) != nil {
		t.Errorf("the new version has the old variant")
	}
	e.Release(nil)
	if n, b := x.VariantsHeld(); n != 1 || b != 2 {
		t.Errorf("after the change: %d variants, %d bytes held; want b.txt's 1, 2", n, b)
	}
}

// TestComputedVariantRoom: a variant that does not fit the budget after
// the bounded eviction is refused (ErrNoRoom); one that fits after
// evicting others is attached, and the evicted entries' bytes leave.
func TestComputedVariantRoom(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, "a.txt=aaaaaaaaaaaaaaaa", "b.txt=bbbbbbbbbbbbbbbb")
	fc := &fakeCompressor{jobs: make(chan *Job, 4)}
	x := newIndex(t, Options{Root: dir, Compressor: fc, MemoryBudget: 64, MaxEntries: 16, Valid: time.Hour}, false)
	if len(x.shards) != 1 {
		t.Fatalf("%d shards, want 1", len(x.shards))
	}
	for _, p := range []string{"/a.txt", "/b.txt"} {
		e, _, _ := x.Lookup(nil, p)
		e.Release(nil)
	}
	ja, jb := fc.next(t), fc.next(t)
	if err := ja.Attach(nil, Gzip, make([]byte, 100)); err != ErrNoRoom {
		t.Errorf("a 100-byte variant in a 64-byte budget: %v, want ErrNoRoom", err)
	}
	if n := len(x.shards[0].m); n != 2 {
		t.Errorf("%d entries after a refused Attach, want 2: it evicts nothing", n)
	}
	// 32 bytes of bodies held; 40 more fit only once b.txt is evicted.
	if err := ja.Attach(nil, Brotli, make([]byte, 40)); err != nil {
		t.Fatalf("Attach after evicting: %v", err)
	}
	ja.Done(nil)
	if err := jb.Attach(nil, Gzip, []byte("x")); err != ErrStale {
		t.Errorf("Attach to the evicted b.txt: %v, want ErrStale", err)
	}
	jb.Done(nil)
	sh := &x.shards[0]
	if sh.bytes != 16+40 || len(sh.m) != 1 {
		t.Errorf("shard holds %d bytes in %d entries, want 56 in 1", sh.bytes, len(sh.m))
	}
}

// TestComputedVariantRetry: a job the full queue refused is offered again
// when the entry next revalidates unchanged.
func TestComputedVariantRetry(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, "a.txt=some compressible text")
	fc := &fakeCompressor{jobs: make(chan *Job)} // no room: every Offer refused
	x := newIndex(t, Options{Root: dir, Compressor: fc, Valid: time.Hour}, false)
	e, _, _ := x.Lookup(nil, "/a.txt")
	e.Release(nil)
	if e.cstate.Load() != cIdle {
		t.Fatalf("refused job left state %d", e.cstate.Load())
	}
	fc.jobs = make(chan *Job, 1)
	x.valid = 0
	e, _, _ = x.Lookup(nil, "/a.txt")
	e.Release(nil)
	j := fc.next(t)
	if j.e != e {
		t.Errorf("retried job for another entry")
	}
	j.Done(nil)
	e, _, _ = x.Lookup(nil, "/a.txt")
	e.Release(nil)
	select {
	case <-fc.jobs:
		t.Errorf("a done entry was offered again")
	default:
	}
}
