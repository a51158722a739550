package orchestrator

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// fakeExec is what an exec of a program does in the fake engine: its
// output, its exit code, or it hangs until tarsup gives up on it.
type fakeExec struct {
	out  string
	code int
	hang bool
}

// execRun is one exec the fake engine started: where, what, with which
// environment.
type execRun struct {
	container, image string
	cmd, env         []string
	spec             fakeExec
}

// ContainerExecCreate records an exec in a running container; its
// program (Cmd[0]) must be one the test gave in f.execs.
func (f *fakeEngine) ContainerExecCreate(_ context.Context, id string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	c, err := f.find(id)
	if err != nil {
		return container.ExecCreateResponse{}, err
	}
	if !c.State.Running {
		return container.ExecCreateResponse{}, fmt.Errorf("container %s is not running", f.name(id))
	}
	spec, ok := f.execs[o.Cmd[0]]
	if !ok {
		f.t.Fatalf("unexpected call: exec %q in %s", o.Cmd, f.name(id))
	}
	f.record("exec %s in %s", strings.Join(o.Cmd, " "), f.name(id))
	f.execRuns = append(f.execRuns, execRun{container: f.name(id), image: c.Config.Image, cmd: o.Cmd, env: o.Env, spec: spec})
	return container.ExecCreateResponse{ID: fmt.Sprint(len(f.execRuns) - 1)}, nil
}

// ContainerExecAttach streams the exec's output, multiplexed as the
// engine does; a hanging one writes nothing until tarsup closes it.
func (f *fakeEngine) ContainerExecAttach(_ context.Context, id string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	var n int
	fmt.Sscan(id, &n)
	run := f.execRuns[n]
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		if run.spec.hang {
			_, _ = server.Read(make([]byte, 1)) // until the client closes
			return
		}
		_, _ = stdcopy.NewStdWriter(server, stdcopy.Stdout).Write([]byte(run.spec.out))
	}()
	return types.NewHijackedResponse(client, ""), nil
}

// ContainerExecInspect answers the exec's exit code; a hanging one runs.
func (f *fakeEngine) ContainerExecInspect(_ context.Context, id string) (container.ExecInspect, error) {
	var n int
	fmt.Sscan(id, &n)
	run := f.execRuns[n]
	return container.ExecInspect{ExecID: id, Running: run.spec.hang, ExitCode: run.spec.code, Pid: 4242}, nil
}
