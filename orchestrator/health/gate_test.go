package health

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// healthEngine plays a container with a HEALTHCHECK that turns healthy,
// and the engine's health_status event that says so.
type healthEngine struct {
	engine.Engine
	mu      sync.Mutex
	status  string
	events  chan events.Message
	filters []string
}

func (e *healthEngine) ClientVersion() string { return "1.41" }

func (e *healthEngine) ContainerInspect(context.Context, string) (container.InspectResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: "c1", Name: "/web", HostConfig: &container.HostConfig{},
			State: &container.State{Status: "running", Running: true, StartedAt: "t0", Health: &container.Health{Status: e.status}}},
		Config: &container.Config{Image: "web:1"},
	}, nil
}

func (e *healthEngine) Events(_ context.Context, o events.ListOptions) (<-chan events.Message, <-chan error) {
	e.filters = o.Filters.Get("event")
	return e.events, make(chan error)
}

// TestGateWakesOnHealthEvent: a gate whose polls are an hour apart still
// notices at once that a HEALTHCHECK passed, from the engine's event.
func TestGateWakesOnHealthEvent(t *testing.T) {
	e := &healthEngine{status: "starting", events: make(chan events.Message, 1)}
	h := &engine.Host{Spec: engine.HostSpec{URL: "unix:///x.sock"}, Engine: e}
	g := Gate{Prober: &Prober{Mode: ProbeDirect}, Timeout: time.Hour, Interval: time.Hour, FastInterval: time.Hour}
	done := make(chan error, 1)
	go func() { done <- g.Wait(context.Background(), h, "c1", images.RoleNone) }()
	time.Sleep(50 * time.Millisecond)
	e.mu.Lock()
	e.status = "healthy"
	e.mu.Unlock()
	e.events <- events.Message{Action: "health_status: healthy"}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gate: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the gate did not notice the health event")
	}
	if len(e.filters) != 1 || e.filters[0] != "health_status" {
		t.Errorf("event filter %v, want health_status", e.filters)
	}
}
