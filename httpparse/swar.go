package httpparse

import "encoding/binary"

// Word-at-a-time byte class checks for the scanners of scan.go. Most of a
// request's bytes sit in field names and values, so those runs are checked
// eight bytes per step as a little-endian uint64 (SWAR: SIMD within a
// register). The masks below set the high bit of each byte of the result
// that belongs to the class, and the lowest flagged byte of a word is found
// with bits.TrailingZeros64. Every load is of b[i:i+8] with i+8 <= len(b),
// so nothing is read beyond the slice it is given.
//
// The range tests rest on one fact: for a byte x below 0x80 and a constant
// k <= 0x80, x+k does not carry out of its byte, and its high bit says
// whether x >= 0x80-k. A test built that way is exact for every byte, so
// any flagged byte is a true member. Callers only apply them to words whose
// bytes are all below 0x80.

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
	swarLows  = 0x7f7f7f7f7f7f7f7f
)

// load64 reads b[i:i+8] as a little-endian word, so that byte i is the
// lowest. The caller guarantees i+8 <= len(b).
func load64(b []byte, i int) uint64 {
	return binary.LittleEndian.Uint64(b[i:])
}

// swarNameMask sets the high bit of each byte of x that is an ASCII letter,
// digit or '-', and no other bit. Together they make up nearly every field
// name sent in practice; the rest of tchar (RFC 9110 §5.6.2) is left to the
// isToken table. Every byte of x must be below 0x80.
//
// It is written out in full, without helpers, to stay within the inlining
// budget: it runs once per eight name bytes.
func swarNameMask(x uint64) uint64 {
	// Setting bit 5 folds upper-case letters onto lower-case ones. It
	// also moves some other bytes into those ranges ('\r' onto '-', 0x10
	// onto '0'), which is why digits and '-' are tested on x itself.
	y := x | 0x20*swarOnes
	letter := (y + (0x80-'a')*swarOnes) &^ (y + (0x7f-'z')*swarOnes)
	digit := (x + (0x80-'0')*swarOnes) &^ (x + (0x7f-'9')*swarOnes)
	// A byte of d is zero exactly where x holds '-', and (d&0x7f)+0x7f
	// sets the high bit of every other byte without carrying.
	d := x ^ '-'*swarOnes
	notDash := (d&swarLows + swarLows) | d
	return (letter | digit | ^notDash) & swarHighs
}

// swarPathMask sets the high bit of each byte of x that is an ASCII letter,
// a digit, '-', '.' or '/' (0x2d to 0x39), and no other bit: the bytes of
// which most request paths are made, all of them valid in a target. Every
// byte of x must be below 0x80.
func swarPathMask(x uint64) uint64 {
	y := x | 0x20*swarOnes // as in swarNameMask
	letter := (y + (0x80-'a')*swarOnes) &^ (y + (0x7f-'z')*swarOnes)
	path := (x + (0x80-'-')*swarOnes) &^ (x + (0x7f-'9')*swarOnes)
	return (letter | path) & swarHighs
}

// swarCTLMask sets the high bit of the lowest byte of x that is a CTL (below
// 0x20, so HTAB, CR and LF among them) or DEL, and perhaps of bytes above
// it; it is zero if there is none. Bytes >= 0x80 (obs-text) are not CTLs.
func swarCTLMask(x uint64) uint64 {
	// A byte below 0x20 has its high bit set in x-0x20 and clear in x;
	// bytes >= 0x80 are excluded by &^x. A borrow only ever flags bytes
	// above a true hit, so the lowest flagged byte is one. XOR with 0x7f
	// turns DEL into the only zero byte, found the same way.
	lt := (x - 0x20*swarOnes) &^ x
	y := x ^ 0x7f*swarOnes
	del := (y - swarOnes) &^ y
	return (lt | del) & swarHighs
}
