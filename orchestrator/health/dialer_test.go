package health

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// dialerEngine plays an engine whose probe dialer answers each address
// as verdicts says.
type dialerEngine struct {
	sidecarEngine
	verdicts map[string]string // address -> "ok", "fail ...", "unreachable ..."
	mu       sync.Mutex
	creates  []string // network modes of the containers created
}

func (e *dialerEngine) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.creates = append(e.creates, string(hc.NetworkMode)+" "+strings.Join(cfg.Cmd, " "))
	return container.CreateResponse{ID: "dialer1"}, nil
}

func (e *dialerEngine) ContainerAttach(context.Context, string, container.AttachOptions) (types.HijackedResponse, error) {
	ours, side := net.Pipe()
	e.side = side
	return types.NewHijackedResponse(ours, "application/vnd.docker.multiplexed-stream"), nil
}

func (e *dialerEngine) ContainerStart(context.Context, string, container.StartOptions) error {
	go func() {
		out := stdcopy.NewStdWriter(e.side, stdcopy.Stdout)
		var mu sync.Mutex
		say := func(s string) { mu.Lock(); _, _ = out.Write([]byte(s + "\n")); mu.Unlock() }
		say("ready")
		sc := bufio.NewScanner(e.side)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			say(f[0] + " " + e.verdicts[f[2]])
		}
	}()
	return nil
}

func nodeAt(ip string) plan.Container {
	return plan.Container{ID: "n1", Name: "node1", Role: images.RoleNode,
		Inspect: container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{HostConfig: &container.HostConfig{NetworkMode: "tars"}},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{"tars": {IPAddress: ip}}}}}
}

// TestDialer: one dialer per engine, on its host's network, answers the
// probes of every container it reaches; a container it cannot reach is
// left to a sidecar in its own namespace.
func TestDialer(t *testing.T) {
	e := &dialerEngine{verdicts: map[string]string{
		"10.0.0.2:19385": "ok",
		"10.0.0.3:19385": "fail tcp 10.0.0.3:19385: connect: connection refused",
		"10.0.0.4:19385": "unreachable tcp 10.0.0.4:19385: i/o timeout",
	}}
	h := &engine.Host{Spec: engine.HostSpec{URL: "tcp://fake:2376"}, Engine: e, Remote: true}
	p := &Prober{Mode: ProbeAuto, Binary: staticBinary(t)}
	defer p.Close()
	checks := ChecksFor(nodeAt(""))
	if err, done := p.probeByDialer(context.Background(), h, nodeAt("10.0.0.2"), checks); !done || err != nil {
		t.Errorf("a container that answers: done %v, %v", done, err)
	}
	if err, done := p.probeByDialer(context.Background(), h, nodeAt("10.0.0.3"), checks); !done || err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("a container that refuses: done %v, %v; want its answer", done, err)
	}
	if _, done := p.probeByDialer(context.Background(), h, nodeAt("10.0.0.4"), checks); done {
		t.Error("a container the engine host cannot reach: the dialer must not decide")
	}
	// A gate's session on that engine creates no container of its own.
	s, err := p.Session(context.Background(), h, nodeAt("10.0.0.2"), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(context.Background(), nodeAt("10.0.0.2")); err != nil {
		t.Errorf("the session's probe: %v", err)
	}
	s.Close()
	if len(e.creates) != 1 || e.creates[0] != "host probe --serve --dial" {
		t.Errorf("containers created %q, want one dialer on the host network", e.creates)
	}
}

// TestDialerRestarts: a dialer that ended (removed by hand) is replaced
// by a new one, once its retry time has passed; until then the probes go
// by sidecar.
func TestDialerRestarts(t *testing.T) {
	e := &dialerEngine{verdicts: map[string]string{"10.0.0.2:19385": "ok"}}
	h := &engine.Host{Spec: engine.HostSpec{URL: "tcp://fake:2376"}, Engine: e, Remote: true}
	p := &Prober{Mode: ProbeAuto, Binary: staticBinary(t), dialerRetry: 50 * time.Millisecond}
	defer p.Close()
	checks := ChecksFor(nodeAt(""))
	if _, done := p.probeByDialer(context.Background(), h, nodeAt("10.0.0.2"), checks); !done {
		t.Fatal("the first dialer did not answer")
	}
	_ = e.side.Close() // the dialer ends
	time.Sleep(20 * time.Millisecond)
	if _, done := p.probeByDialer(context.Background(), h, nodeAt("10.0.0.2"), checks); done {
		t.Error("an ended dialer answered")
	}
	time.Sleep(60 * time.Millisecond)
	if err, done := p.probeByDialer(context.Background(), h, nodeAt("10.0.0.2"), checks); !done || err != nil {
		t.Errorf("after the retry time: done %v, %v; want a new dialer's answer", done, err)
	}
	if n := len(e.creates); n != 2 {
		t.Errorf("%d dialers created, want 2", n)
	}
}
