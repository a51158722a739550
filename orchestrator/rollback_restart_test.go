package orchestrator

import (
	"context"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestRollbackOfRestartingContainer: a new container in a restart loop
// cannot be renamed (the engine says "sandbox not found"), so the rollback
// stops it first and then moves it aside; the old container is back.
func TestRollbackOfRestartingContainer(t *testing.T) {
	f := newFakeEngine(t)
	f.health["fw:bad"] = plan.HealthUnhealthy
	f.restarting = map[string]bool{"fw:bad": true}
	old := f.add("fw", "fw:old", true)
	x, h := fakeExecutor(f)
	oc := containerOf(t, x, h, old.ID)
	st := plan.Step{Host: "fake", Container: oc, From: "fw:old", To: "fw:bad",
		Spec: plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:bad", Role: oc.Role, APIVersion: "1.41"}), Previous: plan.PreviousSpec(oc, "1.41")}
	x.Opts.Policy(1).RecreatePolicy(&st)
	f.calls = nil
	r := x.do(context.Background(), st, nil)
	if r.Result != ResultRolledBack {
		t.Fatalf("result %q, err %v; want rolled back", r.Result, r.Err)
	}
	want := []string{"create fw.tarsup-new (fw:bad)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw", "stop fw.tarsup-old", "start fw",
		"stop fw", "rename fw -> fw.tarsup-failed", "rename fw.tarsup-old -> fw", "start fw", "remove fw.tarsup-failed"}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	back, err := f.find("fw")
	if err != nil || back.ID != old.ID || !back.State.Running {
		t.Errorf("the old container is not back under its name, running: %+v %v", back, err)
	}
}

// TestUpgradeOfRestartingOld: an old container in a restart loop cannot be
// renamed aside as it "runs" (the engine refuses while it restarts), so
// the swap stops it first and renames it stopped; the upgrade goes
// through, with no second stop.
func TestUpgradeOfRestartingOld(t *testing.T) {
	f := newFakeEngine(t)
	f.restarting = map[string]bool{"fw:old": true}
	old := f.add("fw", "fw:old", true)
	x, h := fakeExecutor(f)
	oc := containerOf(t, x, h, old.ID)
	st := plan.Step{Host: "fake", Container: oc, From: "fw:old", To: "fw:new",
		Spec: plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:new", Role: oc.Role, APIVersion: "1.41"}), Previous: plan.PreviousSpec(oc, "1.41")}
	x.Opts.Policy(1).RecreatePolicy(&st)
	f.calls = nil
	r := x.do(context.Background(), st, nil)
	if r.Result != ResultUpgraded {
		t.Fatalf("result %q, err %v; want upgraded", r.Result, r.Err)
	}
	want := []string{"create fw.tarsup-new (fw:new)", "stop fw", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw", "start fw", "remove fw.tarsup-old"}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
