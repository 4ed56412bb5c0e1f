//go:build linux && !race

package transmit

const raceOn = false
