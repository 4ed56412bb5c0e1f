package httpparse

// Requests shared by the split tests, the differential test, the
// benchmarks and the fuzz seeds.

// browserGET is a typical browser navigation: about 500 bytes, 12 fields.
var browserGET = crlf(`GET /docs/guide/index.html?lang=en HTTP/1.1
Host: www.example.com
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8
Accept-Language: en-US,en;q=0.5
Accept-Encoding: gzip, deflate, br, zstd
Connection: keep-alive
Referer: https://www.example.com/docs/
Upgrade-Insecure-Requests: 1
Sec-Fetch-Dest: document
Sec-Fetch-Mode: navigate
If-None-Match: "5e1f-61a2b3c4d5e6f"
If-Modified-Since: Tue, 15 Oct 2024 10:20:30 GMT

`)

// curlGET is what `curl http://localhost:8080/` sends.
var curlGET = crlf(`GET / HTTP/1.1
Host: localhost:8080
User-Agent: curl/8.5.0
Accept: */*

`)

// validCorpus must parse, identically however it is split.
var validCorpus = []string{
	browserGET,
	curlGET,
	crlf("GET /a HTTP/1.0\n\n"),
	crlf("GET /a HTTP/1.0\nConnection: keep-alive\n\n"),
	crlf("HEAD /a%20b/c?x=1&y=%2F HTTP/1.1\nHost: example.com\nConnection: close\n\n"),
	crlf("\n\nGET / HTTP/1.1\nHost: a\n\n"),                             // leading empty lines, RFC 9112 §2.2
	"GET / HTTP/1.1\nHost: a\nX: y\n\n",                                 // bare LF, RFC 9112 §2.2
	crlf("GET http://example.org:8080/p?q=1 HTTP/1.1\nHost: other\n\n"), // absolute-form
	crlf("GET https://[::1]:8443 HTTP/1.1\nHost: [::1]:8443\n\n"),
	crlf("OPTIONS * HTTP/1.1\nHost: a\n\n"),
	crlf("POST /upload HTTP/1.1\nHost: a\nContent-Length: 5\nExpect: 100-continue\n\nhello"),
	crlf("POST /upload HTTP/1.1\nHost: a\nContent-Length: 5\nContent-Length: 5\n\nhello"),
	crlf("POST /upload HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n"),
	crlf("PUT /x HTTP/1.1\nHost: a\nContent-Length: 0\n\n"),
	crlf("GET /?a HTTP/1.1\nHost: a\nX-Empty:\nX-Tab:\tv\tw \t\nX-Obs-Text: caf\xc3\xa9\n\n"),
	crlf("GET /~user/a-b_c.d!$&'()*+,;=:@/[x]|y^z{}? HTTP/1.1\nHost: a\n\n"),
	crlf("BREW /pot HTTP/1.1\nHost: \n\n"), // unknown method, empty Host
	crlf("GET //a//b/../c HTTP/1.1\nHost: h.example:80\nConnection: Upgrade, Keep-Alive,, CLOSE\n\n"),
	crlf("DELETE /x HTTP/1.1\nhOsT: a\ncontent-LENGTH: 0012\n\n"),
}
