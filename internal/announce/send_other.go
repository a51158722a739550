//go:build !linux

package announce

import "errors"

// Send is Linux-only: the sidecar that announces is always a Linux container.
func Send(targets []Target) error {
	if len(targets) == 0 {
		return nil
	}
	return errors.New("announce: only supported on Linux")
}
