package server

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Header and Cache-Control rules: what an operator adds to responses, and
// where. A rule without a glob covers every response, the built-in errors
// included; a rule with one covers the responses that carry a file whose
// path matches it (200, 206, 304 and an error page), where the path is the
// file actually served: "/dir/index.html" for "/dir/", the fallback's own
// path for a URL that falls back to it, the page's own path for an error
// page, "/dir/" for a listing. Everything here runs when an entry is built
// (fsindex.Options.Header) or at start-up, never per request.

// HeaderRule adds the field Name: Value to the responses it covers.
type HeaderRule struct {
	Glob  string // "": every response; else a glob over the path served (see Glob)
	Name  string // a field name (RFC 9110 §5.1), not one epfs writes itself
	Value string // a field value (RFC 9110 §5.5), without CR, LF or NUL
}

// CacheRule gives the responses carrying a file whose path matches Glob
// the Cache-Control Value (RFC 9111 §5.2); the first rule that matches wins,
// and an empty Value sends none.
type CacheRule struct {
	Glob  string // "*" for every file, or a glob starting with "/" (see Glob)
	Value string
}

// ownedFields are the fields epfs writes itself, which a --header may not
// name: framing and connection management (RFC 9112 §6, §9; a second
// Content-Length or Transfer-Encoding would desynchronise every
// intermediary), the fields a file's metadata and the request decide, and
// three with their own flags. Names compare without case (RFC 9110 §5.1).
var ownedFields = map[string]string{
	"content-length":    "",
	"transfer-encoding": "",
	"connection":        "",
	"keep-alive":        "",
	"upgrade":           "",
	"te":                "",
	"trailer":           "",
	"date":              "",
	"content-encoding":  "",
	"content-range":     "",
	"accept-ranges":     "",
	"etag":              "",
	"last-modified":     "",
	"location":          "",
	"allow":             "",
	"content-type":      "--mime-type",
	"cache-control":     "--cache-control",
	"server":            "--server-header",
}

// isRule reports whether s is a rule with a glob, GLOB=REST: a glob starts
// with "/" or is "*", and neither a field name nor a Cache-Control value
// starts so, which tells the forms apart however many "=" the rest holds.
func isRule(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "*=")
}

// ParseHeader parses a --header value, "Name: value" or "GLOB=Name: value".
// The error says what was expected, for a one-line message that names the
// flag and the value.
func ParseHeader(s string) (HeaderRule, error) {
	var r HeaderRule
	field := s
	if isRule(s) {
		r.Glob, field, _ = strings.Cut(s, "=")
	}
	name, value, ok := strings.Cut(field, ":")
	if !ok {
		return r, errors.New(`want "Name: value" or "GLOB=Name: value"`)
	}
	r.Name, r.Value = name, strings.Trim(value, " \t")
	return r, r.check()
}

// check validates one header rule.
func (r HeaderRule) check() error {
	if r.Glob != "" {
		if err := checkGlob(r.Glob); err != nil {
			return err
		}
	}
	if err := checkToken(r.Name); err != nil {
		return fmt.Errorf(`want "Name: value" with a field name of letters, digits and !#$%%&'*+-.^_`+"`"+`|~ (RFC 9110 §5.1): %v`, err)
	}
	if flag, owned := ownedFields[strings.ToLower(r.Name)]; owned {
		if flag != "" {
			return fmt.Errorf("%s is set by %s, not --header", r.Name, flag)
		}
		return fmt.Errorf("%s is written by epfs itself and cannot be set", r.Name)
	}
	if r.Value == "" {
		return errors.New(`want "Name: value" with a value after the colon`)
	}
	return checkValue(r.Value)
}

// ParseCacheControl parses a --cache-control value: a bare VALUE, which
// stands for the rule *=VALUE, or GLOB=VALUE.
func ParseCacheControl(s string) (CacheRule, error) {
	r := CacheRule{Glob: "*", Value: s}
	if isRule(s) {
		r.Glob, r.Value, _ = strings.Cut(s, "=")
	}
	r.Value = strings.Trim(r.Value, " \t")
	return r, r.check()
}

// check validates one Cache-Control rule.
func (r CacheRule) check() error {
	if strings.HasPrefix(r.Value, "*") {
		// "*.html=no-cache" would otherwise be a bare value sent on every
		// file: a glob that does not start with "/" is almost surely one.
		return errors.New("want VALUE or GLOB=VALUE, where GLOB is * or starts with / (such as /**/*.html=no-cache)")
	}
	if err := checkGlob(r.Glob); err != nil {
		return err
	}
	return checkValue(r.Value)
}

// checkToken reports why name is not a token (RFC 9110 §5.6.2).
func checkToken(name string) error {
	if name == "" {
		return errors.New("the name is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return fmt.Errorf("%q is not allowed in it", c)
	}
	return nil
}

// checkValue reports why v is not a field value epfs sends: RFC 9110 §5.5
// forbids CR, LF and NUL outright, and epfs refuses every other control
// character but HTAB as well, as its parser does in requests.
func checkValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("want a field value without control characters (%q at byte %d; RFC 9110 §5.5)", c, i)
		}
	}
	return nil
}

// fieldRules are a server's rules, checked, ready for entry building.
type fieldRules struct {
	global  []byte       // every response: the rules without a glob, encoded
	scoped  []HeaderRule // rules with a glob, in the order given
	globs   []glob       // scoped[i]'s compiled glob
	cache   []CacheRule
	cglobs  []glob
	headers bool // any rule depends on the path: fsindex must ask

	// The distinct results of forPath, shared by the entries that get
	// them: a site has a handful (assets, pages, one subtree with CORS),
	// so thousands of cached entries point at a few slices. Bounded by
	// maxShared; past it each entry keeps its own copy.
	mu     sync.Mutex
	shared map[string][]byte
}

// maxShared bounds the distinct field sets kept for sharing.
const maxShared = 256

// compileRules checks and compiles cfg's rules; the error names the flag.
func compileRules(headers []HeaderRule, cache []CacheRule) (*fieldRules, error) {
	fr := &fieldRules{}
	for _, h := range headers {
		if err := h.check(); err != nil {
			return nil, fmt.Errorf("--header %q: %v", h.String(), err)
		}
		if h.Glob == "" {
			fr.global = appendFieldLine(fr.global, h.Name, h.Value)
			continue
		}
		g, _ := compileGlob(h.Glob)
		fr.scoped, fr.globs = append(fr.scoped, h), append(fr.globs, g)
	}
	for _, c := range cache {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("--cache-control %q: %v", c.Glob+"="+c.Value, err)
		}
		g, _ := compileGlob(c.Glob)
		fr.cache, fr.cglobs = append(fr.cache, c), append(fr.cglobs, g)
	}
	fr.headers = len(fr.scoped) > 0 || len(fr.cache) > 0
	return fr, nil
}

// String writes the rule as --header takes it.
func (r HeaderRule) String() string {
	if r.Glob == "" {
		return r.Name + ": " + r.Value
	}
	return r.Glob + "=" + r.Name + ": " + r.Value
}

// forPath returns the field lines of the file served at path: the first
// Cache-Control rule that matches, then every scoped header that matches,
// in the order given. It is fsindex.Options.Header, called once per entry
// built, from the loops and the I/O threads alike.
func (fr *fieldRules) forPath(path string) []byte {
	var b []byte
	for i, c := range fr.cache {
		if fr.cglobs[i].match(path) {
			if c.Value != "" {
				b = appendFieldLine(b, "Cache-Control", c.Value)
			}
			break
		}
	}
	for i, h := range fr.scoped {
		if fr.globs[i].match(path) {
			b = appendFieldLine(b, h.Name, h.Value)
		}
	}
	if b == nil {
		return nil
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if s, ok := fr.shared[string(b)]; ok {
		return s
	}
	if len(fr.shared) < maxShared {
		if fr.shared == nil {
			fr.shared = map[string][]byte{}
		}
		fr.shared[string(b)] = b
	}
	return b
}

// appendFieldLine appends "\r\nname: value", the form of
// transmit.Config.Fields and fsindex.Entry.Header.
func appendFieldLine(b []byte, name, value string) []byte {
	b = append(b, "\r\n"...)
	b = append(b, name...)
	b = append(b, ": "...)
	return append(b, value...)
}
