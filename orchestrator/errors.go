package orchestrator

import "errors"

// Error kinds. The CLI turns them into exit codes in one place; everywhere else
// errors are wrapped with %w and name the operation, the container and the host.
var (
	// ErrBadInput marks bad input: a bad flag, reference, file or host URL.
	// Nothing was changed (exit 2).
	ErrBadInput = errors.New("bad input")
	// ErrUnreachable marks an engine or registry that did not answer.
	// Nothing was changed (exit 2).
	ErrUnreachable = errors.New("unreachable")
	// ErrRefused marks a refusal by a safety rule (REBUILD=true, the db
	// container, version skew). Nothing was changed (exit 3).
	ErrRefused = errors.New("refused by a safety rule")
	// ErrRolledBack marks an upgrade that failed and was rolled back (exit 1).
	ErrRolledBack = errors.New("upgrade failed and was rolled back")
)

// kindError attaches a kind to an error without changing its message.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// withKind marks err with kind so that errors.Is(err, kind) holds.
func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}
