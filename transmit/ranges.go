package transmit

import "github.com/epfs/epfs/httpparse"

// coalesce sorts rs by start and merges ranges that overlap or touch, in
// place, and returns how many remain. RFC 9110 §14.2 lets a server coalesce
// ranges, and §15.3.7.2 asks that the parts of a multipart response not
// overlap; sorting also undoes a set requested out of order, which the
// security note of §14.2 names as a sign of abuse. Insertion sort: the set
// is at most MaxRangesCap long and this allocates nothing.
func coalesce(rs []httpparse.ByteRange) int {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Start < rs[j-1].Start; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	n := 0
	for _, r := range rs {
		if n > 0 {
			last := &rs[n-1]
			if end := last.Start + last.Length; r.Start <= end {
				last.Length = max(end, r.Start+r.Length) - last.Start
				continue
			}
		}
		rs[n] = r
		n++
	}
	return n
}

// abusive reports a range set that asks, in total, for more bytes than the
// representation holds: it can only do so by overlapping, and answering it
// would multiply the bytes sent (RFC 9110 §14.2, security note; the
// "overlapping ranges" attack of CVE-2011-3192). Such a set is ignored and the
// whole representation is sent, once, with 200.
func abusive(rs []httpparse.ByteRange, size int64) bool {
	var sum int64
	for _, r := range rs {
		sum += r.Length
		if sum > size {
			return true
		}
	}
	return false
}

// chooseRanges decides what a Range field value v asks of a representation
// of size bytes, with len(rs) the most specs honoured (Config.MaxRanges):
// 206 with rs[:n] the parts to send, inside the representation, sorted and
// coalesced; 416 when no spec overlaps it; or 200 when the field is to be
// ignored: invalid, another unit (RFC 9110 §14.2), more specs than rs
// holds, a set that overlaps itself into more bytes than there are, or an
// empty representation, which has no range a 206 could describe.
func chooseRanges(v []byte, size int64, rs []httpparse.ByteRange) (status, n int) {
	n, res := httpparse.ParseRange(v, size, rs)
	switch {
	case res == httpparse.RangeUnsatisfiable:
		return 416, 0
	case res == httpparse.RangeOK && n > 0 && size > 0 && !abusive(rs[:n], size):
		return 206, coalesce(rs[:n])
	}
	return 200, 0
}
