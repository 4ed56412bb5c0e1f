package main

import (
	"encoding/json"
	"math"
	"slices"
)

// Spread is the median of a set of samples with their minimum and maximum:
// the benchmark reports all three so that a reader can tell a real gap from
// the noise of a shared machine.
type Spread struct {
	Median Num `json:"median"`
	Min    Num `json:"min"`
	Max    Num `json:"max"`
	N      int `json:"n"`
}

// spreadOf summarises xs. NaN samples (a run that failed) are left out; an
// empty set gives a Spread with N == 0 and NaN fields.
func spreadOf(xs []float64) Spread {
	ok := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			ok = append(ok, x)
		}
	}
	if len(ok) == 0 {
		return Spread{Median: Num(nan), Min: Num(nan), Max: Num(nan)}
	}
	slices.Sort(ok)
	n := len(ok)
	med := ok[n/2]
	if n%2 == 0 {
		med = (ok[n/2-1] + ok[n/2]) / 2
	}
	return Spread{Median: Num(med), Min: Num(ok[0]), Max: Num(ok[n-1]), N: n}
}

// ratio is a/b, or NaN when either is missing or b is zero.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// nan is a missing figure.
var nan = math.NaN()

// Num is a float64 that encodes a missing figure (NaN or ±Inf) as JSON
// null, which encoding/json would otherwise refuse to write.
type Num float64

// MarshalJSON writes null for NaN and infinities, else the number.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads null back as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}
