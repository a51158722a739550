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

// guardScript runs a hook under a guard that needs no tarsup: a
// background shell of the hook's own process group reads fd 3, a pipe
// whose only writer is tarsup. tarsup writes a line once it no longer
// needs the guard (the hook ended, or tarsup's own timeout kills the
// group); if tarsup dies first (kill -9, OOM), the pipe closes, the read
// fails, and the guard gives the whole group SIGTERM and, killGrace later,
// SIGKILL: a hook never outlives the tarsup that ran it. The hook itself is
// exec'd with fd 3 closed, so nothing it starts holds the pipe.
const guardScript = `(trap '' TERM; read -r done <&3 || { kill -TERM 0; sleep 3; kill -KILL 0; }) >/dev/null 2>&1 </dev/null & exec "$@" 3<&-`

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
	cmd := exec.Command("sh", append([]string{"-c", guardScript, "tarsup-hook"}, j.Hook.Argv...)...)
	cmd.Env = append(r.environ(), j.Input.Env()...)
	cmd.Stdin = bytes.NewReader(j.Input.JSON())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		return r.fail(j, s, fmt.Sprintf("could not start: %v", err))
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	guard, err := startGuarded(cmd)
	pw.Close()
	if err != nil {
		pr.Close()
		return r.fail(j, s, fmt.Sprintf("could not start: %v", err))
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(s, pr)
		close(copied)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	werr, timedOut := waitOrKill(cmd.Process.Pid, exited, j.timeout(), guard)
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
// Either way it first dismisses the guard (guardScript).
func waitOrKill(pid int, exited <-chan error, timeout time.Duration, guard *os.File) (error, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-exited:
		dismiss(guard)
		return err, false
	case <-timer.C:
	}
	dismiss(guard)
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

// startGuarded starts cmd with the read end of the guard's pipe as its fd
// 3 and returns the write end, which only tarsup holds.
func startGuarded(cmd *exec.Cmd) (*os.File, error) {
	gr, gw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{gr}
	err = cmd.Start()
	gr.Close()
	if err != nil {
		gw.Close()
		return nil, err
	}
	return gw, nil
}

// dismiss tells the guard to leave without killing anything.
func dismiss(guard *os.File) {
	_, _ = guard.Write([]byte("\n"))
	guard.Close()
}
