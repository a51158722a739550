package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	plain := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"no kind", plain, 1},
		{"bad input", Mark(BadInput, plain), 2},
		{"unreachable", Mark(Unreachable, plain), 2},
		{"bad reference", Mark(BadReference, plain), 2},
		{"not found", Mark(NotFound, plain), 2},
		{"unauthorized", Mark(Unauthorized, plain), 2},
		{"locked", Mark(Locked, plain), 2},
		{"refused", Mark(Refused, plain), 3},
		{"busy", Mark(Busy, plain), 3},
		{"rolled back", Mark(RolledBack, plain), 1},
		{"interrupted", Mark(Interrupted, plain), 1},
		{"the kind itself", Refused, 3},
		{"wrapped refusal", fmt.Errorf("upgrade tars-framework on tcp://h:2376: %w", Mark(Refused, plain)), 3},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", Mark(Unreachable, plain))), 2},
		{"with %w of the kind", fmt.Errorf("%w: REBUILD=true", Refused), 3},
		{"joined: refusal outranks bad input", errors.Join(Mark(BadInput, plain), Mark(Refused, plain)), 3},
		{"joined: bad input outranks a failure", errors.Join(plain, Mark(RolledBack, plain), Mark(NotFound, plain)), 2},
		{"joined, no kind", errors.Join(plain, errors.New("other")), 1},
		{"wrapped join", fmt.Errorf("nothing was changed: %w", errors.Join(plain, Mark(Busy, plain))), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestMark(t *testing.T) {
	cause := errors.New("REBUILD=true in tars-framework")
	err := Mark(Refused, cause)
	if err.Error() != cause.Error() {
		t.Errorf("message %q, want %q", err, cause)
	}
	if !errors.Is(err, Refused) || !errors.Is(err, cause) || errors.Is(err, BadInput) {
		t.Errorf("%v: errors.Is does not find exactly its kind and cause", err)
	}
	if Mark(Refused, nil) != nil {
		t.Error("Mark(kind, nil) is not nil")
	}
}

// TestEveryKindRanked keeps the ranking list complete: a kind left out of it
// would map to exit 1.
func TestEveryKindRanked(t *testing.T) {
	all := map[*Kind]int{BadInput: 2, Unreachable: 2, BadReference: 2, NotFound: 2, Unauthorized: 2, Locked: 2,
		Refused: 3, Busy: 3, RolledBack: 1, Interrupted: 1}
	if len(kinds) != len(all) {
		t.Errorf("%d kinds ranked, want %d", len(kinds), len(all))
	}
	for k, code := range all {
		if got := ExitCode(k); got != code {
			t.Errorf("%s: exit %d, want %d", k, got, code)
		}
	}
}
