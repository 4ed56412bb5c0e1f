package httpparse_test

import (
	"fmt"

	"github.com/epfs/epfs/httpparse"
)

// A connection's read loop: bytes arrive in pieces; Parse says when a
// head is complete and how much of the buffer it used.
func Example() {
	var p httpparse.Parser
	var req httpparse.Request
	var buf []byte
	for _, chunk := range []string{
		"GET /docs/../index.html?v=2 HTTP/1.1\r\nHo",
		"st: example.com\r\nRange: bytes=0-99\r\nAccept-Encoding: gzip, br;q=0.9\r\n\r\n",
	} {
		buf = append(buf, chunk...)
		n, err := p.Parse(buf, &req)
		if err == httpparse.ErrNeedMore {
			fmt.Println("need more")
			continue
		}
		if e, ok := err.(*httpparse.Error); ok {
			fmt.Println("answer", e.Status, e.Reason)
			return
		}
		path, query, err := httpparse.DecodePath(make([]byte, 0, 64), req.Target)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s query=%s host=%s keep-alive=%v consumed=%d/%d\n",
			req.Method, path, query, req.Host, req.KeepAlive, n, len(buf))

		var ranges [8]httpparse.ByteRange
		k, res := httpparse.ParseRange(req.Header("Range"), 1000, ranges[:])
		fmt.Println("range:", res, ranges[:k])

		enc, _ := httpparse.ParseAcceptEncoding(req.Header("Accept-Encoding"))
		fmt.Println("send:", enc.Best(true, false, true))
	}
	// Output:
	// need more
	// GET /index.html query=v=2 host=example.com keep-alive=true consumed=111/111
	// range: ok [{0 100}]
	// send: gzip
}
