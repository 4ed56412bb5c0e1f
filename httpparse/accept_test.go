package httpparse

import "testing"

// One row per rule of RFC 9110 §12.5.1 the server relies on: the most
// specific matching range decides, a range's parameters must hold, the
// weight ends the parameters, and malformed values are refused.
func TestMediaQuality(t *testing.T) {
	for _, tc := range []struct {
		accept  string
		html    int
		json    int
		ok      bool
		comment string
	}{
		{"", 0, 0, true, "an empty value accepts nothing"},
		{"*/*", 1000, 1000, true, "curl's default"},
		{"application/json", 0, 1000, true, ""},
		{"APPLICATION/JSON", 0, 1000, true, "names are case-insensitive"},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 1000, 800, true, "a browser's"},
		{"application/json, */*;q=0.1", 100, 1000, true, "a script's"},
		{"application/*;q=0.4, */*;q=0.9", 900, 400, true, "type/* beats */* whatever its weight"},
		{"*/*;q=0.9, application/json;q=0", 900, 0, true, "exclusion by the exact type"},
		{"text/html;charset=utf-8;q=0.3, text/html;q=0.8", 300, 0, true, "with parameters beats without"},
		{`text/html;charset="UTF-8"`, 1000, 0, true, "a quoted parameter value"},
		{"text/html;level=1, text/*;q=0.2", 200, 0, true, "a parameter the type lacks: the range does not match"},
		{"application/json;q=0.5;ext=1", 0, 500, true, "accept-ext after the weight is ignored"},
		{"application/json ; q=0.5 , ,", 0, 500, true, "OWS and empty elements"},
		{"text/html, text/html;q=0.1", 1000, 0, true, "the first of equals counts"},
		{"*/json", 0, 0, false, "not a media range"},
		{"application", 0, 0, false, "no subtype"},
		{"application/json;q=2", 0, 0, false, "q above 1"},
		{"application/json;q", 0, 0, false, "a parameter without a value"},
		{`text/html;charset="utf-8`, 0, 0, false, "an unterminated quoted string"},
		{"application/json;q=0.5 x", 0, 0, false, "junk after the weight"},
	} {
		h, okH := MediaQuality([]byte(tc.accept), "text", "html")
		j, okJ := MediaQuality([]byte(tc.accept), "application", "json")
		if okH != tc.ok || okJ != tc.ok || tc.ok && (h != tc.html || j != tc.json) {
			t.Errorf("%q (%s): html %d %v, json %d %v; want %d, %d, %v", tc.accept, tc.comment, h, okH, j, okJ, tc.html, tc.json, tc.ok)
		}
	}
}
