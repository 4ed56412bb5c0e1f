//go:build linux

package syscount_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/epfs/epfs/poller/syscount"
	"golang.org/x/sys/unix"
)

// cachestat over a file just written counts every page of the range, once
// per page, and a bad descriptor is EBADF; each call is counted by outcome
// and traced with its offset and length.
func TestCachestat(t *testing.T) {
	var c syscount.Counters
	var st unix.Cachestat_t
	switch err := c.Cachestat(-1, 0, 0, &st); err {
	case unix.EBADF:
	case unix.ENOSYS, unix.EPERM:
		t.Skipf("cachestat(2) not available here: %v", err)
	default:
		t.Fatalf("cachestat(-1): %v, want EBADF", err)
	}
	page := int64(os.Getpagesize())
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, make([]byte, 8*page), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []syscount.Record
	c.SetTrace(func(r syscount.Record) { recs = append(recs, r) })
	for _, tc := range []struct {
		off, length int64
		pages       uint64
	}{
		{0, 8 * page, 8},
		{page / 2, page, 2}, // a byte range touching two pages counts both
		{3 * page, 1, 1},
		{0, 0, 8}, // 0: to the end of the file
	} {
		st = unix.Cachestat_t{}
		if err := c.Cachestat(int(f.Fd()), tc.off, tc.length, &st); err != nil {
			t.Fatalf("cachestat(%d, %d): %v", tc.off, tc.length, err)
		}
		if st.Cache != tc.pages {
			t.Errorf("cachestat(%d, %d): %d pages cached, want %d", tc.off, tc.length, st.Cache, tc.pages)
		}
	}
	if got := c.Calls(syscount.Cachestat, syscount.OK); got != 4 {
		t.Errorf("cachestat ok = %d, want 4", got)
	}
	if got := c.Calls(syscount.Cachestat, syscount.Other); got != 1 {
		t.Errorf("cachestat other (EBADF) = %d, want 1", got)
	}
	if len(recs) != 4 || recs[1].Syscall != syscount.Cachestat || recs[1].Offset != page/2 || recs[1].Count != int(page) || recs[1].Ret != 2 {
		t.Errorf("trace records: %+v", recs)
	}
	if syscount.Cachestat.String() != "cachestat" {
		t.Errorf("name %q", syscount.Cachestat.String())
	}
}
