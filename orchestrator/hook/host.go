package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// killGrace is how long a timed-out hook's process group has between
// SIGTERM and SIGKILL (a backup script may remove its partial file).
const killGrace = 3 * time.Second

// drainWait bounds the wait for the end of a hook's output once its
// process ended: a child it left in the background may hold the pipe.
const drainWait = 2 * time.Second

// Host runs j's hook on this machine: its Argv (sh -c CMD) in a process
// group of its own, with the environment tarsup has plus the step's
// TARSUP_* variables, the step as JSON on standard input, and standard
// output and error going to the log a line at a time. Past the timeout
// the whole group gets SIGTERM, then SIGKILL. Why ctx is not obeyed: a
// signal to tarsup never interrupts a step midway, and the timeout bounds
// the hook anyway. It returns nil or a *Failure.
func (r Runner) Host(_ context.Context, j Job) error {
	s := r.sink(j)
	if len(j.Hook.Argv) == 0 {
		return r.fail(j, s, "no command")
	}
	cmd := exec.Command(j.Hook.Argv[0], j.Hook.Argv[1:]...)
	cmd.Env = append(r.environ(), j.Input.Env()...)
	cmd.Stdin = bytes.NewReader(j.Input.JSON())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		return r.fail(j, s, fmt.Sprintf("could not start: %v", err))
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return r.fail(j, s, fmt.Sprintf("could not start: %v", err))
	}
	pw.Close()
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(s, pr)
		close(copied)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	werr, timedOut := waitOrKill(cmd.Process.Pid, exited, j.timeout())
	select {
	case <-copied:
	case <-time.After(drainWait):
	}
	pr.Close()
	<-copied
	s.flush()
	switch {
	case timedOut:
		return r.fail(j, s, fmt.Sprintf("timed out after %s: its process group was killed", j.timeout()))
	case werr != nil:
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			return r.fail(j, s, ee.ProcessState.String())
		}
		return r.fail(j, s, werr.Error())
	}
	return nil
}

// waitOrKill waits for the hook's process; past timeout it sends SIGTERM
// to its process group and, when any of the group is left killGrace
// later (a child that ignores SIGTERM), SIGKILL.
func waitOrKill(pid int, exited <-chan error, timeout time.Duration) (error, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-exited:
		return err, false
	case <-timer.C:
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	var err error
	reaped := false
	for deadline := time.Now().Add(killGrace); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !reaped {
			select {
			case err = <-exited:
				reaped = true
			default:
			}
		}
		if reaped && syscall.Kill(-pid, 0) != nil {
			return err, true // the whole group is gone
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if !reaped {
		err = <-exited
	}
	return err, true
}
