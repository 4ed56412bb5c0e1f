//go:build linux

package fsindex

import (
	"hash/fnv"
	"html"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// maxListed bounds the names in one listing, and maxListingBytes its size:
// it is built with one fstatat per name, and its body is held in memory
// for as long as any response sends it. The byte bound is also at most a
// quarter of a cache shard's byte budget (see Index.listMax), so a listing
// can always be cached and is not rebuilt per request.
const (
	maxListed       = 10000
	maxListingBytes = 1 << 20
)

// listing builds the HTML listing of the directory open on dirfd, whose
// URL path is key, and returns with it the newest modification time among
// the entries listed. Names are sorted bytewise; dotfiles are left out
// unless allowed, and so are FIFOs, sockets and devices, which are never
// served. Each name is escaped twice over: for the URL (url.PathEscape,
// behind "./" so a name like "javascript:x" cannot read as a scheme) and
// for HTML. Entries are stat'ed with AT_SYMLINK_NOFOLLOW relative to
// dirfd, so a symlink pointing out of the root shows nothing about its
// target. Past maxListed names or x.listMax bytes the listing ends with a
// note saying after how many names it stops.
func (x *Index) listing(c *syscount.Counters, dirfd int, key string, atRoot bool) ([]byte, time.Time, error) {
	var newest time.Time
	names, truncated, err := readNames(c, dirfd, x.opts.AllowDotfiles)
	if err != nil {
		return nil, newest, err
	}
	slices.Sort(names)
	title := html.EscapeString(key)
	// The tail (table end, the note, the document end) always fits: rows
	// stop this far short of the bound.
	const tail = 256
	limit := int(x.listMax) - tail
	b := make([]byte, 0, min(512+len(names)*160, int(x.listMax)))
	b = append(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Index of "...)
	b = append(b, title...)
	b = append(b, "</title></head>\n<body><h1>Index of "...)
	b = append(b, title...)
	b = append(b, "</h1>\n<table>\n"...)
	if !atRoot {
		b = append(b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n"...)
	}
	for i, name := range names {
		// A row is at most ten bytes per byte of the name (in the link,
		// a byte becomes "%XX" or, HTML-escaped, up to five bytes; in the
		// text up to five) and its fixed text, size and time.
		if len(b)+10*len(name)+160 > limit {
			truncated = true
			names = names[:i]
			break
		}
		var st unix.Stat_t
		if c.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue // gone since getdents
		}
		suffix, size := "", "-"
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			suffix = "/"
		case unix.S_IFREG:
			size = strconv.FormatInt(st.Size, 10)
		case unix.S_IFLNK:
		default:
			continue
		}
		b = append(b, "<tr><td><a href=\"./"...)
		b = append(b, html.EscapeString(url.PathEscape(name))...)
		b = append(b, suffix...)
		b = append(b, "\">"...)
		b = append(b, html.EscapeString(name)...)
		b = append(b, suffix...)
		b = append(b, "</a></td><td>"...)
		b = append(b, size...)
		b = append(b, "</td><td>"...)
		mt := time.Unix(st.Mtim.Sec, 0)
		if mt.After(newest) {
			newest = mt
		}
		b = mt.UTC().AppendFormat(b, "2006-01-02 15:04:05")
		b = append(b, "</td></tr>\n"...)
	}
	b = append(b, "</table>\n"...)
	if truncated {
		b = append(b, "<p>Listing truncated after the first "...)
		b = strconv.AppendInt(b, int64(len(names)), 10)
		b = append(b, " names.</p>\n"...)
	}
	return append(b, "</body></html>\n"...), newest, nil
}

// readNames reads the names in the directory open on dirfd with getdents64,
// without "." and "..", and without dotfiles unless dots is set.
func readNames(c *syscount.Counters, dirfd int, dots bool) (names []string, truncated bool, err error) {
	buf := make([]byte, 16<<10)
	var batch []string
	for {
		n, err := c.Getdents(dirfd, buf)
		if err != nil {
			return nil, false, err
		}
		if n <= 0 {
			return names, false, nil
		}
		_, _, batch = unix.ParseDirent(buf[:n], -1, batch[:0])
		for _, name := range batch {
			if !dots && name[0] == '.' {
				continue
			}
			if len(names) == maxListed {
				return names, true, nil
			}
			names = append(names, name)
		}
	}
}

// bodyETag is a listing's strong ETag: a hash of the bytes themselves, since
// a listing shows sizes and times of files whose changes do not touch the
// directory.
func bodyETag(body []byte) string {
	h := fnv.New64a()
	h.Write(body)
	b := make([]byte, 0, 20)
	b = append(b, "\"L"...)
	b = strconv.AppendUint(b, h.Sum64(), 16)
	return string(append(b, '"'))
}
