package httpparse

import "time"

// HTTP-dates (RFC 9110 §5.6.7) have one-second resolution and are always
// GMT, so the package handles them as Unix seconds: the caller compares them
// with a file's modification time truncated to the second. Parsing and
// formatting are done by hand because time.Parse and time.Format allocate
// and accept more than the grammar does.

var (
	dayNames   = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays   = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// nowYear is the current year, for the two-digit years of rfc850-date.
// A variable so that tests can pin it.
var nowYear = func() int { return time.Now().UTC().Year() }

// ParseHTTPDate parses an HTTP-date in any of its three formats and returns
// it as Unix seconds (RFC 9110 §5.6.7):
//
//	IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//	rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"
//	asctime-date "Sun Nov  6 08:49:37 1994"
//
// Names are case-sensitive and fields fixed-width, as the grammar says. The
// day name must be a real one but is not checked against the date (a
// mismatch carries no meaning the server could act on). A two-digit year
// more than 50 years in the future is taken from the previous century, as
// RFC 9110 §5.6.7 requires. A second of 60 (a leap second) is accepted and
// counted as the next second. ok is false for anything else, which for the
// conditional fields means the field is ignored (RFC 9110 §13.1.3-4). It does
// not allocate.
func ParseHTTPDate(b []byte) (unix int64, ok bool) {
	switch {
	case len(b) == 29 && b[3] == ',':
		return parseIMFFixdate(b)
	case len(b) == 24 && b[3] == ' ':
		return parseAsctime(b)
	case len(b) >= 30 && len(b) <= 33:
		return parseRFC850(b)
	}
	return 0, false
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
func parseIMFFixdate(b []byte) (int64, bool) {
	if lookup(b[:3], dayNames[:]) < 0 || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
		b[16] != ' ' || string(b[25:]) != " GMT" {
		return 0, false
	}
	day, ok1 := num(b[5:7])
	month := lookup(b[8:11], monthNames[:]) + 1
	year, ok2 := num(b[12:16])
	if !ok1 || !ok2 {
		return 0, false
	}
	return civil(year, month, day, b[17:25])
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
func parseRFC850(b []byte) (int64, bool) {
	c := len(b) - 24 // index of the comma after the long day name
	if lookup(b[:c], longDays[:]) < 0 || string(b[c:c+2]) != ", " {
		return 0, false
	}
	d := b[c+2:] // "06-Nov-94 08:49:37 GMT"
	if d[2] != '-' || d[6] != '-' || d[9] != ' ' || string(d[18:]) != " GMT" {
		return 0, false
	}
	day, ok1 := num(d[0:2])
	month := lookup(d[3:6], monthNames[:]) + 1
	yy, ok2 := num(d[7:9])
	if !ok1 || !ok2 {
		return 0, false
	}
	now := nowYear()
	year := now - now%100 + yy
	if year > now+50 {
		year -= 100
	}
	return civil(year, month, day, d[10:18])
}

// "Sun Nov  6 08:49:37 1994"
func parseAsctime(b []byte) (int64, bool) {
	if lookup(b[:3], dayNames[:]) < 0 || b[7] != ' ' || b[10] != ' ' || b[19] != ' ' {
		return 0, false
	}
	month := lookup(b[4:7], monthNames[:]) + 1
	dd := b[8:10] // day = 2DIGIT / ( SP DIGIT )
	if dd[0] == ' ' {
		dd = dd[1:]
	}
	day, ok1 := num(dd)
	year, ok2 := num(b[20:24])
	if !ok1 || !ok2 {
		return 0, false
	}
	return civil(year, month, day, b[11:19])
}

// civil converts a validated calendar date and an "hh:mm:ss" time of day to
// Unix seconds. month is 1-12, or 0 when the name was unknown.
func civil(year, month, day int, hms []byte) (int64, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return 0, false
	}
	hh, ok1 := num(hms[0:2])
	mm, ok2 := num(hms[3:5])
	ss, ok3 := num(hms[6:8])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 60 {
		return 0, false
	}
	if month < 1 || day < 1 || day > daysIn(year, month) {
		return 0, false
	}
	return daysFromCivil(year, month, day)*86400 + int64(hh*3600+mm*60+ss), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date, counting years from March so that the leap day falls last.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400                     // [0, 399]
	mp := (m + 9) % 12                     // March = 0
	doy := (153*mp+2)/5 + d - 1            // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return int64(era)*146097 + int64(doe) - 719468
}

// num parses a field of ASCII digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// lookup returns the index of b in names, or -1.
func lookup(b []byte, names []string) int {
	for i, n := range names {
		if string(b) == n {
			return i
		}
	}
	return -1
}

// AppendHTTPDate appends t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT",
// RFC 9110 §5.6.7), the only format a sender may generate, and returns the
// extended buffer. t is converted to UTC and truncated to the second; years
// outside 0000-9999 are clamped, since the format has four year digits
// (year 0000 included, so that every date ParseHTTPDate accepts formats
// back to the same instant). It allocates only if dst lacks 29 bytes of
// capacity.
func AppendHTTPDate(dst []byte, t time.Time) []byte {
	const (
		minUnix = -62167219200 // 0000-01-01T00:00:00Z (proleptic Gregorian)
		maxUnix = 253402300799 // 9999-12-31T23:59:59Z
	)
	secs := min(max(t.Unix(), minUnix), maxUnix)
	days, rem := secs/86400, secs%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	year, month, day := civilFromDays(days)
	wd := (days%7 + 11) % 7 // 1970-01-01 was a Thursday (index 4)
	dst = append(dst, dayNames[wd]...)
	dst = append(dst, ", "...)
	dst = append2(dst, day)
	dst = append(dst, ' ')
	dst = append(dst, monthNames[month-1]...)
	dst = append(dst, ' ')
	dst = append2(dst, year/100)
	dst = append2(dst, year%100)
	dst = append(dst, ' ')
	dst = append2(dst, int(rem/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(rem/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(rem%60))
	return append(dst, " GMT"...)
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (year, month, day int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // March = 0
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}
