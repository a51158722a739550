//go:build unix

package compose

import (
	"os"
	"syscall"
)

// keepOwner gives tmp the owner and group of the file it replaces, when the
// process may (running as root over a user's file). Best effort: a failure
// leaves the file owned by the process, which can still read it.
func keepOwner(tmp *os.File, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = tmp.Chown(int(st.Uid), int(st.Gid))
	}
}
