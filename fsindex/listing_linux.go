//go:build linux

package fsindex

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
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

// listingPage is the listing's HTML. html/template escapes every name by
// its context: in the link, after url.PathEscape, for the attribute; in
// the text, for HTML. The page has no script, and its style is inline so
// the listing is one response; the viewport line keeps it legible on a
// phone.
var listingPage = template.Must(template.New("listing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of {{.Path}}</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:1rem auto;max-width:60rem;padding:0 .75rem;color:#222;background:#fff}
h1{font-size:1.2rem;word-break:break-all}
table{border-collapse:collapse;width:100%}
th,td{padding:.3rem .5rem;text-align:left;border-bottom:1px solid #ddd}
th{font-weight:600}
td:nth-child(2),th:nth-child(2){text-align:right;white-space:nowrap}
td:nth-child(3){white-space:nowrap}
a{color:#0645ad;text-decoration:none;word-break:break-all}
a:hover{text-decoration:underline}
tr.dir a{font-weight:600}
small{color:#666}
@media (max-width:40rem){td:nth-child(3),th:nth-child(3){display:none}}
@media (prefers-color-scheme:dark){body{color:#ddd;background:#111}th,td{border-color:#333}a{color:#8ab4f8}small{color:#999}}
</style></head>
<body><h1>Index of {{.Path}}</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead>
<tbody>
{{if .Parent}}<tr class="dir"><td><a href="../">../</a></td><td></td><td></td></tr>
{{end}}{{range .Rows}}<tr class="{{.Kind}}"><td><a href="{{.Href}}">{{.Name}}</a>{{if eq .Kind "link"}} <small>symlink</small>{{end}}</td>
{{- if eq .Kind "file"}}<td data-bytes="{{.Bytes}}">{{.Size}}</td>{{else}}<td>-</td>{{end -}}
<td><time datetime="{{.ISO}}">{{.When}}</time></td></tr>
{{end}}</tbody></table>
{{if .Truncated}}<p>Listing truncated after the first {{len .Rows}} names.</p>
{{end}}</body></html>
`))

// listingRow is one name of a listing as the page shows it.
type listingRow struct {
	Name  string // the name, "/" added for a directory
	Href  string // "./" and the name, path-escaped ("./" so "javascript:x" cannot read as a scheme)
	Kind  string // dir, file or link: the row's class, and what is shown about it
	Bytes int64  // a file's exact size
	Size  string // a file's size for people: 5 B, 1.5 KiB, 12 MiB
	ISO   string // modification time, RFC 3339 in UTC
	When  string // modification time for people, to the minute, in UTC
	key   string // the name, for sorting
}

// listingRowMax bounds a row's bytes beyond ten per byte of its name: a
// name byte becomes at most "%XX" in the link and then, HTML-escaped, at
// most five bytes, and at most five in the text ("&#34;").
const listingRowMax = 320

// listing builds the listing of the directory open on dirfd, whose URL
// path is key, in both its forms from the one directory read: the HTML
// page and the JSON document (see listingJSON). It returns with them the
// newest modification time among the entries listed. Directories come first, then everything else, each
// sorted by name without regard to ASCII case (bytewise between names that
// differ only in case), as a person scans a listing. Dotfiles are left out
// unless allowed, and so are FIFOs, sockets and devices, which are never
// served. Entries are stat'ed with AT_SYMLINK_NOFOLLOW relative to dirfd,
// so a symlink is shown as one and nothing about its target shows, even
// when it points out of the root. Past maxListed names, or past the rows
// that fit in x.listMax bytes (both forms together), the listing ends with
// a note saying after how many names it stops, and the JSON says
// "truncated": true.
func (x *Index) listing(c *syscount.Counters, dirfd int, key string, atRoot bool) (page, doc []byte, newest time.Time, err error) {
	names, truncated, err := readNames(c, dirfd, x.opts.AllowDotfiles)
	if err != nil {
		return nil, nil, newest, err
	}
	rows := make([]listingRow, 0, len(names))
	for _, name := range names {
		var st unix.Stat_t
		if c.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue // gone since getdents
		}
		r := listingRow{Name: name, key: name, Href: "./" + url.PathEscape(name)}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			r.Kind, r.Name, r.Href = "dir", name+"/", r.Href+"/"
		case unix.S_IFREG:
			r.Kind, r.Bytes, r.Size = "file", st.Size, humanSize(st.Size)
		case unix.S_IFLNK:
			r.Kind = "link"
		default:
			continue
		}
		mt := time.Unix(st.Mtim.Sec, 0).UTC()
		if mt.After(newest) {
			newest = mt
		}
		r.ISO, r.When = mt.Format(time.RFC3339), mt.Format("2006-01-02 15:04")
		rows = append(rows, r)
	}
	slices.SortFunc(rows, compareRows)
	// The pages without rows, and the note, always fit: rows stop where
	// the next one could pass the bound.
	size := listingPageMax + 2*len(key)*5 + jsonPageMax + 6*len(key)
	for i, r := range rows {
		if size += (10+12)*len(r.key) + listingRowMax + jsonRowMax; size > int(x.listMax) {
			truncated, rows = true, rows[:i]
			break
		}
	}
	var b bytes.Buffer
	b.Grow(min(size, int(x.listMax)))
	err = listingPage.Execute(&b, struct {
		Path      string
		Parent    bool
		Rows      []listingRow
		Truncated bool
	}{key, !atRoot, rows, truncated})
	if err != nil {
		return nil, nil, newest, err
	}
	doc, err = listingJSON(key, rows, truncated)
	return b.Bytes(), doc, newest, err
}

// listingPageMax bounds the page's bytes besides its rows and the escaped
// path: the head with its style, the table's head, the parent's row, the
// note and the end.
const listingPageMax = 2 << 10

// jsonListing is the JSON form of a listing, for scripts: the same rows in
// the same order as the page, with exact sizes and times.
type jsonListing struct {
	Path      string      `json:"path"`      // the directory's URL path, decoded
	Entries   []jsonEntry `json:"entries"`   // never null: [] for an empty directory
	Truncated bool        `json:"truncated"` // the listing stopped before the directory's end
}

// jsonEntry is one row of a JSON listing. Name is the name as stored;
// encoding/json writes a byte that is not UTF-8 as U+FFFD, so a script
// that must name such a file exactly follows Href, which is exact.
type jsonEntry struct {
	Name  string `json:"name"`           // the name, no "/" added
	Href  string `json:"href"`           // as the page links it: "./" and the path-escaped name, "/" after a directory
	Type  string `json:"type"`           // "dir", "file" or "symlink"
	Size  *int64 `json:"size,omitempty"` // bytes, for a file only
	MTime string `json:"mtime"`          // modification time, RFC 3339 in UTC, to the second
}

// jsonRowMax bounds a JSON row's bytes beyond twelve per byte of its
// name: encoding/json writes a name byte as at most six ("\u003c",
// "\ufffd"), and the link's too: url.PathEscape makes a byte at most
// three, but leaves "&", which encoding/json then writes as "\u0026".
// jsonPageMax bounds the document besides its rows and the path (six per
// byte at most).
const (
	jsonRowMax  = 160
	jsonPageMax = 128
)

var jsonTypes = map[string]string{"dir": "dir", "file": "file", "link": "symlink"}

// listingJSON writes the rows as a JSON listing. encoding/json escapes <,
// > and & as well as the control bytes and quotes, so the document is
// inert even if a client sniffs it as HTML.
func listingJSON(key string, rows []listingRow, truncated bool) ([]byte, error) {
	doc := jsonListing{Path: key, Entries: make([]jsonEntry, len(rows)), Truncated: truncated}
	for i := range rows {
		r := &rows[i]
		je := jsonEntry{Name: r.key, Href: r.Href, Type: jsonTypes[r.Kind], MTime: r.ISO}
		if r.Kind == "file" {
			je.Size = &r.Bytes
		}
		doc.Entries[i] = je
	}
	b, err := json.Marshal(&doc)
	return append(b, '\n'), err
}

// compareRows orders directories before everything else, then by name
// folded to lower case, then bytewise.
func compareRows(a, b listingRow) int {
	if ad, bd := a.Kind == "dir", b.Kind == "dir"; ad != bd {
		if ad {
			return -1
		}
		return 1
	}
	if c := compareFold(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

// compareFold compares ASCII-case-folded, without allocating.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

// humanSize writes a size in bytes as a person reads it, in binary units
// (IEC 80000-13): whole bytes below 1 KiB, one decimal below 10 of a unit,
// whole units above.
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n), 0
	const units = "KMGTPE"
	for v /= 1024; v >= 1024 && unit < len(units)-1; v /= 1024 {
		unit++
	}
	prec := 0
	if v < 10 {
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[unit:unit+1] + "iB"
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
// directory. form is 'L' for the page and 'J' for the JSON: each form is a
// representation of its own, and a strong ETag names one (RFC 9110 §8.8.3).
func bodyETag(form byte, body []byte) string {
	h := fnv.New64a()
	h.Write(body)
	b := make([]byte, 0, 20)
	b = append(b, '"', form)
	b = strconv.AppendUint(b, h.Sum64(), 16)
	return string(append(b, '"'))
}
