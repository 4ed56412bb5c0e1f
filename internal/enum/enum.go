// Package enum names the small enumerations epfs counts and logs by
// (syscalls, outcomes, strategies, codings): one table of names per type,
// indexed by the value.
//
// A value outside its table is not a panic but the name "unknown": such a
// value can only come from a caller's conversion (Syscall(200)), and a
// String method is called from logging and metrics, where a crash would
// cost more than the wrong value already has.
package enum

// Name returns names[e], or "unknown" when e is past the table.
func Name[E ~uint8](names []string, e E) string {
	if int(e) < len(names) {
		return names[e]
	}
	return "unknown"
}
