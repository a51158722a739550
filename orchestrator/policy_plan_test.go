package orchestrator

import (
	"reflect"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestPlanPolicy: the dry run states every decision of the run: each
// phase's policy, the stop timeouts, a stopped container left stopped, and
// which old images go once which upgrades succeeded (an image some other
// container uses stays).
func TestPlanPolicy(t *testing.T) {
	s := state("h1",
		fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true},
		fx{name: "fw2", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true, env: []string{"SLAVE=true"}},
		fx{name: "n1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", running: true},
		fx{name: "n2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1"},
	)
	own := 7
	for i := range s.Containers {
		c := &s.Containers[i]
		if c.Name == "n1" {
			c.Inspect.Config.StopTimeout = &own
		}
		if c.Name == "fw" || c.Name == "fw2" {
			c.ImageInfo.RepoTags = []string{"tarscloud/framework:v3.0.15"}
		}
	}
	id := func(name string) string { return "c0ffee" + name + "00000000000000" }
	s.ImageUsers = map[string][]string{
		"sha256:f1": {id("fw"), id("fw2")},
		"sha256:n1": {id("n1"), id("n2"), "someone-elses"},
	}
	cands, err := plan.Select([]plan.HostState{s}, plan.Request{To: "v3.0.16", NodeImage: "tarscloud/tars-node:stable"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.BuildPlan(cands, map[string]plan.Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:stable":  pulled("sha256:n2", "tarscloud/tars-node:stable", nodeNew, ""),
	}, []plan.HostState{s}, plan.Policy{Parallel: 2, MaxFailures: 1, StopTimeout: 10 * time.Second, Cleanup: true, NoRollback: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `# framework master: 1 at a time; a failure ends the run; stop timeout 10s; a failed container is left for inspection (--no-rollback)
fw: recreate v3.0.15 -> v3.0.16 (sha256:f1 -> sha256:bbbb…): --to v3.0.16
# framework hosts: 1 at a time; a failure ends the run; stop timeout 10s; a failed container is left for inspection (--no-rollback)
fw2: recreate v3.0.15 -> v3.0.16 (sha256:f1 -> sha256:bbbb…): --to v3.0.16
# nodes: 2 at a time; no new step once more than 1 failed; stop timeout 7s, 10s; a failed container is left for inspection (--no-rollback)
n1: recreate latest -> stable (sha256:n1 -> sha256:dddd…): --node-image tarscloud/tars-node:stable
n2: recreate latest -> stable (sha256:n1 -> sha256:dddd…): --node-image tarscloud/tars-node:stable
n2: left stopped (not started, not gated): it was stopped
# cleanup: 1 at a time; runs even after a failure ended the run
sha256:f1: cleanup image (tarscloud/framework:v3.0.15) once fw, fw2 upgraded: no other container uses it
`
	if got := p.String(); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	for _, ph := range p.Phases {
		for _, st := range ph.Steps {
			if st.Recreates() && (!st.NoRollback || st.GateRole != st.Container.Role) {
				t.Errorf("%s: no-rollback %v, gate role %q", st.Container.Name, st.NoRollback, st.GateRole)
			}
		}
	}
}

// TestExecOptionsPolicy: the operator's flags reach the planner whole.
func TestExecOptionsPolicy(t *testing.T) {
	hooks := plan.HookPolicy{PreUpgrade: []string{"backup"}, PostUpgrade: []string{"check"}, OnRollback: []string{"page"}, Timeout: time.Second, PostFailure: plan.PostHookWarn}
	got := ExecOptions{StopTimeout: 5 * time.Second, NoRollback: true, Cleanup: true, MaxFailures: 3, Hooks: hooks}.Policy(4)
	if want := (plan.Policy{Parallel: 4, MaxFailures: 3, StopTimeout: 5 * time.Second, NoRollback: true, Cleanup: true, Hooks: hooks}); !reflect.DeepEqual(got, want) {
		t.Errorf("policy %+v, want %+v", got, want)
	}
}
