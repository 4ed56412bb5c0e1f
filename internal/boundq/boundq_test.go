package boundq

import (
	"sync"
	"testing"
)

// A full queue refuses without blocking; Close refuses every later offer,
// and the range over C still yields what was queued before it, in order.
func TestOfferFullAndClosed(t *testing.T) {
	q := New[int](2)
	for i, want := range []bool{true, true, false} {
		if got := q.Offer(i); got != want {
			t.Fatalf("Offer(%d) = %v with %d of %d queued; want %v", i, got, q.Len(), q.Cap(), want)
		}
	}
	q.Close()
	q.Close() // a second Close is allowed
	if q.Offer(9) {
		t.Fatal("Offer after Close = true; want false")
	}
	var got []int
	for v := range q.C() {
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("drained %v; want [0 1]", got)
	}
}

// Offers racing a Close never panic (a send on a closed channel would),
// and every offer that reported true is drained: none is lost.
func TestOfferRacingClose(t *testing.T) {
	for range 50 {
		q := New[int](1000)
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					if q.Offer(g*1000 + i) {
						mu.Lock()
						accepted++
						mu.Unlock()
					}
				}
			}()
		}
		q.Close()
		wg.Wait()
		drained := 0
		for range q.C() {
			drained++
		}
		if drained != accepted {
			t.Fatalf("drained %d values; %d offers reported true", drained, accepted)
		}
	}
}
