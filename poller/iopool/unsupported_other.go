//go:build !linux

package iopool

// This package is Linux only, like the event loop it serves.
