//go:build !unix

package compose

import "os"

// keepOwner does nothing where files have no Unix owner.
func keepOwner(tmp *os.File, path string) {}
