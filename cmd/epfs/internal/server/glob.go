package server

import (
	"errors"
	"fmt"
)

// Glob is the pattern language of header and Cache-Control rules, matched
// against the path of the file served (always starting with "/"):
//
//   - "*" as the whole glob matches every path.
//   - "*" inside a glob matches any run of characters but "/", as in
//     path.Match: "/*.html" is /index.html, never /dir/index.html.
//   - "**/" matches zero or more whole directories: "/**/*.html" is every
//     .html file, /index.html as well as /a/b/c.html.
//   - "**" anywhere else matches any run of characters, "/" included:
//     "/assets/**" is everything below /assets/.
//   - "?" matches one character but "/"; "[abc]", "[a-z]" one of the set,
//     "[!a-z]" or "[^a-z]" one not in it, never "/".
//   - "\x" matches x itself.
//
// A glob cannot hold "=": the first "=" of a rule ends its glob.
type glob struct {
	all  bool      // the glob "*": every path
	toks []globTok // the pattern, compiled
}

type globTok struct {
	kind  uint8
	c     byte       // tokByte
	class *[256]bool // tokClass
}

const (
	tokByte  uint8 = iota // one character, itself
	tokOne                // "?": one character but '/'
	tokClass              // "[...]": one character of the set (never '/')
	tokStar               // "*": a run without '/'
	tokAny                // "**": any run
	tokDirs               // "**/": zero or more whole directories
)

// checkGlob reports why g is not a glob a rule can have.
func checkGlob(g string) error {
	_, err := compileGlob(g)
	return err
}

func compileGlob(g string) (glob, error) {
	if g == "*" {
		return glob{all: true}, nil
	}
	if g == "" || g[0] != '/' {
		return glob{}, fmt.Errorf("want a glob that is * or starts with /, not %q", g)
	}
	var gl glob
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				i++
				if i+1 < len(g) && g[i+1] == '/' && g[i-2] == '/' {
					i++
					gl.toks = append(gl.toks, globTok{kind: tokDirs})
					continue
				}
				gl.toks = append(gl.toks, globTok{kind: tokAny})
				continue
			}
			gl.toks = append(gl.toks, globTok{kind: tokStar})
		case '?':
			gl.toks = append(gl.toks, globTok{kind: tokOne})
		case '[':
			set, n, err := compileClass(g[i+1:])
			if err != nil {
				return glob{}, fmt.Errorf("glob %q: %v", g, err)
			}
			i += n
			gl.toks = append(gl.toks, globTok{kind: tokClass, class: set})
		case '\\':
			if i+1 == len(g) {
				return glob{}, fmt.Errorf("glob %q: a trailing \\ escapes nothing", g)
			}
			i++
			gl.toks = append(gl.toks, globTok{kind: tokByte, c: g[i]})
		default:
			gl.toks = append(gl.toks, globTok{kind: tokByte, c: c})
		}
	}
	return gl, nil
}

// compileClass compiles the class whose text follows a '[' and returns how
// many bytes it took, the closing ']' included.
func compileClass(s string) (*[256]bool, int, error) {
	set := new([256]bool)
	i, neg := 0, false
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		neg, i = true, i+1
	}
	first := i
	for ; i < len(s); i++ {
		c := s[i]
		if c == ']' && i > first {
			if neg {
				for b := range set {
					set[b] = !set[b]
				}
			}
			set['/'] = false
			return set, i + 1, nil
		}
		if c == '\\' && i+1 < len(s) {
			i++
			c = s[i]
		}
		hi := c
		if i+2 < len(s) && s[i+1] == '-' && s[i+2] != ']' {
			hi, i = s[i+2], i+2
			if hi < c {
				return nil, 0, fmt.Errorf("range %c-%c runs backwards", c, hi)
			}
		}
		for b := int(c); b <= int(hi); b++ {
			set[b] = true
		}
	}
	return nil, 0, errors.New("a [ without its ]")
}

// match reports whether path matches the glob. It follows every way the
// pattern can consume path at once, one token at a time (a row of booleans
// per token over the path's prefixes), so it takes len(glob)×len(path)
// steps whatever the stars, with no backtracking; it runs once per entry
// built, never per request.
func (g glob) match(path string) bool {
	if g.all {
		return true
	}
	n := len(path)
	cur, next := make([]bool, n+1), make([]bool, n+1)
	cur[0] = true // the empty pattern matches the empty prefix
	for _, t := range g.toks {
		clear(next)
		switch t.kind {
		case tokByte, tokOne, tokClass:
			for j := 0; j < n; j++ {
				if cur[j] && t.one(path[j]) {
					next[j+1] = true
				}
			}
		case tokStar:
			for j := 0; j <= n; j++ {
				next[j] = cur[j] || j > 0 && next[j-1] && path[j-1] != '/'
			}
		case tokAny:
			for j := 0; j <= n; j++ {
				next[j] = cur[j] || j > 0 && next[j-1]
			}
		case tokDirs:
			// "" or any run ending in '/': seen is whether some prefix
			// before j matched the pattern so far.
			seen := false
			for j := 0; j <= n; j++ {
				next[j] = cur[j] || seen && j > 0 && path[j-1] == '/'
				seen = seen || cur[j]
			}
		}
		cur, next = next, cur
	}
	return cur[n]
}

// one reports whether a one-character token matches c.
func (t globTok) one(c byte) bool {
	switch t.kind {
	case tokByte:
		return c == t.c
	case tokOne:
		return c != '/'
	default:
		return t.class[c]
	}
}
