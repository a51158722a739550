package orchestrator

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// syncEngine makes a fakeEngine safe for the steps of a phase that run at
// once, for the calls a recreate makes, and lets a test hold a call back.
type syncEngine struct {
	*fakeEngine
	mu *sync.Mutex
	// before runs, outside the lock, before each recorded call with its
	// name and the container's name (or the name created).
	before func(call, name string)
}

func (s syncEngine) hold(call, name string) {
	if s.before != nil {
		s.before(call, name)
	}
	s.mu.Lock()
}

func (s syncEngine) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fakeEngine.ContainerInspect(ctx, id)
}

func (s syncEngine) ContainerCreate(ctx context.Context, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, p *ocispec.Platform, name string) (container.CreateResponse, error) {
	s.hold("create", name)
	defer s.mu.Unlock()
	return s.fakeEngine.ContainerCreate(ctx, cfg, hc, nc, p, name)
}

func (s syncEngine) nameOf(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name(id)
}

func (s syncEngine) ContainerStart(ctx context.Context, id string, o container.StartOptions) error {
	s.hold("start", s.nameOf(id))
	defer s.mu.Unlock()
	return s.fakeEngine.ContainerStart(ctx, id, o)
}

func (s syncEngine) ContainerStop(ctx context.Context, id string, o container.StopOptions) error {
	s.hold("stop", s.nameOf(id))
	defer s.mu.Unlock()
	return s.fakeEngine.ContainerStop(ctx, id, o)
}

func (s syncEngine) ContainerRename(ctx context.Context, id, newName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fakeEngine.ContainerRename(ctx, id, newName)
}

func (s syncEngine) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	s.hold("remove", s.nameOf(id))
	defer s.mu.Unlock()
	return s.fakeEngine.ContainerRemove(ctx, id, o)
}

func (s syncEngine) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fakeEngine.calls)
}

// signal is closed once, by the first of its callers.
type signal struct {
	once sync.Once
	c    chan struct{}
}

func newSignal() *signal { return &signal{c: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.c) }) }

// waitFor waits for s and reports whether it came, or gives up after a
// while so that a broken scheduler fails the test instead of hanging it.
func (s *signal) waitFor() bool {
	select {
	case <-s.c:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// nodesOn adds nodes to f and returns their recreate steps on h.
func nodesOn(t *testing.T, x *Executor, f *fakeEngine, h *engine.Host, names ...string) []plan.Step {
	t.Helper()
	var steps []plan.Step
	for _, n := range names {
		c := f.add(n, "tarscloud/tars-node:latest", true)
		steps = append(steps, recreateOf(t, x, h, c.ID, "tarscloud/tars-node:new"))
	}
	return steps
}

// TestLaneOnEngine: at --parallel 2 on one engine, the second recreate
// starts once the first one's new container started, and its create, stop
// and start run while the first one is in its gate (its old container is
// removed only after the second one started). The lane's time bound is
// out of reach: only the first one's gate event can free it.
func TestLaneOnEngine(t *testing.T) {
	f := newFakeEngine(t)
	secondStarted := newSignal()
	e := syncEngine{fakeEngine: f, mu: &sync.Mutex{}}
	e.before = func(call, name string) {
		switch {
		case call == "start" && name == "n2":
			secondStarted.fire()
		case call == "remove" && name == "n1.tarsup-old":
			secondStarted.waitFor()
		}
	}
	h := &engine.Host{Spec: engine.HostSpec{URL: "fake"}, Engine: e}
	x, _ := fakeExecutor(f)
	x.Hosts = map[string]*engine.Host{h.Name(): h}
	x.lanes = newLanes()
	x.lanes.hold = time.Hour
	steps := nodesOn(t, x, f, h, "n1", "n2")
	f.calls = nil
	results, err := x.Run(context.Background(), plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: steps, Parallel: 2}}})
	if err != nil || outcome(results) != "n1=upgraded n2=upgraded" {
		t.Fatalf("results %s, error %v", outcome(results), err)
	}
	calls := e.calls()
	at := func(call string) int {
		i := slices.Index(calls, call)
		if i < 0 {
			t.Fatalf("no %q in %q", call, calls)
		}
		return i
	}
	if at("create n2.tarsup-new (tarscloud/tars-node:new)") < at("start n1") {
		t.Errorf("the second recreate began before the first one's new container started:\n%q", calls)
	}
	if at("start n2") > at("remove n1.tarsup-old") {
		t.Errorf("the second recreate waited for the first one's gate:\n%q", calls)
	}
}

// TestLanesPerEngine: recreates on two engines do not wait for each other:
// the first one's stop waits until the second one, on the other engine,
// created its container.
func TestLanesPerEngine(t *testing.T) {
	fa, fb := newFakeEngine(t), newFakeEngine(t)
	created := newSignal()
	overlapped := false
	a := syncEngine{fakeEngine: fa, mu: &sync.Mutex{}, before: func(call, _ string) {
		if call == "stop" {
			overlapped = created.waitFor()
		}
	}}
	b := syncEngine{fakeEngine: fb, mu: &sync.Mutex{}, before: func(call, _ string) {
		if call == "create" {
			created.fire()
		}
	}}
	ha := &engine.Host{Spec: engine.HostSpec{URL: "a"}, Engine: a}
	hb := &engine.Host{Spec: engine.HostSpec{URL: "b"}, Engine: b}
	x, _ := fakeExecutor(fa)
	x.Hosts = map[string]*engine.Host{"a": ha, "b": hb}
	x.lanes = newLanes()
	x.lanes.hold = time.Hour
	steps := append(nodesOn(t, x, fa, ha, "n1"), nodesOn(t, x, fb, hb, "n2")...)
	results, err := x.Run(context.Background(), plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: steps, Parallel: 2}}})
	if err != nil || outcome(results) != "n1=upgraded n2=upgraded" {
		t.Fatalf("results %s, error %v", outcome(results), err)
	}
	if !overlapped {
		t.Error("the second engine's recreate did not create its container while the first engine's one was before its stop: one engine's lane held the other engine")
	}
}

// TestLaneHolders: only the holder frees a lane; an entry whose context
// is done takes the lane at once (the step then does not run).
func TestLaneHolders(t *testing.T) {
	l := newLanes()
	l.hold = time.Hour
	ctx := context.Background()
	l.enter(ctx, "h", "a")
	l.leave("h", "b")
	if l.held["h"].container != "a" {
		t.Fatalf("lane of h held by %q after another container left it, want a", l.held["h"].container)
	}
	in := make(chan struct{})
	go func() {
		l.enter(ctx, "h", "b")
		close(in)
	}()
	l.enter(ctx, "other", "c") // another engine's lane is free
	l.leave("h", "a")
	<-in
	if l.held["h"].container != "b" {
		t.Fatalf("lane of h held by %q, want b once a left it", l.held["h"].container)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	l.enter(cancelled, "h", "d")
	if l.held["h"].container != "d" {
		t.Fatalf("a cancelled entry did not take the lane at once")
	}
	l.hold = time.Millisecond
	l.enter(ctx, "h", "e") // d held it for longer than l.hold
	if l.held["h"].container != "e" {
		t.Fatalf("lane of h held by %q, want e once d held it for longer than the bound", l.held["h"].container)
	}
	var none *lanes
	none.leave("h", "e") // a nil *lanes holds none: no panic
}
