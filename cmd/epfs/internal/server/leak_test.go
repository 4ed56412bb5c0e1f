//go:build linux

package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// in-process server's loops, access-log writer, I/O pool threads and
// shutdown timer must have ended once its Run has returned, and a client
// goroutine left blocked on a connection the server never answered would
// show here too.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
