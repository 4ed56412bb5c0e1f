package lifo

import (
	"slices"
	"testing"
)

// Values come back last in, first out; an empty pool says so.
func TestGetReturnsLastPut(t *testing.T) {
	p := Pool[int]{Max: 4}
	if _, ok := p.Get(); ok {
		t.Fatal("Get on an empty pool reported a value")
	}
	for i := 1; i <= 3; i++ {
		p.Put(i)
	}
	var got []int
	for {
		v, ok := p.Get()
		if !ok {
			break
		}
		got = append(got, v)
	}
	if want := []int{3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Put refuses beyond Max, and the zero Max keeps nothing.
func TestPutIsBounded(t *testing.T) {
	p := Pool[int]{Max: 2}
	for i, want := range []bool{true, true, false, false} {
		if ok := p.Put(i); ok != want {
			t.Errorf("Put %d: %v, want %v", i, ok, want)
		}
	}
	if p.Len() != 2 {
		t.Errorf("Len %d, want 2", p.Len())
	}
	var z Pool[int]
	if z.Put(1) || z.Len() != 0 {
		t.Error("the zero pool kept a value")
	}
}

// Trim keeps the oldest keep values, hands each one it drops to drop, and
// clears their slots so nothing stays reachable.
func TestTrimDropsNewestAndClears(t *testing.T) {
	p := Pool[*int]{Max: 8}
	vals := make([]int, 5)
	for i := range vals {
		vals[i] = i
		p.Put(&vals[i])
	}
	var dropped []int
	p.Trim(2, func(v *int) { dropped = append(dropped, *v) })
	if want := []int{4, 3, 2}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	if p.Len() != 2 {
		t.Errorf("Len %d after Trim(2), want 2", p.Len())
	}
	for i, v := range p.free[:cap(p.free)][2:] {
		if v != nil {
			t.Errorf("slot %d still holds a value after Trim", i+2)
		}
	}
	p.Trim(5, nil) // nothing beyond keep: a no-op
	if p.Len() != 2 {
		t.Errorf("Len %d after Trim(5), want 2", p.Len())
	}
	n := 0
	p.Trim(0, func(*int) { n++ })
	if n != 2 || p.Len() != 0 {
		t.Errorf("Trim(0) dropped %d and left %d, want 2 and 0", n, p.Len())
	}
}

// Get and Put allocate nothing once the pool has grown.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	p := Pool[*int]{Max: 4}
	x := new(int)
	p.Put(x)
	if a := testing.AllocsPerRun(100, func() {
		v, _ := p.Get()
		p.Put(v)
	}); a != 0 {
		t.Errorf("%v allocations per Get and Put, want 0", a)
	}
}

// Example shows the pattern every epfs free list follows: take or make,
// use, give back or let go.
func Example() {
	type buf struct{ b []byte }
	pool := Pool[*buf]{Max: 2}
	get := func() *buf {
		if b, ok := pool.Get(); ok {
			return b
		}
		return &buf{b: make([]byte, 4096)}
	}
	b := get()
	// ... use b.b ...
	_ = pool.Put(b) // false when full: b then goes to the garbage collector
}
