package health

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestPacer: 20 ms polls for the first seconds, then doubling up to the
// gate's interval.
func TestPacer(t *testing.T) {
	p := Gate{}.pacer(time.Second)
	t0 := p.begin
	for _, at := range []time.Duration{0, time.Second, 2900 * time.Millisecond} {
		if got := p.next(t0.Add(at)); got != DefaultFastInterval {
			t.Errorf("at %s: %s, want %s", at, got, DefaultFastInterval)
		}
	}
	var got []time.Duration
	for i := 0; i < 8; i++ {
		got = append(got, p.next(t0.Add(DefaultFastFor)))
	}
	want := []time.Duration{40, 80, 160, 320, 640, 1000, 1000, 1000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("after the fast polls: %v, want %v", got, want)
	}
	if q := (Gate{FastInterval: 5 * time.Second}).pacer(time.Second); q.fast != time.Second {
		t.Errorf("a fast interval above the interval: %s, want the interval", q.fast)
	}
}

// sidecarEngine plays an engine for the gate's sidecar: `tarsup probe
// --serve` answering over its attached stdin, each answer from answers.
type sidecarEngine struct {
	engine.Engine // the methods a session does not use panic
	api           string

	mu       sync.Mutex
	calls    []string
	cfg      *container.Config
	hc       *container.HostConfig
	side     net.Conn // the sidecar's end of the attachment
	answers  []string
	removed  int
	startErr error
}

func (e *sidecarEngine) record(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, s)
}

func (e *sidecarEngine) ClientVersion() string { return e.api }

func (e *sidecarEngine) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{}, nil // the probe image is loaded
}

func (e *sidecarEngine) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	e.record("create " + strings.Join(cfg.Cmd, " "))
	e.cfg, e.hc = cfg, hc
	return container.CreateResponse{ID: "side1"}, nil
}

func (e *sidecarEngine) ContainerAttach(context.Context, string, container.AttachOptions) (types.HijackedResponse, error) {
	e.record("attach")
	ours, side := net.Pipe()
	e.side = side
	return types.NewHijackedResponse(ours, "application/vnd.docker.multiplexed-stream"), nil
}

func (e *sidecarEngine) ContainerStart(context.Context, string, container.StartOptions) error {
	e.record("start")
	if e.startErr != nil {
		return e.startErr
	}
	go func() {
		out := stdcopy.NewStdWriter(e.side, stdcopy.Stdout)
		_, _ = out.Write([]byte("ready\n"))
		sc := bufio.NewScanner(e.side)
		for i := 0; sc.Scan(); i++ {
			if i >= len(e.answers) {
				_ = e.side.Close() // the sidecar ends
				return
			}
			_, _ = out.Write([]byte(e.answers[i] + "\n"))
		}
	}()
	return nil
}

func (e *sidecarEngine) ContainerRemove(context.Context, string, container.RemoveOptions) error {
	e.record("remove")
	e.mu.Lock()
	e.removed++
	e.mu.Unlock()
	return nil
}

// staticBinary writes a minimal static Linux executable (an ELF header and
// one loadable segment, no interpreter): what the sidecar image is built
// from. The fake engine reports the image as loaded, so it is only read.
func staticBinary(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(2))                     // ET_EXEC
	w(uint16(62))                    // EM_X86_64
	w(uint32(1))                     // version
	w(uint64(0x400078))              // entry
	w(uint64(64))                    // program headers at 64
	w(uint64(0))                     // no section headers
	w(uint32(0))                     // flags
	w([]uint16{64, 56, 1, 64, 0, 0}) // sizes, one program header
	w([]uint32{1, 5})                // PT_LOAD, r-x
	w([]uint64{0, 0x400000, 0x400000, 120, 120, 0x1000})
	p := filepath.Join(t.TempDir(), "tarsup")
	if err := os.WriteFile(p, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := requireStatic(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func target() plan.Container {
	return plan.Container{ID: "new1", Name: "fw", Role: images.RoleNode,
		Inspect: container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{HostConfig: &container.HostConfig{NetworkMode: "tars"}},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{"tars": {}}}}}
}

// TestSidecarSession: one sidecar for a whole gate, created before the
// target starts, in its network namespace, asked once per probe.
func TestSidecarSession(t *testing.T) {
	bin := staticBinary(t)
	e := &sidecarEngine{api: "1.41", answers: []string{"fail tcp 127.0.0.1:19385: connection refused", "ok"}}
	h := &engine.Host{Spec: engine.HostSpec{URL: "tcp://fake:2376"}, Engine: e, Remote: true}
	p := &Prober{Mode: ProbeAuto, Binary: bin}
	s, err := p.Session(context.Background(), h, target(), true)
	if err != nil {
		t.Fatal(err)
	}
	if e.hc.NetworkMode != "container:new1" || !e.hc.AutoRemove || !slices.Equal(e.hc.CapAdd, []string{"NET_RAW"}) {
		t.Errorf("host config %+v: want the target's namespace, AutoRemove, NET_RAW", e.hc)
	}
	if !e.cfg.OpenStdin || !e.cfg.StdinOnce || e.cfg.Labels[plan.LabelProbe] == "" {
		t.Errorf("config %+v: want stdin once (the sidecar ends with tarsup) and the probe label", e.cfg)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := target()
	if err := s.Probe(context.Background(), c); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("first probe: %v, want the sidecar's failure", err)
	}
	if err := s.Probe(context.Background(), c); err != nil {
		t.Errorf("second probe: %v", err)
	}
	s.Close()
	s.Close()
	want := []string{"create probe --serve --announce-addresses --tcp 127.0.0.1:19385", "attach", "start", "remove"}
	if !slices.Equal(e.calls, want) {
		t.Errorf("calls %q, want %q", e.calls, want)
	}
}

// TestSessionModes: where nothing needs a sidecar (a local engine probed
// directly, no announcement asked, or none possible under host
// networking) no container is created; a sidecar that does not start
// leaves the gate to Probe.
func TestSessionModes(t *testing.T) {
	bin := staticBinary(t)
	hostNet := target()
	hostNet.Inspect.HostConfig.NetworkMode = "host"
	for _, tt := range []struct {
		name     string
		announce bool
		c        plan.Container
		create   string
	}{
		{"no announcement asked", false, target(), ""},
		{"host networking: nothing to announce", true, hostNet, ""},
		{"an announcement asked", true, target(), "create probe --serve --announce-addresses"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &sidecarEngine{api: "1.41"}
			h := &engine.Host{Spec: engine.HostSpec{URL: "unix:///x.sock"}, Engine: e}
			p := &Prober{Mode: ProbeDirect, Binary: bin}
			s, err := p.Session(context.Background(), h, tt.c, tt.announce)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := ""
			if len(e.calls) > 0 {
				got = e.calls[0]
			}
			if got != tt.create {
				t.Errorf("first call %q, want %q", got, tt.create)
			}
		})
	}
	e := &sidecarEngine{api: "1.41", startErr: errors.New("no such image")}
	h := &engine.Host{Spec: engine.HostSpec{URL: "unix:///x.sock"}, Engine: e}
	s, err := (&Prober{Mode: ProbeDirect, Binary: bin}).Session(context.Background(), h, target(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Errorf("start: %v, want the engine's refusal", err)
	}
	s.Close()
}

// removingEngine plays an engine removing an AutoRemove sidecar by itself:
// the remove is a conflict ("removal already in progress") and inspect
// finds the container for a few more looks.
type removingEngine struct {
	engine.Engine // the methods removeSidecar does not use panic
	removeErr     error
	looksLeft     int
	looks         int
}

func (e *removingEngine) ContainerRemove(context.Context, string, container.RemoveOptions) error {
	return e.removeErr
}

func (e *removingEngine) ContainerInspect(context.Context, string) (container.InspectResponse, error) {
	e.looks++
	if e.looksLeft == 0 {
		return container.InspectResponse{}, errdefs.NotFound(errors.New("no such container"))
	}
	e.looksLeft--
	return container.InspectResponse{}, nil
}

// TestRemoveSidecarWaits: a sidecar the engine is removing already is
// waited for until it is gone; a remove that worked, or failed otherwise,
// is not followed by any look.
func TestRemoveSidecarWaits(t *testing.T) {
	e := &removingEngine{removeErr: errdefs.Conflict(errors.New("removal of container side1 is already in progress")), looksLeft: 3}
	removeSidecar(context.Background(), &engine.Host{Engine: e}, "side1")
	if e.looks != 4 || e.looksLeft != 0 {
		t.Errorf("looks %d, want 4 (three while it is removed, one that finds it gone)", e.looks)
	}
	for _, err := range []error{nil, errors.New("engine down")} {
		e := &removingEngine{removeErr: err, looksLeft: 3}
		removeSidecar(context.Background(), &engine.Host{Engine: e}, "side1")
		if e.looks != 0 {
			t.Errorf("remove error %v: %d looks, want none", err, e.looks)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	stuck := &removingEngine{removeErr: errdefs.Conflict(errors.New("in progress")), looksLeft: 1 << 30}
	removeSidecar(ctx, &engine.Host{Engine: stuck}, "side1")
	if ctx.Err() == nil {
		t.Errorf("removeSidecar returned before the container was gone or its context ended")
	}
}
