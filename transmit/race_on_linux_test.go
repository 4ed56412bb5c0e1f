//go:build linux && race

package transmit

// raceOn: the race detector slows every Go-side byte the client reads, so
// the big transfers are cut (see the tests that read it).
const raceOn = true
