// Package fsindex resolves URL paths to open files beneath a served root.
package fsindex
