//go:build linux

package transmit

import (
	"bufio"
	"bytes"
	"testing"
)

func TestSmoke(t *testing.T) {
	for _, st := range []Strategy{Sendfile, Splice, Copy} {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnv(t, Config{Strategy: st, ServerHeader: "epfs"})
			small := []byte("hello, world\n")
			big := bytes.Repeat([]byte("0123456789abcdef"), 20000)
			e.file("a.txt", small)
			e.file("big.bin", big)
			tc, client := e.conn(0)
			br := bufio.NewReader(client)
			for _, c := range []struct {
				raw  string
				want []byte
			}{
				{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", small},
				{"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", big},
				{"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=5-9,100-\r\n\r\n", nil},
			} {
				tc.send(c.raw)
				resp, body := readResponse(t, br, "GET")
				end := tc.wait()
				t.Logf("%d %v %d %v", resp.StatusCode, resp.Header, len(body), end)
				if c.want != nil && !bytes.Equal(body, c.want) {
					t.Fatalf("body mismatch")
				}
			}
		})
	}
}
