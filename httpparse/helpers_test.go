package httpparse

import (
	"fmt"
	"strings"
)

// result is a comparable picture of one Parse outcome.
type result struct {
	Consumed  int
	Status    int // 0 for success
	Method    string
	MethodID  Method
	Target    string
	Version   string
	Minor     int
	Path      string
	Query     string
	QueryNil  bool
	Host      string
	Fields    string // "name: value\n" per field, in order
	KeepAlive bool
	Expect100 bool
	Framing   Framing
	Length    int64
}

func (r result) String() string {
	type plain result // no String method, so %+v does not recurse
	return fmt.Sprintf("%+v", plain(r))
}

func snapshot(n int, err error, req *Request) result {
	if err != nil {
		if e, ok := err.(*Error); ok {
			return result{Status: e.Status}
		}
		return result{Status: -1} // ErrNeedMore
	}
	var fields strings.Builder
	for _, f := range req.FieldList() {
		fmt.Fprintf(&fields, "%s: %s\n", f.Name, f.Value)
	}
	return result{
		Consumed: n, Method: string(req.Method), MethodID: req.MethodID,
		Target: string(req.Target), Version: string(req.Version), Minor: req.Minor,
		Path: string(req.Path), Query: string(req.Query), QueryNil: req.Query == nil,
		Host: string(req.Host), Fields: fields.String(),
		KeepAlive: req.KeepAlive, Expect100: req.Expect100,
		Framing: req.Framing, Length: req.ContentLength,
	}
}

// parseOnce parses b in a single call with a fresh parser.
func parseOnce(b []byte, lim Limits) result {
	p := Parser{Limits: lim}
	var req Request
	n, err := p.Parse(b, &req)
	return snapshot(n, err, &req)
}

// parseChunks feeds b to one parser in pieces ending at the given offsets
// (the last piece ends at len(b)). Each call gets a fresh copy of the bytes
// so far, and the older copies are overwritten before the result is read, so
// a parser that kept slices of an older buffer, instead of offsets, is caught.
func parseChunks(b []byte, lim Limits, cuts ...int) result {
	p := Parser{Limits: lim}
	var req Request
	var old [][]byte
	for _, c := range append(cuts, len(b)) {
		buf := append([]byte(nil), b[:c]...)
		n, err := p.Parse(buf, &req)
		if err != ErrNeedMore {
			for _, o := range old {
				for i := range o {
					o[i] = '#'
				}
			}
			return snapshot(n, err, &req)
		}
		old = append(old, buf)
	}
	return result{Status: -1}
}

// parseBytewise feeds b one byte at a time into a buffer that grows in
// place, the way a connection's read buffer does.
func parseBytewise(b []byte, lim Limits) result {
	p := Parser{Limits: lim}
	var req Request
	for i := 1; i <= len(b); i++ {
		n, err := p.Parse(b[:i], &req)
		if err != ErrNeedMore {
			return snapshot(n, err, &req)
		}
	}
	return result{Status: -1}
}

// crlf turns "\n" into "\r\n", for readable test requests.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
