package backup

import (
	"fmt"

	"github.com/tarsup/tarsup/fault"
)

// badInput is a bad-input error (exit 2: nothing changed).
func badInput(format string, a ...any) error {
	return fault.Mark(fault.BadInput, fmt.Errorf(format, a...))
}

// refused is a refusal by a safety rule (exit 3: nothing changed).
func refused(format string, a ...any) error {
	return fault.Mark(fault.Refused, fmt.Errorf(format, a...))
}

// kept is err marked bad input unless it has a kind already: a snapshot
// that fails before anything changed is exit 2 (a full disk, a directory
// gone, a dump tool that stopped), whatever its cause.
func kept(err error) error {
	if err == nil || fault.Of(err) != nil {
		return err
	}
	return fault.Mark(fault.BadInput, err)
}
