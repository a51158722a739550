package hook

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Execer is the part of the engine a hook inside a container needs
// (engine.Engine has it).
type Execer interface {
	ContainerExecCreate(ctx context.Context, id string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, options container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
}

// exitWait bounds the wait for the engine to record an exec's exit code
// once its output ended.
const exitWait = 5 * time.Second

// Exec runs j's hook inside container id through the engine: its Argv
// exec'd there, with the step's TARSUP_* variables added to the
// container's environment and its output going to the log a line at a
// time. Past the timeout tarsup stops waiting and the hook failed; the
// engine has no call that stops an exec'd process, so it may run on in
// the container (a rollback, which stops the new container, ends it). As
// Host, it does not obey ctx's cancellation. It returns nil or a *Failure.
func (r Runner) Exec(ctx context.Context, e Execer, id string, j Job) error {
	ctx = context.WithoutCancel(ctx)
	s := r.sink(j)
	tctx, cancel := context.WithTimeout(ctx, j.timeout())
	defer cancel()
	created, err := e.ContainerExecCreate(tctx, id, container.ExecOptions{Cmd: j.Hook.Argv, Env: j.Input.Env(), AttachStdout: true, AttachStderr: true})
	if err != nil {
		return r.fail(j, s, fmt.Sprintf("could not exec it in container %.12s: %v", id, err))
	}
	att, err := e.ContainerExecAttach(tctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return r.fail(j, s, fmt.Sprintf("could not start it in container %.12s: %v", id, err))
	}
	copied := make(chan struct{})
	go func() {
		_, _ = stdcopy.StdCopy(s, s, att.Reader)
		close(copied)
	}()
	timedOut := false
	select {
	case <-copied:
	case <-tctx.Done():
		timedOut = true
	}
	att.Close()
	<-copied
	s.flush()
	ins, err := execResult(ctx, e, created.ID, !timedOut)
	switch {
	case timedOut:
		return r.fail(j, s, fmt.Sprintf("timed out after %s (the engine cannot stop a process exec'd in a container: it may still run in %.12s, PID %d on the engine's host)", j.timeout(), id, ins.Pid))
	case err != nil:
		return r.fail(j, s, fmt.Sprintf("its exit code is unknown: %v", err))
	case ins.Running:
		return r.fail(j, s, "its output ended but it still runs")
	case ins.ExitCode != 0:
		return r.fail(j, s, fmt.Sprintf("exit status %d", ins.ExitCode))
	}
	return nil
}

// execResult inspects an exec; with settle, until the engine records its
// exit (its output can end a moment before).
func execResult(ctx context.Context, e Execer, id string, settle bool) (container.ExecInspect, error) {
	deadline := time.Now().Add(exitWait)
	for {
		ins, err := e.ContainerExecInspect(ctx, id)
		if err != nil || !ins.Running || !settle || time.Now().After(deadline) {
			return ins, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
