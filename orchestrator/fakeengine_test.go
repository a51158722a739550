package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// fakeEngine is a small in-memory engine: it keeps containers by ID, records
// every changing call as a line, and fails the test on a call it does not
// expect. Containers have a Docker health status, so no probe is needed.
type fakeEngine struct {
	t          *testing.T
	containers map[string]*container.InspectResponse
	calls      []string
	nextID     int
	// health is what a started container reports, by image.
	health map[string]string
	// failStart makes ContainerStart fail for containers of that image.
	failStart map[string]bool
	// restarting makes ContainerRename fail while a container of that image
	// runs, as the engine refuses to rename one in a restart loop.
	restarting map[string]bool
	// api is the negotiated API version ("" is 1.41).
	api string
	// networks is what NetworkList answers.
	networks []network.Summary
	// Endpoints holds, by container name and network, the endpoint
	// settings given at create or connect: the create request's shape.
	endpoints map[string]map[string]*network.EndpointSettings
	// noInspect fails the test on an inspection of these IDs (a gate would
	// inspect them).
	noInspect map[string]bool
	// onCreate sees the configuration of each created container.
	onCreate func(*container.Config)
	// onInspect may change a container before an inspection answers (a
	// restart the engine did on its own, say).
	onInspect func(*container.InspectResponse)
	// pulls allows ImagePull; removals allows ImageRemove: both are recorded.
	pulls, removals bool
	// mirrors are the registry mirrors Info reports.
	mirrors []string
	// execs says what an exec of each program does (fakeexec_test.go);
	// execRuns are the execs made.
	execs    map[string]fakeExec
	execRuns []execRun
}

func newFakeEngine(t *testing.T) *fakeEngine {
	return &fakeEngine{t: t, containers: map[string]*container.InspectResponse{}, health: map[string]string{}, failStart: map[string]bool{}}
}

func (f *fakeEngine) record(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeEngine) add(name, img string, running bool) *container.InspectResponse {
	f.nextID++
	id := fmt.Sprintf("%012d", f.nextID) + strings.Repeat("0", 52)
	c := &container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: id, Name: "/" + name, Image: "sha256:" + img,
			State: &container.State{Status: "created"}, HostConfig: &container.HostConfig{}},
		Config:          &container.Config{Image: img, Labels: map[string]string{}},
		NetworkSettings: &container.NetworkSettings{},
	}
	f.containers[id] = c
	if running {
		f.setRunning(c, true)
	}
	return c
}

func (f *fakeEngine) setRunning(c *container.InspectResponse, up bool) {
	if up {
		c.State = &container.State{Status: "running", Running: true, StartedAt: fmt.Sprint(len(f.calls)),
			Health: &container.Health{Status: f.healthOf(c.Config.Image)}}
	} else {
		c.State = &container.State{Status: "exited"}
	}
}

func (f *fakeEngine) healthOf(img string) string {
	if h, ok := f.health[img]; ok {
		return h
	}
	return plan.HealthHealthy
}

func (f *fakeEngine) find(ref string) (*container.InspectResponse, error) {
	if c, ok := f.containers[ref]; ok {
		return c, nil
	}
	for _, c := range f.containers {
		if c.Name == "/"+ref {
			return c, nil
		}
	}
	return nil, errdefs.ErrNotFound.WithMessage("no such container: " + ref)
}

func (f *fakeEngine) name(id string) string {
	if c, ok := f.containers[id]; ok {
		return strings.TrimPrefix(c.Name, "/")
	}
	return id
}

func (f *fakeEngine) ClientVersion() string {
	if f.api == "" {
		return "1.41"
	}
	return f.api
}

func (f *fakeEngine) endpoint(name, netName string, ep *network.EndpointSettings) {
	if f.endpoints == nil {
		f.endpoints = map[string]map[string]*network.EndpointSettings{}
	}
	if f.endpoints[name] == nil {
		f.endpoints[name] = map[string]*network.EndpointSettings{}
	}
	f.endpoints[name][netName] = ep
}

func (f *fakeEngine) NetworkList(context.Context, network.ListOptions) ([]network.Summary, error) {
	return f.networks, nil
}
func (f *fakeEngine) Ping(context.Context) (types.Ping, error) {
	return types.Ping{}, nil
}

func (f *fakeEngine) ContainerList(_ context.Context, _ container.ListOptions) ([]container.Summary, error) {
	var out []container.Summary
	for _, c := range f.containers {
		out = append(out, container.Summary{ID: c.ID, Names: []string{c.Name}, Image: c.Config.Image, ImageID: c.Image, Labels: c.Config.Labels, State: c.State.Status})
	}
	return out, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	if f.noInspect[id] {
		f.t.Fatalf("unexpected call: ContainerInspect %s (it must not be gated)", f.name(id))
	}
	c, err := f.find(id)
	if err != nil {
		return container.InspectResponse{}, err
	}
	if f.onInspect != nil {
		f.onInspect(c)
	}
	return *c, nil
}

func (f *fakeEngine) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	if _, err := f.find(name); err == nil {
		return container.CreateResponse{}, errdefs.ErrConflict.WithMessage("name in use: " + name)
	}
	// As the Docker client and engine do: a MAC per endpoint needs API
	// 1.44, which drops the container-wide one; before 1.44 one network only.
	if nc != nil {
		if versions.LessThan(f.ClientVersion(), "1.44") && len(nc.EndpointsConfig) > 1 {
			return container.CreateResponse{}, errors.New("Container cannot be connected to network endpoints")
		}
		for n, ep := range nc.EndpointsConfig {
			if ep != nil && ep.MacAddress != "" && versions.LessThan(f.ClientVersion(), "1.44") {
				return container.CreateResponse{}, errors.New(`"specify mac-address per network" requires API version 1.44`)
			}
			f.endpoint(name, n, ep)
		}
	}
	if versions.GreaterThanOrEqualTo(f.ClientVersion(), "1.44") {
		cfg.MacAddress = "" //nolint:staticcheck // what the client does from 1.44 on
	}
	if f.onCreate != nil {
		f.onCreate(cfg)
	}
	c := f.add(name, cfg.Image, false)
	c.Config = cfg
	c.HostConfig = hc
	f.record("create %s (%s)", name, cfg.Image)
	return container.CreateResponse{ID: c.ID}, nil
}

func (f *fakeEngine) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	c, err := f.find(id)
	if err != nil {
		return err
	}
	f.record("start %s", f.name(id))
	if f.failStart[c.Config.Image] {
		return errors.New("port is already allocated")
	}
	f.setRunning(c, true)
	return nil
}

func (f *fakeEngine) ContainerStop(_ context.Context, id string, _ container.StopOptions) error {
	c, err := f.find(id)
	if err != nil {
		return err
	}
	f.record("stop %s", f.name(id))
	f.setRunning(c, false)
	return nil
}

func (f *fakeEngine) ContainerRename(_ context.Context, id, newName string) error {
	c, err := f.find(id)
	if err != nil {
		return err
	}
	if other, err := f.find(newName); err == nil && other != c {
		return errdefs.ErrConflict.WithMessage("name in use")
	}
	if c.State.Running && f.restarting[c.Config.Image] {
		// A 404, as the engine's "sandbox not found".
		return errdefs.ErrNotFound.WithMessage("sandbox 0123 not found")
	}
	f.record("rename %s -> %s", f.name(id), newName)
	c.Name = "/" + newName
	return nil
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, o container.RemoveOptions) error {
	c, err := f.find(id)
	if err != nil {
		return err
	}
	if o.RemoveVolumes {
		f.t.Errorf("remove %s with its volumes: tarsup never removes volumes", f.name(id))
	}
	f.record("remove %s", f.name(id))
	delete(f.containers, c.ID)
	return nil
}

func (f *fakeEngine) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

func (f *fakeEngine) ContainerAttach(context.Context, string, container.AttachOptions) (types.HijackedResponse, error) {
	f.t.Fatalf("unexpected call: ContainerAttach (no database client in these tests)")
	return types.HijackedResponse{}, nil
}

func (f *fakeEngine) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	f.t.Fatalf("unexpected call: ContainerWait (no sidecar probe in these tests)")
	return nil, nil
}

func (f *fakeEngine) NetworkConnect(_ context.Context, netName, id string, ep *network.EndpointSettings) error {
	f.record("connect %s to %s", f.name(id), netName)
	f.endpoint(f.name(id), netName, ep)
	return nil
}

func (f *fakeEngine) NetworkDisconnect(_ context.Context, netName, id string, _ bool) error {
	f.record("disconnect %s from %s", f.name(id), netName)
	if eps := f.endpoints[f.name(id)]; eps != nil {
		delete(eps, netName)
	}
	return nil
}

// ImageInspect answers for any image; a reference's ID is "sha256:" and the
// reference, as the fake's containers record their images' IDs.
func (f *fakeEngine) ImageInspect(_ context.Context, id string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if !strings.HasPrefix(id, "sha256:") && !strings.HasPrefix(id, "tarsup-") {
		return image.InspectResponse{ID: "sha256:" + id}, nil
	}
	return image.InspectResponse{ID: id}, nil
}

func (f *fakeEngine) ImagePull(_ context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	if !f.pulls {
		f.t.Fatalf("unexpected call: ImagePull %s", ref)
	}
	f.record("pull %s", ref)
	return io.NopCloser(strings.NewReader(`{"status":"Status: Downloaded newer image for ` + ref + `"}` + "\n")), nil
}

func (f *fakeEngine) ImageLoad(context.Context, io.Reader, ...client.ImageLoadOption) (image.LoadResponse, error) {
	f.t.Fatalf("unexpected call: ImageLoad")
	return image.LoadResponse{}, nil
}

func (f *fakeEngine) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	if !f.removals {
		f.t.Fatalf("unexpected call: ImageRemove %s", ref)
	}
	f.record("remove image %s", ref)
	return nil, nil
}

func (f *fakeEngine) Info(context.Context) (system.Info, error) {
	return system.Info{RegistryConfig: &registry.ServiceConfig{Mirrors: f.mirrors}}, nil
}

// Events streams nothing: the gates poll (a nil channel never delivers).
func (f *fakeEngine) Events(context.Context, events.ListOptions) (<-chan events.Message, <-chan error) {
	return nil, nil
}
