package httpparse

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

// TestSWARMasks checks each word-at-a-time class test against the byte
// tables it stands for, for every byte value at every position of a word,
// with neighbours that matter to the arithmetic: bytes that borrow or carry
// (0x00, 0x1f, 0x20, 0x7f), class members and non-members.
func TestSWARMasks(t *testing.T) {
	isNameFast := func(c byte) bool {
		return 'a' <= lower(c) && lower(c) <= 'z' || '0' <= c && c <= '9' || c == '-'
	}
	isPathFast := func(c byte) bool {
		return 'a' <= lower(c) && lower(c) <= 'z' || '-' <= c && c <= '9'
	}
	isCTL := func(c byte) bool { return c < 0x20 || c == 0x7f }
	fillers := []byte{0x00, 0x09, 0x0d, 0x1f, 0x20, '-', '.', '/', '0', '9', ':', '@', 'A', 'Z', '[', '`', 'a', 'z', '{', 0x7f, 0x80, 0xff}
	var w [8]byte
	for c := 0; c < 256; c++ {
		for k := 0; k < 8; k++ {
			for _, f := range fillers {
				for j := range w {
					w[j] = f
				}
				w[k] = byte(c)
				x := binary.LittleEndian.Uint64(w[:])

				// CTL: the lowest flagged byte is the first CTL.
				want := 8
				for j, b := range w {
					if isCTL(b) {
						want = j
						break
					}
				}
				if got := bits.TrailingZeros64(swarCTLMask(x)) >> 3; got != want {
					t.Fatalf("swarCTLMask(% x): first CTL at %d, want %d", w, got, want)
				}

				// The range tests are exact, for words below 0x80.
				if x&swarHighs != 0 {
					continue
				}
				name, path := swarNameMask(x), swarPathMask(x)
				for j, b := range w {
					bit := uint64(0x80) << (8 * j)
					if (name&bit != 0) != isNameFast(b) || isNameFast(b) && !isToken[b] {
						t.Fatalf("swarNameMask(% x) byte %d (%#x)", w, j, b)
					}
					if (path&bit != 0) != isPathFast(b) || isPathFast(b) && targetClass[b] != tcPlain {
						t.Fatalf("swarPathMask(% x) byte %d (%#x)", w, j, b)
					}
				}
				if name&^swarHighs != 0 || path&^swarHighs != 0 {
					t.Fatalf("masks of % x have bits besides the high ones", w)
				}
			}
		}
	}
}
