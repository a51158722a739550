package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

func fakeExecutor(f *fakeEngine) (*Executor, *engine.Host) {
	h := &engine.Host{Spec: engine.HostSpec{URL: "fake"}, Engine: f}
	x := NewExecutor([]*engine.Host{h}, ExecOptions{Gate: health.Gate{Prober: &health.Prober{Mode: health.ProbeDirect}, Timeout: 50 * time.Millisecond, Interval: time.Millisecond}})
	return x, h
}

func containerOf(t *testing.T, x *Executor, h *engine.Host, id string) plan.Container {
	t.Helper()
	c, err := inspectContainer(context.Background(), h, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReplaceSequence(t *testing.T) {
	tests := []struct {
		name       string
		newImage   string
		setup      func(f *fakeEngine)
		noRollback bool
		wantResult string
		want       []string
		wantNames  []string
	}{
		{
			name:       "healthy: the old container goes only after the gate",
			newImage:   "fw:new",
			wantResult: ResultUpgraded,
			want: []string{
				"create fw.tarsup-new (fw:new)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
				"stop fw.tarsup-old", "start fw", "remove fw.tarsup-old",
			},
			wantNames: []string{"fw"},
		},
		{
			name:       "unhealthy: rolled back, old container back under its name",
			newImage:   "fw:bad",
			setup:      func(f *fakeEngine) { f.health["fw:bad"] = plan.HealthUnhealthy },
			wantResult: ResultRolledBack,
			want: []string{
				"create fw.tarsup-new (fw:bad)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
				"stop fw.tarsup-old", "start fw",
				"rename fw -> fw.tarsup-failed", "stop fw.tarsup-failed", "rename fw.tarsup-old -> fw", "start fw", "remove fw.tarsup-failed",
			},
			wantNames: []string{"fw"},
		},
		{
			name:       "start fails: rolled back",
			newImage:   "fw:port",
			setup:      func(f *fakeEngine) { f.failStart["fw:port"] = true },
			wantResult: ResultRolledBack,
			want: []string{
				"create fw.tarsup-new (fw:port)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
				"stop fw.tarsup-old", "start fw",
				"rename fw -> fw.tarsup-failed", "stop fw.tarsup-failed", "rename fw.tarsup-old -> fw", "start fw", "remove fw.tarsup-failed",
			},
			wantNames: []string{"fw"},
		},
		{
			name:       "--no-rollback leaves the failed container and keeps the old one aside",
			newImage:   "fw:bad",
			setup:      func(f *fakeEngine) { f.health["fw:bad"] = plan.HealthUnhealthy },
			noRollback: true,
			wantResult: ResultLeft,
			want: []string{
				"create fw.tarsup-new (fw:bad)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
				"stop fw.tarsup-old", "start fw",
			},
			wantNames: []string{"fw", "fw.tarsup-old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			old := f.add("fw", "fw:old", true)
			x, h := fakeExecutor(f)
			x.Opts.NoRollback = tt.noRollback
			oc := containerOf(t, x, h, old.ID)
			spec := plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: tt.newImage, Role: oc.Role, APIVersion: "1.41"})
			f.calls = nil
			_, res, err := x.Replace(context.Background(), h, oc, spec, plan.PreviousSpec(oc, "1.41"))
			if res != tt.wantResult {
				t.Fatalf("result %q (err %v), want %q", res, err, tt.wantResult)
			}
			if (err == nil) != (tt.wantResult == ResultUpgraded) {
				t.Fatalf("err = %v", err)
			}
			if got := strings.Join(f.calls, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			var names []string
			for _, c := range f.containers {
				names = append(names, strings.TrimPrefix(c.Name, "/"))
			}
			if strings.Join(slices.Sorted(slices.Values(names)), " ") != strings.Join(tt.wantNames, " ") {
				t.Errorf("containers left: %v, want %v", names, tt.wantNames)
			}
		})
	}
}

// TestRecoverStates lays out each state a kill can leave a swap in and checks
// that Recover ends with one healthy container under the name.
func TestRecoverStates(t *testing.T) {
	tests := []struct {
		name  string
		names [2]string // old, new; "" = removed
		upNew bool
		want  []string
		upOld bool // the old container still runs (a swap stops it only after the renames)
	}{
		{"killed after create", [2]string{"fw", "fw.tarsup-new"}, false,
			[]string{"stop fw.tarsup-new", "remove fw.tarsup-new", "start fw"}, false},
		{"killed after renaming the old aside", [2]string{"fw.tarsup-old", "fw.tarsup-new"}, false,
			[]string{"stop fw.tarsup-new", "rename fw.tarsup-old -> fw", "remove fw.tarsup-new", "start fw"}, false},
		{"killed after the new got the name", [2]string{"fw.tarsup-old", "fw"}, false,
			[]string{"stop fw.tarsup-old", "start fw", "remove fw.tarsup-old"}, false},
		{"killed during the gate", [2]string{"fw.tarsup-old", "fw"}, true,
			[]string{"stop fw.tarsup-old", "remove fw.tarsup-old"}, false},
		{"killed during a rollback", [2]string{"fw.tarsup-old", "fw.tarsup-failed"}, false,
			[]string{"stop fw.tarsup-failed", "rename fw.tarsup-old -> fw", "remove fw.tarsup-failed", "start fw"}, false},
		{"killed after renaming the old aside while it ran", [2]string{"fw.tarsup-old", "fw.tarsup-new"}, false,
			[]string{"stop fw.tarsup-new", "rename fw.tarsup-old -> fw", "remove fw.tarsup-new"}, true},
		{"killed after the new got the name, before the old one stopped", [2]string{"fw.tarsup-old", "fw"}, false,
			[]string{"stop fw.tarsup-old", "start fw", "remove fw.tarsup-old"}, true},
		// The old one was itself made by an earlier upgrade: its labels say so.
		{"an old one aside whose successor is gone", [2]string{"fw.tarsup-old", ""}, false,
			[]string{"rename fw.tarsup-old -> fw", "start fw"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			old := f.add(tt.names[0], "fw:old", tt.upOld)
			if tt.names[1] == "" {
				old.Config.Labels = map[string]string{plan.LabelTxn: "t0", plan.LabelTxnName: "fw", plan.LabelTxnOld: "gone", plan.LabelTxnOldRunning: "true"}
			} else {
				n := f.add(tt.names[1], "fw:new", tt.upNew)
				n.Config.Labels = map[string]string{plan.LabelTxn: "t1", plan.LabelTxnName: "fw", plan.LabelTxnOld: old.ID, plan.LabelTxnOldRunning: "true"}
			}
			x, h := fakeExecutor(f)
			f.calls = nil
			if _, err := x.Recover(context.Background(), h); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.calls, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			if len(f.containers) != 1 {
				t.Fatalf("%d containers left", len(f.containers))
			}
			for _, c := range f.containers {
				if c.Name != "/fw" || !c.State.Running {
					t.Errorf("left %s running=%v", c.Name, c.State.Running)
				}
			}
		})
	}
}

// sessionProber is a prober with sessions whose steps are recorded among
// the engine's calls.
type sessionProber struct {
	fakeProber
	f *fakeEngine
}

func (p *sessionProber) Session(_ context.Context, _ *engine.Host, c plan.Container, announce bool) (health.ProbeSession, error) {
	p.f.record("prepare probe of %s (announce %v)", c.Name, announce)
	return &recordedSession{p: p}, nil
}

type recordedSession struct{ p *sessionProber }

func (s *recordedSession) Start(context.Context) error {
	s.p.f.record("start probe")
	return nil
}

func (s *recordedSession) Probe(ctx context.Context, c plan.Container) error {
	return s.p.Probe(ctx, nil, c)
}

func (s *recordedSession) Close() { s.p.f.record("close probe") }

// TestSwapPreparesProbe: everything but the stop and the start happens
// while the old container still runs: the new container created, the
// gate's probe prepared, both renames; between "stop" and "start" there is
// no other engine call; the probe starts once the new container runs.
func TestSwapPreparesProbe(t *testing.T) {
	f := newFakeEngine(t)
	old := f.add("fw", "fw:old", true)
	x, h := fakeExecutor(f)
	x.Opts.Gate.Prober = &sessionProber{f: f}
	oc := containerOf(t, x, h, old.ID)
	spec := plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:new", Role: oc.Role, APIVersion: "1.41"})
	f.calls = nil
	if _, res, err := x.Replace(context.Background(), h, oc, spec, plan.PreviousSpec(oc, "1.41")); res != ResultUpgraded {
		t.Fatalf("result %q: %v", res, err)
	}
	want := []string{"create fw.tarsup-new (fw:new)", "prepare probe of fw.tarsup-new (announce false)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw",
		"stop fw.tarsup-old", "start fw", "start probe", "close probe", "remove fw.tarsup-old"}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestRollbackAnnounces: a rollback that starts the stopped old container
// again prepares its probe before that start, announcing as the step's
// gate did (Step.Announce); without Announce it is gated as before, its
// probe prepared once it runs.
func TestRollbackAnnounces(t *testing.T) {
	for _, announce := range []bool{false, true} {
		f := newFakeEngine(t)
		old := f.add("fw", "fw:old", true)
		f.failStart["fw:new"] = true
		x, h, st := announcingStep(t, f, old.ID, announce)
		if _, res, err := x.replace(context.Background(), h, st, &hookRun{}); res != ResultRolledBack {
			t.Fatalf("announce %v: result %q, want %q: %v", announce, res, ResultRolledBack, err)
		}
		prepare := slices.Index(f.calls, fmt.Sprintf("prepare probe of fw (announce %v)", announce))
		restart := -1 // the last start of "fw": the old container's, back under its name
		for i, c := range f.calls {
			if c == "start fw" {
				restart = i
			}
		}
		switch {
		case prepare < 0:
			t.Errorf("announce %v: the old container's probe was not prepared; calls:\n%s", announce, strings.Join(f.calls, "\n"))
		case announce && prepare > restart:
			t.Errorf("announce %v: probe prepared after the old container's start; calls:\n%s", announce, strings.Join(f.calls, "\n"))
		case !announce && prepare < restart:
			t.Errorf("announce %v: probe prepared before the old container's start; calls:\n%s", announce, strings.Join(f.calls, "\n"))
		}
	}
}

// announcingStep is an executor on f whose gate prepares recorded probe
// sessions, and the recreate step of container old to fw:new, as the plan
// writes it, with Step.Announce as announce; f's calls are cleared.
func announcingStep(t *testing.T, f *fakeEngine, old string, announce bool) (*Executor, *engine.Host, plan.Step) {
	t.Helper()
	x, h := fakeExecutor(f)
	x.Opts.Gate.Prober = &sessionProber{f: f}
	oc := containerOf(t, x, h, old)
	st := plan.Step{Host: h.Name(), Container: oc, Spec: plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:new", Role: oc.Role, APIVersion: "1.41"}),
		Previous: plan.PreviousSpec(oc, "1.41")}
	x.Opts.Policy(1).RecreatePolicy(&st)
	st.Announce = announce
	f.calls = nil
	return x, h, st
}

// TestStepAnnounceReachesTheGate: the plan's Step.Announce is what the
// gate's session is asked for.
func TestStepAnnounceReachesTheGate(t *testing.T) {
	for _, announce := range []bool{false, true} {
		f := newFakeEngine(t)
		old := f.add("fw", "fw:old", true)
		x, h, st := announcingStep(t, f, old.ID, announce)
		if _, res, err := x.replace(context.Background(), h, st, &hookRun{}); res != ResultUpgraded {
			t.Fatalf("result %q: %v", res, err)
		}
		want := fmt.Sprintf("prepare probe of fw.tarsup-new (announce %v)", announce)
		if !slices.Contains(f.calls, want) {
			t.Errorf("calls %q, want %q among them", f.calls, want)
		}
	}
}
