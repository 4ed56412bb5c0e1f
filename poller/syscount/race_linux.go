//go:build linux && race

package syscount

import (
	"runtime"
	"unsafe"
)

// raceEnabled is true in race builds: the calls made with RawSyscall carry
// the same race-detector annotations as x/sys's Read and Write (a sync point
// and the buffer's range), which a bare RawSyscall would drop.
const raceEnabled = true

// ioSync is the race detector's stand-in for the kernel's ordering: a write
// releases it, a read that succeeded acquires it, as x/sys does with its own
// ioSync (golang.org/x/sys/unix/syscall_unix.go, Read and Write).
var ioSync int64

func raceReleaseIO()                         { runtime.RaceReleaseMerge(unsafe.Pointer(&ioSync)) }
func raceAcquireIO()                         { runtime.RaceAcquire(unsafe.Pointer(&ioSync)) }
func raceReadRange(p unsafe.Pointer, n int)  { runtime.RaceReadRange(p, n) }
func raceWriteRange(p unsafe.Pointer, n int) { runtime.RaceWriteRange(p, n) }
