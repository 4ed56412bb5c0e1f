package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAccessLogFields: each line carries the request's host, protocol,
// user agent and referer, escaped by zerolog: quotes, backslashes, a tab,
// UTF-8, bytes that are not UTF-8 (U+FFFD), and a value made to look like
// more JSON all come back as one string of one line, and no client can
// add a field or a line. Absent fields log as "", and a head the parser
// refused (here for a control byte in a field value) logs none of them.
func TestAccessLogFields(t *testing.T) {
	f := newFixture(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	_, base := serve(t, f, "--access-log", logPath)
	addr := strings.TrimPrefix(base, "http://")
	ua := "Mozilla/5.0 \"quoted\" \\ back\tslash été \xff\xfe end\",\"status\":999,\"x\":\""
	ref := "http://r.example/?q=<script>&\"x\""
	raw(t, addr, "GET /hello.txt HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: "+ua+"\r\nReferer: "+ref+"\r\nConnection: close\r\n\r\n")
	raw(t, addr, "HEAD /nope HTTP/1.0\r\n\r\n")
	raw(t, addr, "GET /style.css HTTP/1.1\r\nHost: h\r\nUser-Agent: a\x01b\r\n\r\n")
	type line struct {
		Method, Path, Host, Proto, UserAgent, Referer string
		Status                                        int
	}
	// By status: each loop hands over its own buffer, so lines from two
	// loops may come in either order.
	want := map[int]line{
		200: {"GET", "/hello.txt", "Example.COM:8080", "HTTP/1.1", strings.ReplaceAll(ua, "\xff\xfe", "\ufffd\ufffd"), ref, 200},
		404: {"HEAD", "/nope", "", "HTTP/1.0", "", "", 404},
		400: {"", "", "", "", "", "", 400},
	}
	var raws []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		raws = strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(raws) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(raws) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(raws), len(want), strings.Join(raws, "\n"))
	}
	for i, l := range raws {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i, err, l)
		}
		got := line{str(m["method"]), str(m["path"]), str(m["host"]), str(m["proto"]), str(m["user_agent"]), str(m["referer"]), int(num(m["status"]))}
		if got != want[got.Status] {
			t.Errorf("line %d:\n got %#v\nwant %#v\n%s", i, got, want[got.Status], l)
		}
		delete(want, got.Status)
		if _, forged := m["x"]; forged {
			t.Errorf("line %d: a client added a field: %s", i, l)
		}
	}
	// On the line itself: the tab escaped, and a replacement character
	// for each of the two bytes that are not UTF-8.
	all := strings.Join(raws, "\n")
	if !strings.Contains(all, `back\tslash`) || strings.Count(all, `\ufffd`) != 2 {
		t.Errorf("escaping: %s", all)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	n, _ := v.(float64)
	return n
}
