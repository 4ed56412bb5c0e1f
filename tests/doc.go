// Package tests holds epfs's black-box tests: they build the epfs binary
// once, start it as a subprocess on a loopback port (port 0, the real port
// read back from its start-up log line), and talk to it with real clients.
// It also holds the benchmarks that compare epfs with its peers.
package tests
