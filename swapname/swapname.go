// Package swapname owns the temporary container names of a swap: while
// tarsup replaces container NAME, the new container is created as
// NAME.tarsup-new, the old one is renamed NAME.tarsup-old, and a new one that
// failed its gate is kept as NAME.tarsup-failed. Observation leaves these out
// of every scope (they are the journal of an upgrade under way, not
// services), and recovery finds them by these names.
package swapname

import "strings"

// Suffixes of the temporary names. A container name allows
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, so these can never clash with a service name
// that does not end the same way.
const (
	// New is the suffix of the new container before the swap.
	New = ".tarsup-new"
	// Old is the suffix of the old container once it is moved aside.
	Old = ".tarsup-old"
	// Failed is the suffix of a new container that failed its gate.
	Failed = ".tarsup-failed"
)

// IsTemporary reports whether name is one of a swap's temporary names.
func IsTemporary(name string) bool {
	for _, s := range []string{New, Old, Failed} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
