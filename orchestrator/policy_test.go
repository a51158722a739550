package orchestrator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// The policy of a run, stated as plans and checked against the fake engine:
// each test here fails when the executor (or the planner) stops obeying one
// rule of the plan.

// recreateOf plans the recreate of the fake container id to image to, with
// the executor's policy, as BuildPlan would.
func recreateOf(t *testing.T, x *Executor, h *engine.Host, id, to string) plan.Step {
	t.Helper()
	c := containerOf(t, x, h, id)
	st := plan.Step{Host: h.Name(), Container: c, From: c.Image, To: to, Cause: "--to " + to,
		Spec: plan.Derive(plan.DeriveInput{Old: c.Inspect, NewRef: to, Role: c.Role, APIVersion: "1.41"}), Previous: plan.PreviousSpec(c, "1.41")}
	x.Opts.Policy(1).RecreatePolicy(&st)
	return st
}

// outcome renders results as "name=result ...".
func outcome(results []StepResult) string {
	var out []string
	for _, r := range results {
		out = append(out, r.Step.Container.Name+"="+r.Result)
	}
	return strings.Join(out, " ")
}

// touched lists the containers the calls name (by their name at the time).
func touched(calls []string, names ...string) []string {
	var out []string
	for _, n := range names {
		for _, c := range calls {
			if strings.Contains(c, " "+n+" ") || strings.HasSuffix(c, " "+n) || strings.Contains(c, " "+n+".tarsup-") {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// TestRunStopOnFailure: a failed step of a phase that stops on failure
// (the framework) starts no further step, in that phase or after it,
// whatever its MaxFailures.
func TestRunStopOnFailure(t *testing.T) {
	f := newFakeEngine(t)
	m := f.add("fw", "tarscloud/framework:v3.0.15", true)
	s1 := f.add("fw2", "tarscloud/framework:v3.0.15", true)
	s2 := f.add("fw3", "tarscloud/framework:v3.0.15", true)
	n := f.add("node1", "tarscloud/tars-node:latest", true)
	f.failStart["tarscloud/framework:v3.0.16-bad"] = true
	x, h := fakeExecutor(f)
	p := plan.Plan{Phases: []plan.Phase{
		{Name: "framework master", Steps: []plan.Step{recreateOf(t, x, h, m.ID, "tarscloud/framework:v3.0.16")}, Parallel: 1, StopOnFailure: true},
		{Name: "framework hosts", Steps: []plan.Step{recreateOf(t, x, h, s1.ID, "tarscloud/framework:v3.0.16-bad"), recreateOf(t, x, h, s2.ID, "tarscloud/framework:v3.0.16")}, Parallel: 1, StopOnFailure: true, MaxFailures: 5},
		{Name: "nodes", Steps: []plan.Step{recreateOf(t, x, h, n.ID, "tarscloud/tars-node:stable")}, Parallel: 1, MaxFailures: 5},
	}}
	f.calls = nil
	results, err := x.Run(context.Background(), p)
	if !errors.Is(err, fault.RolledBack) {
		t.Fatalf("err %v, want the rolled-back framework host", err)
	}
	if got, want := outcome(results), "fw=upgraded fw2=rolled back fw3=skipped node1=skipped"; got != want {
		t.Errorf("results %q, want %q", got, want)
	}
	if got := touched(f.calls, "fw3", "node1"); len(got) > 0 {
		t.Errorf("steps after the failed framework step ran on %v:\n%s", got, strings.Join(f.calls, "\n"))
	}
}

// TestRunMaxFailures: in a phase that tolerates failures, no new step starts
// once more than MaxFailures failed (--max-failures).
func TestRunMaxFailures(t *testing.T) {
	for _, tt := range []struct {
		max  int
		want string
	}{
		{0, "n1=rolled back n2=skipped n3=skipped n4=skipped"},
		{1, "n1=rolled back n2=rolled back n3=skipped n4=skipped"},
		{5, "n1=rolled back n2=rolled back n3=upgraded n4=upgraded"},
	} {
		t.Run("max "+string(rune('0'+tt.max)), func(t *testing.T) {
			f := newFakeEngine(t)
			f.failStart["tarscloud/tars-node:bad"] = true
			var steps []plan.Step
			x, h := fakeExecutor(f)
			for i, to := range []string{"bad", "bad", "stable", "stable"} {
				c := f.add("n"+string(rune('1'+i)), "tarscloud/tars-node:latest", true)
				steps = append(steps, recreateOf(t, x, h, c.ID, "tarscloud/tars-node:"+to))
			}
			p := plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: steps, Parallel: 1, MaxFailures: tt.max}}}
			results, err := x.Run(context.Background(), p)
			if err == nil {
				t.Fatal("no error from failed nodes")
			}
			if got := outcome(results); got != tt.want {
				t.Errorf("results %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRunStoppedStaysStopped: a stopped container is recreated and left
// stopped: neither started nor gated.
func TestRunStoppedStaysStopped(t *testing.T) {
	f := newFakeEngine(t)
	n := f.add("node1", "tarscloud/tars-node:latest", false)
	x, h := fakeExecutor(f)
	st := recreateOf(t, x, h, n.ID, "tarscloud/tars-node:stable")
	if st.Kind != plan.StepRecreateStopped {
		t.Fatalf("a stopped container's step is %q, want %q", st.Kind, plan.StepRecreateStopped)
	}
	f.calls = nil
	f.onCreate = func(*container.Config) {
		// The new container must not be gated: no inspection of it.
		f.noInspect = map[string]bool{}
		for id, c := range f.containers {
			if c.Name == "/node1.tarsup-new" {
				f.noInspect[id] = true
			}
		}
	}
	results, err := x.Run(context.Background(), plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: []plan.Step{st}, Parallel: 1}}})
	if err != nil || outcome(results) != "node1=upgraded" {
		t.Fatalf("results %q, err %v", outcome(results), err)
	}
	want := []string{"create node1.tarsup-new (tarscloud/tars-node:stable)", "rename node1 -> node1.tarsup-old",
		"rename node1.tarsup-new -> node1", "remove node1.tarsup-old"}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, c := range f.containers {
		if c.State.Running {
			t.Errorf("%s runs", c.Name)
		}
	}
}

// TestRunCleanupOnlyAfterSuccess: a cleanup step removes the old image only
// once every recreate it waits for upgraded; a failed (rolled-back) one
// keeps it, since the old container uses it again. The cleanup runs even
// when a failure ended the run.
func TestRunCleanupOnlyAfterSuccess(t *testing.T) {
	for _, tt := range []struct {
		name string
		to   string
		want []string
	}{
		{"upgraded: the old image goes", "tarscloud/framework:v3.0.16", []string{"remove image tarscloud/framework:v3.0.15"}},
		{"rolled back: the old image stays", "tarscloud/framework:v3.0.16-bad", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.failStart["tarscloud/framework:v3.0.16-bad"] = true
			m := f.add("fw", "tarscloud/framework:v3.0.15", true)
			f.removals = true
			x, h := fakeExecutor(f)
			st := recreateOf(t, x, h, m.ID, tt.to)
			clean := plan.Step{Kind: plan.StepCleanupImage, Host: h.Name(), Container: st.Container, Image: st.Container.ImageID,
				ImageTags: []string{"tarscloud/framework:v3.0.15"}, After: []string{m.ID}, AfterNames: []string{"fw"}}
			p := plan.Plan{Phases: []plan.Phase{
				{Name: "framework master", Steps: []plan.Step{st}, Parallel: 1, StopOnFailure: true},
				{Name: "cleanup", Steps: []plan.Step{clean}, Parallel: 1, Always: true},
			}}
			f.calls = nil
			results, _ := x.Run(context.Background(), p)
			var removed []string
			for _, c := range f.calls {
				if strings.HasPrefix(c, "remove image ") {
					removed = append(removed, c)
				}
			}
			if !slices.Equal(removed, tt.want) {
				t.Errorf("image removals %v, want %v", removed, tt.want)
			}
			if len(results) != 1 {
				t.Errorf("results %q: a cleanup is no step result", outcome(results))
			}
		})
	}
}

// fakeProber answers every probe with err and proves every pre-flight.
type fakeProber struct {
	err    error
	probes int
}

func (p *fakeProber) Probe(context.Context, *engine.Host, plan.Container) error {
	p.probes++
	return p.err
}

func (p *fakeProber) Preflight(context.Context, map[string]*engine.Host, plan.Plan) (plan.Preflight, error) {
	return nil, nil
}

func (p *fakeProber) UsesSidecar(*engine.Host) bool { return false }

// TestGateRestarts: a container that answers every probe but restarted
// during the monitor period (its restart count rose, or it started anew)
// fails the gate.
func TestGateRestarts(t *testing.T) {
	for _, tt := range []struct {
		name    string
		restart func(*container.InspectResponse)
		want    string
	}{
		{"nothing happens", nil, ""},
		{"the restart count rises", func(c *container.InspectResponse) { c.RestartCount++ }, "restarted (restart count 1) during the --monitor period"},
		{"it started anew", func(c *container.InspectResponse) { c.State.StartedAt += "+" }, "was restarted during the --monitor period"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.health["fw:new"] = "" // no HEALTHCHECK: the gate asks the prober
			c := f.add("fw", "fw:new", true)
			x, h := fakeExecutor(f)
			pr := &fakeProber{}
			g := health.Gate{Prober: pr, Timeout: time.Second, Monitor: 20 * time.Millisecond, Interval: time.Millisecond}
			var inspections int
			f.onInspect = func(in *container.InspectResponse) {
				inspections++
				// The first two answer the wait for a healthy answer; the
				// fourth falls in the monitor period.
				if inspections == 4 && tt.restart != nil {
					tt.restart(in)
				}
			}
			role := containerOf(t, x, h, c.ID).Role
			inspections = 0
			err := g.Wait(context.Background(), h, c.ID, role)
			var ge *health.GateError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("gate failed a container that stayed up: %v", err)
			case tt.want != "" && (!errors.As(err, &ge) || !strings.Contains(ge.Reason, tt.want)):
				t.Fatalf("gate: %v, want a gate error saying %q", err, tt.want)
			}
			if pr.probes == 0 {
				t.Error("the gate never asked the prober")
			}
		})
	}
}

// TestGateUnanswered: a container that runs but never answers its probe
// fails the gate at the timeout.
func TestGateUnanswered(t *testing.T) {
	f := newFakeEngine(t)
	f.health["fw:new"] = ""
	c := f.add("fw", "fw:new", true)
	_, h := fakeExecutor(f)
	g := health.Gate{Prober: &fakeProber{err: errors.New("connection refused")}, Timeout: 10 * time.Millisecond, Interval: time.Millisecond}
	var ge *health.GateError
	if err := g.Wait(context.Background(), h, c.ID, ""); !errors.As(err, &ge) || !strings.Contains(ge.Reason, "connection refused") {
		t.Fatalf("gate: %v, want a gate error with the probe's answer", err)
	}
}

// TestUpgradePolicy: Upgrade end to end against the fake engine: it locks,
// pulls, plans with the executor's policy and runs the plan.
func TestUpgradePolicy(t *testing.T) {
	for _, tt := range []struct {
		name      string
		failStart string
		maxFail   int
		want      string
		calls     []string
	}{
		{
			name: "a stopped node is recreated and left stopped",
			want: "fw=upgraded node1=upgraded",
			calls: []string{"create fw.tarsup-new (tarscloud/framework:v3.0.16)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
				"stop fw.tarsup-old", "start fw", "remove fw.tarsup-old",
				"create node1.tarsup-new (tarscloud/tars-node:stable)", "rename node1 -> node1.tarsup-old",
				"rename node1.tarsup-new -> node1", "remove node1.tarsup-old"},
		},
		{
			name:      "a failed framework master ends the run, even with --max-failures",
			failStart: "tarscloud/framework:v3.0.16",
			maxFail:   3,
			want:      "fw=rolled back node1=skipped",
			calls: []string{"create fw.tarsup-new (tarscloud/framework:v3.0.16)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
				"stop fw.tarsup-old", "start fw",
				"rename fw -> fw.tarsup-failed", "stop fw.tarsup-failed", "rename fw.tarsup-old -> fw", "start fw", "remove fw.tarsup-failed"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.pulls = true
			f.add("fw", "tarscloud/framework:v3.0.15", true)
			f.add("node1", "tarscloud/tars-node:latest", false)
			if tt.failStart != "" {
				f.failStart[tt.failStart] = true
			}
			x, h := fakeExecutor(f)
			x.Opts.Gate.Prober = &fakeProber{}
			x.Opts.MaxFailures = tt.maxFail
			rep, _ := Upgrade(context.Background(), []*engine.Host{h}, x, UpgradeOptions{
				Request:  plan.Request{To: "v3.0.16", NodeImage: "tarscloud/tars-node:stable"},
				Parallel: 1, Keychain: authn.NewMultiKeychain(),
			})
			if got := outcome(rep.Results); got != tt.want {
				t.Errorf("results %q, want %q\nplan:\n%s", got, tt.want, rep.Plan)
			}
			var calls []string
			for _, c := range f.calls {
				if !strings.HasPrefix(c, "pull ") && !strings.Contains(c, lock.EngineLockName) {
					calls = append(calls, c)
				}
			}
			if got := strings.Join(calls, "\n"); got != strings.Join(tt.calls, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(tt.calls, "\n"))
			}
			if f.calls[0] != "create tarsup-lock (tarsup-lock:1)" || f.calls[len(f.calls)-1] != "remove tarsup-lock" {
				t.Errorf("the run is not inside the engine lock: %v", f.calls)
			}
		})
	}
}
