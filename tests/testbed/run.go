package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// runTimeout bounds a CLI run whose context has no deadline.
const runTimeout = 5 * time.Minute

// Result is how a CLI run ended.
type Result struct {
	Stdout   string
	Stderr   string
	ExitCode int // -1 when the process did not exit by itself (killed, timed out, not started)
	// Err is set when the process could not be started or was killed.
	Err error
}

// String sums the result up for a test failure message.
func (r Result) String() string {
	s := fmt.Sprintf("exit code %d\n--- stdout:\n%s\n--- stderr:\n%s", r.ExitCode, r.Stdout, r.Stderr)
	if r.Err != nil {
		s = fmt.Sprintf("error: %v\n%s", r.Err, s)
	}
	return s
}

// Run runs the tarsup binary with args in this process's environment and
// waits for it, killing it when ctx ends (or after 5 minutes when ctx has no
// deadline).
func Run(ctx context.Context, tarsupBin string, args ...string) Result {
	return RunEnv(ctx, nil, tarsupBin, args...)
}

// RunEnv is Run with env ("KEY=value") added to the environment; a key given
// there overrides this process's value.
func RunEnv(ctx context.Context, env []string, tarsupBin string, args ...string) Result {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runTimeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tarsupBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Why WaitDelay: a child holding the pipes open must not hang the test.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1}
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.ExitCode = 0
	case ctx.Err() != nil:
		r.Err = fmt.Errorf("run %s: %w", tarsupBin, ctx.Err())
	case errors.As(err, &exit) && exit.Exited():
		r.ExitCode = exit.ExitCode()
	default:
		r.Err = fmt.Errorf("run %s: %w", tarsupBin, err)
	}
	return r
}
