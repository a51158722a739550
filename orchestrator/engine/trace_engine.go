package engine

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Wrap returns e with every call recorded in the trace under the host's
// name; on a nil *Trace it returns e itself.
func (t *Trace) Wrap(host string, e Engine) Engine {
	if t == nil {
		return e
	}
	return &traced{e: e, t: t, host: host}
}

// traced is an Engine that records its calls in a Trace. A call's time is
// the call's own; for ContainerWait, until its answer; for the streams
// (ImagePull, ContainerLogs), until the caller closes them, since a pull
// happens while its progress is read.
type traced struct {
	e    Engine
	t    *Trace
	host string
}

// Why: a compile-time proof that the wrapper is an Engine.
var _ Engine = (*traced)(nil)

// call begins one call; the returned function records it with the error
// *err holds then. Why a pointer: a deferred call's arguments are evaluated
// when it is deferred, the method's named result only when it returns.
func (x *traced) call(ctx context.Context, method, id string) func(*error) {
	start := time.Now()
	sidecar := id != "" && x.t.isSidecar(id)
	return func(err *error) { x.t.record(ctx, x.host, method, sidecar, start, *err) }
}

func (x *traced) ClientVersion() string { return x.e.ClientVersion() }

func (x *traced) Ping(ctx context.Context) (p types.Ping, err error) {
	defer x.call(ctx, "Ping", "")(&err)
	return x.e.Ping(ctx)
}

func (x *traced) ContainerList(ctx context.Context, o container.ListOptions) (_ []container.Summary, err error) {
	defer x.call(ctx, "ContainerList", "")(&err)
	return x.e.ContainerList(ctx, o)
}

func (x *traced) ContainerInspect(ctx context.Context, id string) (_ container.InspectResponse, err error) {
	defer x.call(ctx, "ContainerInspect", id)(&err)
	return x.e.ContainerInspect(ctx, id)
}

// ContainerCreate marks a container created in another's network
// namespace (container:ID) as a probe sidecar: that is what tarsup creates
// them for.
func (x *traced) ContainerCreate(ctx context.Context, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, p *ocispec.Platform, name string) (_ container.CreateResponse, err error) {
	sidecar := hc != nil && hc.NetworkMode.IsContainer()
	start := time.Now()
	r, err := x.e.ContainerCreate(ctx, cfg, hc, nc, p, name)
	if sidecar && err == nil {
		x.t.markSidecar(r.ID)
	}
	x.t.record(ctx, x.host, "ContainerCreate", sidecar, start, err)
	return r, err
}

func (x *traced) ContainerStart(ctx context.Context, id string, o container.StartOptions) (err error) {
	defer x.call(ctx, "ContainerStart", id)(&err)
	return x.e.ContainerStart(ctx, id, o)
}

func (x *traced) ContainerStop(ctx context.Context, id string, o container.StopOptions) (err error) {
	defer x.call(ctx, "ContainerStop", id)(&err)
	return x.e.ContainerStop(ctx, id, o)
}

func (x *traced) ContainerRename(ctx context.Context, id, newName string) (err error) {
	defer x.call(ctx, "ContainerRename", id)(&err)
	return x.e.ContainerRename(ctx, id, newName)
}

func (x *traced) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) (err error) {
	defer x.call(ctx, "ContainerRemove", id)(&err)
	return x.e.ContainerRemove(ctx, id, o)
}

func (x *traced) ContainerLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	done := x.call(ctx, "ContainerLogs", id)
	rc, err := x.e.ContainerLogs(ctx, id, o)
	if err != nil {
		done(&err)
		return nil, err
	}
	return &tracedStream{ReadCloser: rc, done: done}, nil
}

// ContainerWait records the wait when it is answered.
func (x *traced) ContainerWait(ctx context.Context, id string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	done := x.call(ctx, "ContainerWait", id)
	waitC, errC := x.e.ContainerWait(ctx, id, cond)
	outW, outE := make(chan container.WaitResponse, 1), make(chan error, 1)
	go func() {
		select {
		case w := <-waitC:
			done(new(error))
			outW <- w
		case err := <-errC:
			done(&err)
			outE <- err
		}
	}()
	return outW, outE
}

func (x *traced) ContainerAttach(ctx context.Context, id string, o container.AttachOptions) (_ types.HijackedResponse, err error) {
	defer x.call(ctx, "ContainerAttach", id)(&err)
	return x.e.ContainerAttach(ctx, id, o)
}

// ContainerExecCreate marks an exec in a probe sidecar as the sidecar's.
func (x *traced) ContainerExecCreate(ctx context.Context, id string, o container.ExecOptions) (_ container.ExecCreateResponse, err error) {
	done := x.call(ctx, "ContainerExecCreate", id)
	r, err := x.e.ContainerExecCreate(ctx, id, o)
	if err == nil && x.t.isSidecar(id) {
		x.t.markSidecar(r.ID)
	}
	done(&err)
	return r, err
}

func (x *traced) ContainerExecAttach(ctx context.Context, execID string, o container.ExecAttachOptions) (_ types.HijackedResponse, err error) {
	defer x.call(ctx, "ContainerExecAttach", execID)(&err)
	return x.e.ContainerExecAttach(ctx, execID, o)
}

func (x *traced) ContainerExecInspect(ctx context.Context, execID string) (_ container.ExecInspect, err error) {
	defer x.call(ctx, "ContainerExecInspect", execID)(&err)
	return x.e.ContainerExecInspect(ctx, execID)
}

func (x *traced) NetworkConnect(ctx context.Context, networkID, containerID string, cfg *network.EndpointSettings) (err error) {
	defer x.call(ctx, "NetworkConnect", containerID)(&err)
	return x.e.NetworkConnect(ctx, networkID, containerID, cfg)
}

func (x *traced) NetworkList(ctx context.Context, o network.ListOptions) (_ []network.Summary, err error) {
	defer x.call(ctx, "NetworkList", "")(&err)
	return x.e.NetworkList(ctx, o)
}

func (x *traced) NetworkDisconnect(ctx context.Context, networkID, containerID string, force bool) (err error) {
	defer x.call(ctx, "NetworkDisconnect", containerID)(&err)
	return x.e.NetworkDisconnect(ctx, networkID, containerID, force)
}

func (x *traced) ImageInspect(ctx context.Context, id string, opts ...client.ImageInspectOption) (_ image.InspectResponse, err error) {
	defer x.call(ctx, "ImageInspect", "")(&err)
	return x.e.ImageInspect(ctx, id, opts...)
}

func (x *traced) ImagePull(ctx context.Context, ref string, o image.PullOptions) (io.ReadCloser, error) {
	done := x.call(ctx, "ImagePull", "")
	rc, err := x.e.ImagePull(ctx, ref, o)
	if err != nil {
		done(&err)
		return nil, err
	}
	return &tracedStream{ReadCloser: rc, done: done}, nil
}

func (x *traced) ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (_ image.LoadResponse, err error) {
	defer x.call(ctx, "ImageLoad", "")(&err)
	return x.e.ImageLoad(ctx, input, opts...)
}

func (x *traced) ImageRemove(ctx context.Context, id string, o image.RemoveOptions) (_ []image.DeleteResponse, err error) {
	defer x.call(ctx, "ImageRemove", "")(&err)
	return x.e.ImageRemove(ctx, id, o)
}

func (x *traced) Info(ctx context.Context) (_ system.Info, err error) {
	defer x.call(ctx, "Info", "")(&err)
	return x.e.Info(ctx)
}

// Events is recorded as one call that lasts until its stream ends (ctx
// done, or an error).
func (x *traced) Events(ctx context.Context, o events.ListOptions) (<-chan events.Message, <-chan error) {
	done := x.call(ctx, "Events", "")
	msgs, errs := x.e.Events(ctx, o)
	outE := make(chan error, 1)
	go func() {
		err := <-errs
		done(&err)
		outE <- err
	}()
	return msgs, outE
}

// tracedStream records its call when it is closed (once).
type tracedStream struct {
	io.ReadCloser
	once sync.Once
	done func(*error)
}

func (s *tracedStream) Close() error {
	err := s.ReadCloser.Close()
	s.once.Do(func() { s.done(new(error)) })
	return err
}
