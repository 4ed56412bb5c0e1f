package enum

import "testing"

type color uint8

func TestName(t *testing.T) {
	names := []string{"red", "green"}
	for _, tc := range []struct {
		c    color
		want string
	}{{0, "red"}, {1, "green"}, {2, "unknown"}, {255, "unknown"}} {
		if got := Name(names, tc.c); got != tc.want {
			t.Errorf("Name(%d) = %q; want %q", tc.c, got, tc.want)
		}
	}
}
