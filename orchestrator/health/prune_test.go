package health

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// prunedEngine is a sidecarEngine whose probe image was pruned after it
// was loaded: a create answers "No such image" until the image is loaded
// again.
type prunedEngine struct {
	*sidecarEngine
	present bool
}

func (e *prunedEngine) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	if !e.present {
		return image.InspectResponse{}, errdefs.ErrNotFound.WithMessage("no such image")
	}
	return image.InspectResponse{}, nil
}

func (e *prunedEngine) ImageLoad(_ context.Context, r io.Reader, _ ...client.ImageLoadOption) (image.LoadResponse, error) {
	e.record("load")
	e.present = true
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(""))}, nil
}

func (e *prunedEngine) ContainerCreate(ctx context.Context, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, pl *ocispec.Platform, name string) (container.CreateResponse, error) {
	if !e.present {
		e.record("create: no such image")
		return container.CreateResponse{}, errdefs.ErrNotFound.WithMessage("No such image: " + cfg.Image)
	}
	return e.sidecarEngine.ContainerCreate(ctx, cfg, hc, nc, pl, name)
}

// TestSidecarImagePruned: a prober that loaded the probe image once loads
// it again when the engine no longer has it, for the gate's sidecar as
// for a probe's, instead of failing every probe of the run.
func TestSidecarImagePruned(t *testing.T) {
	bin := staticBinary(t)
	e := &prunedEngine{sidecarEngine: &sidecarEngine{api: "1.41"}}
	h := &engine.Host{Spec: engine.HostSpec{URL: "tcp://fake:2376"}, Engine: e, Remote: true}
	p := &Prober{Mode: ProbeSidecar, Binary: bin}
	ref, err := p.ensureImage(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	e.present = false // pruned
	e.calls = nil
	s, err := p.Session(context.Background(), h, target(), true)
	if err != nil {
		t.Fatalf("session after a prune: %v", err)
	}
	defer s.Close()
	want := []string{"create: no such image", "load", "create probe --serve --announce-addresses --tcp 127.0.0.1:19385", "attach"}
	if got := strings.Join(e.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if e.cfg.Image != ref {
		t.Errorf("sidecar image %q, want %q", e.cfg.Image, ref)
	}
}
