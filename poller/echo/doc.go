// Package echo is a complete TCP and Unix-socket echo server built on
// package poller: the smallest real program that shows the poller's
// contract in use. Each connection reads until EAGAIN (or a short read),
// writes back until EAGAIN, keeps what the socket would not take in a
// pending buffer, stops reading while that buffer is over a limit
// (backpressure), and resumes with Loop.Requeue when it drains, because
// edge triggering will not announce data that arrived meanwhile.
//
// It serves as the poller's example for embedders, as the target of the
// poller's correctness tests and benchmark, and behind `epfs echo`.
package echo
