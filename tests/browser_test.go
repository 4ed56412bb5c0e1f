package tests

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/epfs/epfs/internal/listingtest"
)

// The browser check of the listing (make test-browser): -browser names a
// Chromium to run headless; without it TestBrowserListing is skipped, so
// make test needs no browser. -shots is where its screenshots go.
var (
	browser = flag.String("browser", "", "headless Chromium for TestBrowserListing (skipped when empty)")
	shots   = flag.String("shots", "", "directory for TestBrowserListing's screenshots (a temporary one when empty)")
)

// browserGuard is the hang guard for one Chromium run: a few seconds
// each here, most of it start-up.
const browserGuard = 2 * time.Minute

// chromium runs the browser headless on url with args and returns what
// it printed on stdout. As root Chromium refuses to start without
// --no-sandbox (its setuid sandbox needs an unprivileged user); each run
// has a profile of its own, so runs never share state.
func chromium(t *testing.T, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserGuard)
	defer cancel()
	base := []string{"--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--disable-sync", "--disable-component-update",
		"--user-data-dir=" + t.TempDir()}
	if os.Geteuid() == 0 {
		base = append(base, "--no-sandbox")
	}
	cmd := exec.CommandContext(ctx, *browser, append(append(base, args...), url)...)
	// No session bus here: Chromium's attempts to reach one only cost time.
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", *browser, args, err, stderr.Bytes())
	}
	return out
}

// TestBrowserListing: a listing as a real browser renders it. The DOM
// Chromium builds (--dump-dom) has the rows in the listing's order, every
// odd name as text (no element made from a name), the symlink marked and
// the header row; and screenshots at a phone's width and a desktop's are
// taken, for people to look at.
func TestBrowserListing(t *testing.T) {
	if *browser == "" {
		t.Skip("no -browser given (make test-browser installs Chromium and runs this)")
	}
	f := newFixture(t)
	dir := filepath.Join(f.root, "browse")
	files := map[string]int{"a file with spaces.txt": 1536, "<script>alert(1)": 12, "été – привет.txt": 5 << 20, `&amp; "q".txt`: 0, "zz": 3}
	listingDir(t, dir, []string{"sub dir", "<b>bold"}, files, "a file with spaces.txt")
	_, base := serve(t, f, "--autoindex")
	url := base + "/browse/"

	lp, err := listingtest.Parse(string(chromium(t, url, "--dump-dom")))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range lp.Rows {
		names = append(names, r.Name)
		if r.Name == "link" && (r.Class != "link" || r.Note != "symlink") {
			t.Errorf("the symlink's row: class %q, note %q", r.Class, r.Note)
		}
	}
	want := []string{"<b>bold/", "sub dir/", `&amp; "q".txt`, "<script>alert(1)", "a file with spaces.txt", "link", "zz", "été – привет.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("rendered order:\n got %q\nwant %q", names, want)
	}
	if len(lp.Markup) != 0 || !lp.Viewport || !lp.Parent || !slices.Equal(lp.Heads, []string{"Name", "Size", "Modified (UTC)"}) {
		t.Errorf("rendered page: markup %q, viewport %v, parent %v, header %q", lp.Markup, lp.Viewport, lp.Parent, lp.Heads)
	}

	out := *shots
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		w, h int
	}{{"phone", 390, 844}, {"desktop", 1280, 800}} {
		p := filepath.Join(out, "listing-"+s.name+".png")
		os.Remove(p)
		chromium(t, url, "--screenshot="+p, "--window-size="+strconv.Itoa(s.w)+","+strconv.Itoa(s.h), "--force-device-scale-factor=1")
		fh, err := os.Open(p)
		if err != nil {
			t.Fatalf("%s screenshot: %v", s.name, err)
		}
		cfg, err := png.DecodeConfig(fh)
		fh.Close()
		if err != nil || cfg.Width != s.w || cfg.Height != s.h {
			t.Errorf("%s screenshot %s: %dx%d (%v), want %dx%d", s.name, p, cfg.Width, cfg.Height, err, s.w, s.h)
		}
		t.Logf("screenshot: %s", p)
	}
}
