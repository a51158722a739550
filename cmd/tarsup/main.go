// Command tarsup upgrades Tars (TarsCloud) deployments that run in Docker:
// pull first, refuse REBUILD=true, recreate each container faithfully, gate
// it on health and roll back by itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

// Exit codes: a promise to operators' scripts (README, "Exit codes").
const (
	exitOK       = 0
	exitFailed   = 1 // an upgrade failed (and was rolled back), or an unexpected error
	exitBadInput = 2 // bad input, or an unreachable engine or registry: nothing changed
	exitRefused  = 3 // refused by a safety rule: nothing changed
)

// env is what a command may touch of the process: no global state.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *logrus.Logger
	// stdoutTTY is true when stdout is a terminal.
	stdoutTTY bool
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
	app := newApp(e)
	err := app.RunContext(ctx, resolveArgs(app, args))
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

// usageError marks a command-line mistake (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func exitCode(err error) int {
	var u usageError
	switch {
	case errors.Is(err, orchestrator.ErrRefused):
		return exitRefused
	case errors.As(err, &u), errors.Is(err, orchestrator.ErrBadInput), errors.Is(err, orchestrator.ErrUnreachable),
		errors.Is(err, images.ErrBadReference), errors.Is(err, images.ErrNotFound),
		errors.Is(err, images.ErrUnauthorized), errors.Is(err, images.ErrUnreachable):
		return exitBadInput
	}
	return exitFailed
}

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
		},
	}
	guard(app)
	return app
}
