package orchestrator

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// sumOf is the sum of that name in sums.
func sumOf(t *testing.T, sums []engine.Sum, name string) engine.Sum {
	t.Helper()
	for _, s := range sums {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no %q in %+v", name, sums)
	return engine.Sum{}
}

// TestTraceSteps: a traced run records each step (its wait for a worker
// slot, its events, hence its parts) and each engine call in the step it
// was made in, so that the calls of a step can be counted by method.
func TestTraceSteps(t *testing.T) {
	f := newFakeEngine(t)
	x, h := fakeExecutor(f)
	steps := nodesOn(t, x, f, h, "n1", "n2")
	tr := engine.NewTrace()
	h.Engine = tr.Wrap(h.Name(), f)
	x.Trace = tr
	ctx, end := tr.Stage(context.Background(), "run")
	results, err := x.Run(ctx, plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: steps, Parallel: 1}}})
	end()
	if err != nil || outcome(results) != "n1=upgraded n2=upgraded" {
		t.Fatalf("results %s, error %v", outcome(results), err)
	}
	r := tr.Report()
	if len(r.Steps) != 2 {
		t.Fatalf("%d steps traced, want 2: %+v", len(r.Steps), r.Steps)
	}
	first, second := r.Steps[0], r.Steps[1]
	if first.Container != "n1" || second.Container != "n2" || first.Phase != "nodes" || first.Kind != string(plan.StepRecreate) || first.Result != ResultUpgraded {
		t.Errorf("steps traced: %+v", r.Steps)
	}
	// At --parallel 1 the second step waits for the first one's slot.
	if second.Queued < first.Took || second.Start < first.Start+first.Took {
		t.Errorf("the second step waited %.6fs for its slot, started at %.6fs; the first one ran from %.6fs for %.6fs", second.Queued, second.Start, first.Start, first.Took)
	}
	var actions []string
	for _, m := range first.Marks {
		actions = append(actions, m.Action)
	}
	if got, want := actions, []string{"recreate", "stop old", "health gate", "recreate"}; !slices.Equal(got, want) {
		t.Errorf("the first step's marks %q, want %q", got, want)
	}
	if parts := engine.StepParts(first); len(parts) != 3 {
		t.Errorf("the first step's parts %v, want create, stop-start and gate", parts)
	}
	for method, n := range map[string]float64{"ContainerCreate": 1, "ContainerStop": 1, "ContainerRename": 2, "ContainerStart": 1, "ContainerRemove": 1} {
		if got := sumOf(t, r.PerStep, method); got.N != n {
			t.Errorf("%s: %.1f calls per step, want %.0f", method, got.N, n)
		}
	}
	if got := sumOf(t, r.Scopes, "steps"); got.N != float64(len(r.Calls)) {
		t.Errorf("%.0f of %d calls counted in the steps, want all: %+v", got.N, len(r.Calls), r.Calls)
	}
	if stage := r.Stages[len(r.Stages)-1]; stage.Name != "run" || len(r.Stages) != 2 || r.Stages[0].Name != "phase nodes" {
		t.Errorf("stages %+v, want the phase, then the run", r.Stages)
	}
	if r.MaxSteps != 1 || r.MaxStepsPerHost[h.Name()] != 1 {
		t.Errorf("at most %d steps at once (per engine %v), want 1 at --parallel 1", r.MaxSteps, r.MaxStepsPerHost)
	}
}

// TestTraceCalls: a call about a container created in another's network
// namespace counts as a sidecar's; a failed call is marked; a stream counts
// until it is closed; a call made in a stage is counted in it.
func TestTraceCalls(t *testing.T) {
	f := newFakeEngine(t)
	target := f.add("n1", "tarscloud/tars-node:latest", true)
	tr := engine.NewTrace()
	e := tr.Wrap("fake", f)
	ctx, end := tr.Stage(context.Background(), "preflight")
	side, err := e.ContainerCreate(ctx, &container.Config{Image: "probe"}, &container.HostConfig{NetworkMode: container.NetworkMode("container:" + target.ID)}, &network.NetworkingConfig{}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = e.ContainerStart(ctx, side.ID, container.StartOptions{})
	_ = e.ContainerRemove(ctx, side.ID, container.RemoveOptions{Force: true})
	_ = e.ContainerStart(ctx, "gone", container.StartOptions{})
	logs, err := e.ContainerLogs(ctx, target.ID, container.LogsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Report().Calls); n != 4 {
		t.Errorf("%d calls before the logs were closed, want 4 (a stream counts once closed)", n)
	}
	_, _ = io.Copy(io.Discard, logs)
	_ = logs.Close()
	end()
	r := tr.Report()
	for _, m := range []string{"sidecar ContainerCreate", "sidecar ContainerStart", "sidecar ContainerRemove", "ContainerStart", "ContainerLogs"} {
		if got := sumOf(t, r.Methods, m); got.N != 1 {
			t.Errorf("%s: %.0f calls, want 1", m, got.N)
		}
	}
	failed := 0
	for _, c := range r.Calls {
		if c.Failed {
			failed++
		}
		if c.Scope != "preflight" {
			t.Errorf("call %+v not counted in the stage it was made in", c)
		}
	}
	if failed != 1 {
		t.Errorf("%d failed calls, want 1 (the start of a container that does not exist): %+v", failed, r.Calls)
	}
	if got := sumOf(t, r.Scopes, "preflight"); got.N != 5 {
		t.Errorf("%.0f calls in the pre-flight, want 5", got.N)
	}
}

// TestTraceFile: the trace file is the report as JSON; a nil trace wraps
// nothing and records nothing.
func TestTraceFile(t *testing.T) {
	f := newFakeEngine(t)
	tr := engine.NewTrace()
	_, _ = tr.Wrap("fake", f).ContainerList(context.Background(), container.ListOptions{})
	path := filepath.Join(t.TempDir(), "trace.json")
	if err := tr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r engine.TraceReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Calls) != 1 || r.Calls[0].Method != "ContainerList" || r.Calls[0].Host != "fake" || r.Began.IsZero() {
		t.Errorf("trace file: %s", data)
	}
	var none *engine.Trace
	if none.Wrap("fake", f) != engine.Engine(f) {
		t.Error("a nil trace wrapped the engine")
	}
	ctx, step := none.Step(context.Background(), "nodes", "h", "n1", "recreate", time.Now())
	step.Done(ResultUpgraded)
	none.Event("h", "n1", "stop old")
	if engine.ScopeOf(ctx) != "" {
		t.Error("a nil trace scoped the context")
	}
}
