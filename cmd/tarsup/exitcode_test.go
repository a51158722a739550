package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tarsup/tarsup/fault"
)

// TestExitCodeIsFaults: main.go maps errors to exit codes through fault
// alone; a usage error is bad input.
func TestExitCodeIsFaults(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"usage", usagef("--parallel 0: must be at least 1"), exitBadInput},
		{"wrapped usage", fmt.Errorf("upgrade: %w", usagef("bad")), exitBadInput},
		{"refusal", fault.Mark(fault.Refused, errors.New("REBUILD=true")), exitRefused},
		{"busy engine", fmt.Errorf("%w: tcp://h:2376 is locked", fault.Busy), exitRefused},
		{"unreachable registry", fault.Mark(fault.Unreachable, errors.New("dial tcp")), exitBadInput},
		{"rolled back", fault.Mark(fault.RolledBack, errors.New("gate failed")), exitFailed},
		{"joined refusal and failure", errors.Join(errors.New("x"), fault.Mark(fault.Refused, errors.New("y"))), exitRefused},
		{"unexpected", errors.New("boom"), exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
