package tarsdb

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// fakeEngine is the orchestrator tests' fake engine pattern, cut down to
// what tarsdb calls: containers by ID, and client containers that "run" a
// Go function on their stdin. A call it does not implement panics (the
// embedded nil interface).
type fakeEngine struct {
	engine.Engine
	t          *testing.T
	mu         sync.Mutex
	containers map[string]*container.InspectResponse
	nextID     int
	// created holds each created client container's request, by ID.
	created map[string]request
	removed []string
	// run is what a started client container does: stdin (nil without
	// one) in, stdout, stderr and exit code out. It may block on ctx.
	run func(ctx context.Context, r request, stdin io.Reader) (string, string, int)
	// streams are the attach streams, by ID.
	streams map[string]*fakeConn
	waits   map[string]chan container.WaitResponse
	kills   map[string]context.CancelFunc
	// removeWaits counts the waits for a removal.
	removeWaits int
}

type request struct {
	Config *container.Config
	Host   *container.HostConfig
	// Password is the first line of the client's stdin, which the
	// entrypoint script reads into MYSQL_PWD.
	Password string
}

func newFake(t *testing.T) *fakeEngine {
	return &fakeEngine{t: t, containers: map[string]*container.InspectResponse{}, created: map[string]request{},
		streams: map[string]*fakeConn{}, waits: map[string]chan container.WaitResponse{}, kills: map[string]context.CancelFunc{}}
}

// add puts a container on the engine: running, with its networks.
func (f *fakeEngine) add(name, img string, env []string, nets map[string]*network.EndpointSettings) *container.InspectResponse {
	f.nextID++
	id := fmt.Sprintf("%012d", f.nextID) + strings.Repeat("0", 52)
	c := &container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: id, Name: "/" + name, Image: "sha256:" + img + "-id",
			State: &container.State{Status: "running", Running: true}, HostConfig: &container.HostConfig{}},
		Config:          &container.Config{Image: img, Env: env, Labels: map[string]string{}},
		NetworkSettings: &container.NetworkSettings{Networks: nets},
	}
	f.containers[id] = c
	return c
}

func (f *fakeEngine) ContainerList(context.Context, container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for _, c := range f.containers {
		out = append(out, container.Summary{ID: c.ID, Names: []string{c.Name}, Labels: c.Config.Labels})
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		return *c, nil
	}
	return container.InspectResponse{}, errdefs.ErrNotFound.WithMessage("no such container: " + id)
}

func (f *fakeEngine) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("c%011d", f.nextID) + strings.Repeat("0", 52)
	f.containers[id] = &container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, Name: "/" + name,
		State: &container.State{Status: "created"}, HostConfig: hc}, Config: cfg}
	f.created[id] = request{Config: cfg, Host: hc}
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeEngine) ContainerAttach(_ context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !o.Stream || !o.Stdout || !o.Stderr {
		f.t.Errorf("attach %+v: want the stream with stdout and stderr", o)
	}
	client, server := newFakeConn()
	f.streams[id] = server
	return types.NewHijackedResponse(client, ""), nil
}

func (f *fakeEngine) ContainerWait(_ context.Context, id string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cond == container.WaitConditionRemoved {
		// Removal is synchronous here: a removed container is not found.
		errc := make(chan error, 1)
		if _, ok := f.containers[id]; !ok {
			errc <- errdefs.ErrNotFound.WithMessage("no such container: " + id)
		} else {
			f.t.Errorf("wait for the removal of %s, which was not removed", id)
			errc <- fmt.Errorf("not removed")
		}
		f.removeWaits++
		return nil, errc
	}
	ch := make(chan container.WaitResponse, 1)
	f.waits[id] = ch
	return ch, make(chan error)
}

func (f *fakeEngine) ContainerStart(ctx context.Context, id string, _ container.StartOptions) error {
	f.mu.Lock()
	r, s, w := f.created[id], f.streams[id], f.waits[id]
	f.mu.Unlock()
	if s == nil || w == nil {
		f.t.Errorf("start %s before attach and wait", id)
	}
	// The container's life ends with the removal (a kill) or its function.
	life, kill := context.WithCancel(context.Background())
	f.mu.Lock()
	f.containers[id].State = &container.State{Status: "running", Running: true}
	f.kills[id] = kill
	f.mu.Unlock()
	go func() {
		if !r.Config.OpenStdin {
			f.t.Errorf("client container %s without stdin: the password has no way in", id)
		}
		// As the entrypoint script does: the first line is the password.
		var line []byte
		for b := make([]byte, 1); ; {
			if n, err := s.in.Read(b); n == 0 || err != nil || b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		r.Password = string(line)
		f.mu.Lock()
		f.created[id] = r
		f.mu.Unlock()
		stdout, stderr, code := f.run(life, r, s.in)
		ow, ew := stdcopy.NewStdWriter(s.out, stdcopy.Stdout), stdcopy.NewStdWriter(s.out, stdcopy.Stderr)
		_, _ = io.WriteString(ow, stdout)
		_, _ = io.WriteString(ew, stderr)
		_ = s.out.Close()
		w <- container.WaitResponse{StatusCode: int64(code)}
	}()
	return nil
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, o container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	// RemoveVolumes removes only the client's own anonymous volume (the
	// database image's VOLUME): the client mounts nothing else.
	if !o.Force || !o.RemoveVolumes {
		f.t.Errorf("remove %s with %+v: want Force and its anonymous volumes", id, o)
	}
	if _, ok := f.containers[id]; !ok {
		return errdefs.ErrNotFound.WithMessage("no such container: " + id)
	}
	delete(f.containers, id)
	f.removed = append(f.removed, id)
	if k := f.kills[id]; k != nil {
		k()
	}
	return nil
}

// clients returns the client containers still on the engine.
func (f *fakeEngine) clients() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, c := range f.containers {
		if c.Config.Labels[LabelClient] != "" {
			out = append(out, id)
		}
	}
	return out
}

// fakeConn is one end of an attach stream: what is written to one end is
// read from the other; CloseWrite ends the other's reads, as a half-closed
// TCP connection does.
type fakeConn struct {
	in  *io.PipeReader // reads what the other end writes
	out *io.PipeWriter // writes what the other end reads
}

func newFakeConn() (client, server *fakeConn) {
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	return &fakeConn{in: toClient, out: fromClient}, &fakeConn{in: toServer, out: fromServer}
}

func (c *fakeConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *fakeConn) CloseWrite() error           { return c.out.Close() }
func (c *fakeConn) Close() error {
	_ = c.in.Close()
	return c.out.Close()
}
func (c *fakeConn) LocalAddr() net.Addr              { return nil }
func (c *fakeConn) RemoteAddr() net.Addr             { return nil }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
