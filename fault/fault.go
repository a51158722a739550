// Package fault owns the kinds of failure tarsup reports and their one
// mapping to exit codes. Every package marks its errors with these kinds
// (Mark keeps the message); the CLI turns an error into an exit code with
// ExitCode, in one place.
package fault

import "errors"

// Exit codes: a promise to operators' scripts (README, "Exit codes").
const (
	// ExitOK means success.
	ExitOK = 0
	// ExitFailed means an upgrade failed (and was rolled back), or an
	// unexpected error.
	ExitFailed = 1
	// ExitBadInput means bad input, or an unreachable engine or registry:
	// nothing changed.
	ExitBadInput = 2
	// ExitRefused means a refusal by a safety rule: nothing changed.
	ExitRefused = 3
)

// Kind is a kind of failure. Match it with errors.Is.
type Kind struct {
	name string
	code int
}

// Error returns the kind's name.
func (k *Kind) Error() string { return k.name }

// ExitCode returns the exit code the kind maps to.
func (k *Kind) ExitCode() int { return k.code }

// The kinds. Each maps to one exit code.
var (
	// BadInput marks bad input: a bad flag, reference, file or host URL.
	// Nothing was changed.
	BadInput = &Kind{"bad input", ExitBadInput}
	// Unreachable marks an engine or registry that did not answer (DNS,
	// dial, TLS). Nothing was changed.
	Unreachable = &Kind{"unreachable", ExitBadInput}
	// BadReference marks an image reference or tag that does not parse.
	BadReference = &Kind{"bad image reference", ExitBadInput}
	// NotFound marks a registry that has no such tag, manifest or repository.
	NotFound = &Kind{"image not found", ExitBadInput}
	// Unauthorized marks a registry that refused the credentials, or wants some.
	Unauthorized = &Kind{"registry access denied", ExitBadInput}
	// Locked marks a run that did not start because another tarsup run holds
	// the run lock ("nothing changed, try again later").
	Locked = &Kind{"another tarsup run holds the lock", ExitBadInput}
	// Refused marks a refusal by a safety rule (REBUILD=true, the db
	// container, version skew). Nothing was changed.
	Refused = &Kind{"refused by a safety rule", ExitRefused}
	// Busy marks an engine that another live tarsup is changing.
	Busy = &Kind{"another tarsup is changing this engine", ExitRefused}
	// RolledBack marks an upgrade that failed and was rolled back.
	RolledBack = &Kind{"upgrade failed and was rolled back", ExitFailed}
	// Interrupted marks a run that was cancelled between steps.
	Interrupted = &Kind{"interrupted", ExitFailed}
)

// kinds lists every kind, those whose exit code wins first: a refusal
// outranks bad input, which outranks a failure.
var kinds = []*Kind{Refused, Busy, BadInput, Unreachable, BadReference, NotFound, Unauthorized, Locked, RolledBack, Interrupted}

// ExitCode returns the exit code for err: 0 for nil, the code of the
// highest-ranking kind err matches (through wrapping and errors.Join), and
// ExitFailed for an error of no kind.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if k := Of(err); k != nil {
		return k.code
	}
	return ExitFailed
}

// Of returns the highest-ranking kind err matches, or nil.
func Of(err error) *Kind {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// marked attaches a kind to an error without changing its message.
type marked struct {
	kind *Kind
	err  error
}

func (e *marked) Error() string   { return e.err.Error() }
func (e *marked) Unwrap() []error { return []error{e.kind, e.err} }

// Mark marks err with kind so that errors.Is(err, kind) holds; the message
// stays err's. Mark(kind, nil) is nil.
func Mark(kind *Kind, err error) error {
	if err == nil {
		return nil
	}
	return &marked{kind: kind, err: err}
}
