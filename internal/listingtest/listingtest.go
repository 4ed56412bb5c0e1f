// Package listingtest reads a directory listing page of epfs the way a
// browser does, with an HTML5 parser, so that the tests of fsindex (which
// builds the page) and of the binary (which serves it) check one reading
// of it. It is for tests only.
package listingtest

import (
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// Page is what a listing shows.
type Page struct {
	Viewport bool     // a viewport meta with width=device-width
	Markup   []string // script, b and i elements: markup a file name must never make
	Heads    []string // the table's header cells
	Parent   bool     // a "../" row
	Rows     []Row    // the rows after the parent's, in order
}

// Row is one name in a listing.
type Row struct {
	Class string // the row's class: dir, file or link
	Href  string // the first cell's link
	Name  string // the link's text
	Note  string // what the first cell says besides the name ("symlink")
	Size  string // the second cell's text
	Bytes string // the second cell's data-bytes attribute
}

// Parse reads a listing page. It fails on a table row of the body that is
// not three cells with a link in the first.
func Parse(page string) (*Page, error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil, err
	}
	p := &Page{}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "meta":
			p.Viewport = p.Viewport || attr(n, "name") == "viewport" && strings.Contains(attr(n, "content"), "width=device-width")
		case "script", "b", "i":
			p.Markup = append(p.Markup, n.Data)
		case "th":
			p.Heads = append(p.Heads, text(n))
		case "tr":
			if n.Parent.Data != "tbody" {
				continue
			}
			if err := p.row(n); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// row reads one row of the table's body.
func (p *Page) row(tr *html.Node) error {
	var cells []*html.Node
	for c := range tr.ChildNodes() {
		if c.Type == html.ElementNode && c.Data == "td" {
			cells = append(cells, c)
		}
	}
	var a *html.Node
	if len(cells) == 3 {
		for d := range cells[0].Descendants() {
			if d.Type == html.ElementNode && d.Data == "a" {
				a = d
				break
			}
		}
	}
	if a == nil {
		return fmt.Errorf("a listing row with %d cells and no link in the first", len(cells))
	}
	if attr(a, "href") == "../" {
		p.Parent = true
		return nil
	}
	r := Row{Class: attr(tr, "class"), Href: attr(a, "href"), Name: text(a), Size: text(cells[1]), Bytes: attr(cells[1], "data-bytes")}
	r.Note = strings.TrimSpace(strings.TrimPrefix(text(cells[0]), r.Name))
	p.Rows = append(p.Rows, r)
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text is the text of n and everything beneath it.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
