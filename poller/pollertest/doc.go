// Package pollertest helps tests drive a poller.Loop from the test
// goroutine, as net/http/httptest does for HTTP: Start runs a loop for the
// length of a test, and On runs a function on the loop's goroutine (where
// poller's Add, Close, Requeue and timers must be called) and waits for it.
//
// Every wait is bounded, with an order of magnitude of room over what a
// loaded machine needs, so a hung loop fails the test instead of the run.
package pollertest
