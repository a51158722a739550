// Command tarsup upgrades Tars (TarsCloud) deployments that run in Docker:
// pull first, refuse REBUILD=true, recreate each container faithfully, gate
// it on health and roll back by itself.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/urfave/cli/v2"
)

// Exit codes: a promise to operators' scripts (README, "Exit codes").
// Package fault owns them and the mapping from error kinds.
const (
	exitOK       = fault.ExitOK
	exitFailed   = fault.ExitFailed   // an upgrade failed (and was rolled back), or an unexpected error
	exitBadInput = fault.ExitBadInput // bad input, or an unreachable engine or registry: nothing changed
	exitRefused  = fault.ExitRefused  // refused by a safety rule: nothing changed
)

// env is what a command may touch of the process: no global state.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *logrus.Logger
	// stdoutTTY is true when stdout is a terminal.
	stdoutTTY bool
	// trace records where the command's time goes when TARSUP_TRACE names
	// a file (README: Performance figures); nil otherwise.
	trace *engine.Trace
}

func main() {
	// Why: compose-go logs through logrus's package logger; its "version is
	// obsolete" advice is wrong for docker-compose v1 users. tarsup's own
	// logs go through env.log.
	logrus.StandardLogger().SetLevel(logrus.ErrorLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stdoutTTY: isTerminal(os.Stdout)})
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// run executes the CLI and turns its error into the exit code, in one place.
func run(ctx context.Context, args []string, e *env) int {
	e.log = logrus.New()
	e.log.SetOutput(e.stderr)
	tracePath := e.getenv("TARSUP_TRACE")
	if tracePath != "" {
		e.trace = engine.NewTrace()
	}
	app := newApp(e)
	args, err := resolveArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if e.trace != nil {
		// Why only a warning: the trace is a measurement, not the command's
		// outcome, which the exit code reports.
		if terr := e.trace.WriteFile(tracePath); terr != nil {
			fmt.Fprintf(e.stderr, "tarsup: warning: TARSUP_TRACE: %v\n", terr)
		}
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if line, ok := usageLine(err); ok {
		fmt.Fprintln(e.stderr, line)
		return code
	}
	fmt.Fprintf(e.stderr, "tarsup: %v\n", err)
	return code
}

// usageError marks a command-line mistake: bad input (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string   { return u.err.Error() }
func (u usageError) Unwrap() []error { return []error{fault.BadInput, u.err} }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode maps err to the exit code: fault's one mapping.
func exitCode(err error) int { return fault.ExitCode(err) }

func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:                 "tarsup",
		Usage:                "upgrade Tars deployments running in Docker, safely",
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		EnableBashCompletion: false,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // exit codes are decided in run
		Commands: []*cli.Command{
			statusCommand(e),
			upgradeCommand(e),
			rollbackCommand(e),
			recoverCommand(e),
			nodeCommand(e),
			frameworkCommand(e),
			probeCommand(e),
			refreshCommand(e),
			watchCommand(e),
			composeCommand(e),
			backupCommand(e),
			restoreCommand(e),
		},
	}
	guard(app)
	return app
}
