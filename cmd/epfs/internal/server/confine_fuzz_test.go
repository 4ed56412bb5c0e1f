//go:build linux

package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// FuzzServeConfined is FuzzServe against a root with a sibling directory,
// "outside", whose files must never be served, and every kind of link out
// of the root that fsindex must refuse: relative and absolute symlinks to a
// file and to the directory, a link deep in a subdirectory, a chain of
// links, a dotfile link (dotfiles allowed), a precompressed variant and an
// index file that point out, and a fallback path that leads out. Listings,
// precompressed variants, dotfiles and the fallback are all on, so each of
// those paths to a file is open to the fuzzer. On top of FuzzServe's
// checks (responses parse, no hang, healthy after), no response may carry
// the outside files' token. Seeds are in testdata/fuzz/FuzzServeConfined.
func FuzzServeConfined(f *testing.F) {
	root, token := confinedRoot(f)
	r := start(f, Config{Root: root, Autoindex: true, AllowDotfiles: true, Precompressed: true,
		Fallback: "/out/secret.txt"})
	f.Fuzz(func(t *testing.T, in []byte) {
		if out := exchange(t, r, in); bytes.Contains(out, token) {
			t.Fatalf("a response carries a file from outside the root:\n%q", out)
		}
		if status, body := fresh(t, r); status != 200 || body != "hello, world\n" {
			t.Fatalf("after the input: %d %q, want 200", status, body)
		}
	})
}

// confinedRoot makes parent/root (testRoot's files) beside parent/outside,
// with links from the root to the outside, and returns the root and the
// token the outside files are made of: repeated, so that any leak of at
// least 2*len(token)-1 bytes of their content carries a whole one. The
// token holds a random nonce, so a response cannot contain it by echoing
// the fuzzer's input (a 301's Location does echo the path), and the file
// names stay fixed, so the seeds can name them.
func confinedRoot(t testing.TB) (string, []byte) {
	t.Helper()
	parent := t.TempDir()
	root, outside := filepath.Join(parent, "root"), filepath.Join(parent, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub"), filepath.Join(root, "index-out")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeRoot(t, root, false)
	nonce := make([]byte, 4)
	rand.Read(nonce)
	token := []byte("<outside-secret-" + hex.EncodeToString(nonce) + ">")
	secret := bytes.Repeat(token, 64)
	for _, name := range []string{"secret.txt", "secret.txt.gz", "index.html", ".hidden"} {
		if err := os.WriteFile(filepath.Join(outside, name), secret, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"escape.txt":           "../outside/secret.txt",
		"abs.txt":              filepath.Join(outside, "secret.txt"),
		"out":                  "../outside",
		"absdir":               outside,
		"sub/deep.txt":         "../../outside/secret.txt",
		"sub/up":               "..",
		"chain1":               "chain2",
		"chain2":               "sub/../../outside/secret.txt",
		".dot":                 "../outside/.hidden",
		"hello.txt.gz":         "../outside/secret.txt.gz",
		"index-out/index.html": "../../outside/index.html",
		"loop":                 "loop",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root, token
}
