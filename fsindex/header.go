package fsindex

import (
	"strconv"
	"time"
)

// appendHTTPDate appends t as an IMF-fixdate, the only date format a sender
// may generate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT", always in
// UTC, fixed width, English names regardless of locale.
func appendHTTPDate(b []byte, t time.Time) []byte {
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	t = t.UTC()
	yy, mm, dd := t.Date()
	hh, mi, ss := t.Clock()
	wd := int(t.Weekday()) * 3
	mo := (int(mm) - 1) * 3
	b = append(b, days[wd:wd+3]...)
	b = append(b, ", "...)
	b = append2(b, dd)
	b = append(b, ' ')
	b = append(b, months[mo:mo+3]...)
	b = append(b, ' ')
	b = append2(b, yy/100)
	b = append2(b, yy%100)
	b = append(b, ' ')
	b = append2(b, hh)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, ss)
	return append(b, " GMT"...)
}

// append2 appends n (0..99) as two decimal digits.
func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// formatETag returns a strong entity tag for a file version: the inode, size
// and modification time in nanoseconds, in hex, quoted (RFC 9110 §8.8.3).
// It depends on nothing but the file's metadata, so it survives a server
// restart and is the same on every loop; it changes when the file is
// rewritten (mtime), truncated or extended (size), or replaced by rename
// (inode). It is strong because two versions with equal tags have, short of
// an in-place rewrite within one timestamp tick, equal bytes; see the package
// documentation for that limit.
func formatETag(ino uint64, size int64, mtime time.Time) string {
	b := make([]byte, 0, 2+16*3+2)
	b = append(b, '"')
	b = strconv.AppendUint(b, ino, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, mtime.UnixNano(), 16)
	b = append(b, '"')
	return string(b)
}
