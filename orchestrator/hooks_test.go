package orchestrator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// The executor's paths through a step's hooks, against the fake engine:
// hooks on this machine are real `sh -c` commands that append
// "HOOK RESULT" to a file; hooks in a container are the fake's execs.

// hooked is a node step from latest to to, with the hooks hp and the
// node's labels gives it, as BuildPlan plans them; record is the file the
// host hooks append to.
func hooked(t *testing.T, f *fakeEngine, to string, hp plan.HookPolicy, labels map[string]string, running bool) (*Executor, plan.Step, string) {
	t.Helper()
	record := filepath.Join(t.TempDir(), "hooks")
	for _, l := range []*[]string{&hp.PreUpgrade, &hp.PostUpgrade, &hp.OnRollback} {
		for i, c := range *l {
			(*l)[i] = `echo "$TARSUP_HOOK $TARSUP_RESULT $TARSUP_CONTAINER" >> '` + record + "'; " + c
		}
	}
	c := f.add("n1", "tarscloud/tars-node:latest", running)
	for k, v := range labels {
		c.Config.Labels[k] = v
	}
	x, h := fakeExecutor(f)
	st := recreateOf(t, x, h, c.ID, to)
	if err := hp.Apply(&st); err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	return x, st, record
}

func recorded(t *testing.T, record string) string {
	t.Helper()
	data, err := os.ReadFile(record)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func runOne(x *Executor, st plan.Step) (StepResult, error) {
	results, err := x.Run(context.Background(), plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: []plan.Step{st}, Parallel: 1}}})
	return results[0], err
}

func TestHookPaths(t *testing.T) {
	drain := map[string]string{plan.LabelHookPreStop: `["/drain"]`, plan.LabelHookPostStart: `["/undrain","now"]`}
	for _, tt := range []struct {
		name    string
		hp      plan.HookPolicy
		labels  map[string]string
		execs   map[string]fakeExec
		to      string // the node's new image (":bad" never gets healthy)
		stopped bool
		result  string
		calls   string
		hooks   string // what the host hooks recorded
		errHas  []string
		warns   int
	}{{
		name: "pre-upgrade fails: skipped, nothing touched, the hook and its last lines named",
		hp:   plan.HookPolicy{PreUpgrade: []string{"echo backing up; echo disk full >&2; exit 3"}, PostUpgrade: []string{"true"}, OnRollback: []string{"true"}},
		to:   "tarscloud/tars-node:stable", result: ResultHookSkipped, calls: "",
		hooks:  "pre-upgrade  n1",
		errHas: []string{"n1 on fake: the step was skipped, the container was not changed: pre-upgrade hook --pre-upgrade", "exit status 3", "\n  | backing up\n  | disk full"},
	}, {
		name:   "pre-stop fails: the new container goes, the old one is untouched",
		labels: drain, execs: map[string]fakeExec{"/drain": {out: "busy\n", code: 1}},
		hp: plan.HookPolicy{PostUpgrade: []string{"true"}},
		to: "tarscloud/tars-node:stable", result: ResultHookSkipped,
		calls:  "create n1.tarsup-new (tarscloud/tars-node:stable)\nexec /drain in n1\nremove n1.tarsup-new",
		errHas: []string{"pre-stop hook label tarsup.hook.pre-stop", "exit status 1", "  | busy"},
	}, {
		name:   "all pass: pre-stop in the old container, post-start in the new one, then post-upgrade ok",
		labels: drain, execs: map[string]fakeExec{"/drain": {}, "/undrain": {}},
		hp: plan.HookPolicy{PreUpgrade: []string{"true"}, PostUpgrade: []string{"true"}, OnRollback: []string{"true"}},
		to: "tarscloud/tars-node:stable", result: ResultUpgraded,
		calls: "create n1.tarsup-new (tarscloud/tars-node:stable)\nexec /drain in n1\nrename n1 -> n1.tarsup-old\nrename n1.tarsup-new -> n1\nstop n1.tarsup-old\nstart n1\n" +
			"exec /undrain now in n1\nremove n1.tarsup-old",
		hooks: "pre-upgrade  n1\npost-upgrade ok n1",
	}, {
		name: "post-upgrade fails: rolled back, then on-rollback",
		hp:   plan.HookPolicy{PostUpgrade: []string{"echo smoke test failed; exit 1"}, OnRollback: []string{"true"}},
		to:   "tarscloud/tars-node:stable", result: ResultRolledBack,
		calls: "create n1.tarsup-new (tarscloud/tars-node:stable)\nrename n1 -> n1.tarsup-old\nrename n1.tarsup-new -> n1\nstop n1.tarsup-old\nstart n1\n" +
			"rename n1 -> n1.tarsup-failed\nstop n1.tarsup-failed\nrename n1.tarsup-old -> n1\nstart n1\nremove n1.tarsup-failed",
		hooks:  "post-upgrade ok n1\non-rollback rolled-back n1",
		errHas: []string{"post-upgrade hook --post-upgrade", "  | smoke test failed"},
	}, {
		name:   "post-start fails: rolled back",
		labels: drain, execs: map[string]fakeExec{"/drain": {}, "/undrain": {code: 2}},
		hp: plan.HookPolicy{PostUpgrade: []string{"true"}},
		to: "tarscloud/tars-node:stable", result: ResultRolledBack,
		calls: "create n1.tarsup-new (tarscloud/tars-node:stable)\nexec /drain in n1\nrename n1 -> n1.tarsup-old\nrename n1.tarsup-new -> n1\nstop n1.tarsup-old\nstart n1\n" +
			"exec /undrain now in n1\nrename n1 -> n1.tarsup-failed\nstop n1.tarsup-failed\nrename n1.tarsup-old -> n1\nstart n1\nremove n1.tarsup-failed",
		errHas: []string{"post-start hook label tarsup.hook.post-start", "exit status 2"},
	}, {
		name:   "post hooks fail with --post-hook-failure warn: the new container stays",
		labels: drain, execs: map[string]fakeExec{"/drain": {}, "/undrain": {code: 2}},
		hp: plan.HookPolicy{PostUpgrade: []string{"exit 1"}, OnRollback: []string{"true"}, PostFailure: plan.PostHookWarn},
		to: "tarscloud/tars-node:stable", result: ResultUpgraded,
		calls: "create n1.tarsup-new (tarscloud/tars-node:stable)\nexec /drain in n1\nrename n1 -> n1.tarsup-old\nrename n1.tarsup-new -> n1\nstop n1.tarsup-old\nstart n1\n" +
			"exec /undrain now in n1\nremove n1.tarsup-old",
		hooks: "post-upgrade ok n1",
		warns: 2,
	}, {
		name: "the gate fails: post-upgrade and on-rollback are told rolled-back; their failure is added",
		hp:   plan.HookPolicy{PostUpgrade: []string{"true"}, OnRollback: []string{"echo paging failed; exit 4"}},
		to:   "tarscloud/tars-node:bad", result: ResultRolledBack,
		calls: "create n1.tarsup-new (tarscloud/tars-node:bad)\nrename n1 -> n1.tarsup-old\nrename n1.tarsup-new -> n1\nstop n1.tarsup-old\nstart n1\n" +
			"rename n1 -> n1.tarsup-failed\nstop n1.tarsup-failed\nrename n1.tarsup-old -> n1\nstart n1\nremove n1.tarsup-failed",
		hooks:  "post-upgrade rolled-back n1\non-rollback rolled-back n1",
		errHas: []string{"health gate", "and then: on-rollback hook --on-rollback", "  | paging failed"},
	}, {
		name:   "a stopped container: no label hook (it is neither stopped nor started), host hooks run",
		labels: drain, stopped: true,
		hp: plan.HookPolicy{PreUpgrade: []string{"true"}, PostUpgrade: []string{"true"}},
		to: "tarscloud/tars-node:stable", result: ResultUpgraded,
		calls: "create n1.tarsup-new (tarscloud/tars-node:stable)\nrename n1 -> n1.tarsup-old\nrename n1.tarsup-new -> n1\nremove n1.tarsup-old",
		hooks: "pre-upgrade  n1\npost-upgrade ok n1",
	}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.execs = tt.execs
			f.health["tarscloud/tars-node:bad"] = plan.HealthUnhealthy
			x, st, record := hooked(t, f, tt.to, tt.hp, tt.labels, !tt.stopped)
			old := st.Container.ID
			r, err := runOne(x, st)
			if r.Result != tt.result {
				t.Fatalf("result %q (err %v), want %q", r.Result, err, tt.result)
			}
			if got := strings.Join(f.calls, "\n"); got != tt.calls {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tt.calls)
			}
			if got := recorded(t, record); got != tt.hooks {
				t.Errorf("host hooks ran:\n%s\nwant:\n%s", got, tt.hooks)
			}
			if (err != nil) != (len(tt.errHas) > 0) {
				t.Fatalf("err %v, want one containing %q", err, tt.errHas)
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err lacks %q:\n%v", want, err)
				}
			}
			if err != nil && fault.ExitCode(err) != fault.ExitFailed {
				t.Errorf("exit %d, want 1", fault.ExitCode(err))
			}
			if len(r.Warnings) != tt.warns {
				t.Errorf("warnings %q, want %d", r.Warnings, tt.warns)
			}
			if tt.result == ResultHookSkipped {
				if c := f.containers[old]; c == nil || c.Name != "/n1" || !c.State.Running || len(f.containers) != 1 {
					t.Errorf("the old container changed: %+v (containers %d)", c, len(f.containers))
				}
			}
		})
	}
}

// TestHookExecEnv: a hook exec'd in a container gets the step in its
// TARSUP_* variables: pre-stop in the old container before any result,
// post-start in the new one with result ok and its ID.
func TestHookExecEnv(t *testing.T) {
	f := newFakeEngine(t)
	f.execs = map[string]fakeExec{"/drain": {}, "/undrain": {}}
	x, st, _ := hooked(t, f, "tarscloud/tars-node:stable", plan.HookPolicy{},
		map[string]string{plan.LabelHookPreStop: `["/drain"]`, plan.LabelHookPostStart: `["/undrain"]`}, true)
	r, err := runOne(x, st)
	if err != nil || r.Result != ResultUpgraded {
		t.Fatalf("%s: %v", r.Result, err)
	}
	if len(f.execRuns) != 2 {
		t.Fatalf("execs %+v, want 2", f.execRuns)
	}
	pre, post := f.execRuns[0], f.execRuns[1]
	env := func(e execRun) string { return strings.Join(e.env, " ") }
	if pre.image != "tarscloud/tars-node:latest" || !strings.Contains(env(pre), "TARSUP_HOOK=pre-stop") || !slices.Contains(pre.env, "TARSUP_RESULT=") ||
		!strings.Contains(env(pre), "TARSUP_CONTAINER_ID="+st.Container.ID) {
		t.Errorf("pre-stop ran in %s with %s", pre.image, env(pre))
	}
	if post.image != "tarscloud/tars-node:stable" || !strings.Contains(env(post), "TARSUP_HOOK=post-start") || !strings.Contains(env(post), "TARSUP_RESULT=ok") ||
		!strings.Contains(env(post), "TARSUP_NEW_ID="+r.NewID) || !strings.Contains(env(post), "TARSUP_TO=tarscloud/tars-node:stable") {
		t.Errorf("post-start ran in %s with %s", post.image, env(post))
	}
}

// TestHookSignalDuringPreHook: a signal while a pre hook runs does not
// cut the hook short, and the step, which changed nothing yet, does not
// start: it is reported as not run.
func TestHookSignalDuringPreHook(t *testing.T) {
	f := newFakeEngine(t)
	x, st, record := hooked(t, f, "tarscloud/tars-node:stable", plan.HookPolicy{PreUpgrade: []string{"sleep 0.3; echo finished"}}, nil, true)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	results, err := x.Run(ctx, plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: []plan.Step{st}, Parallel: 1}}})
	if !errors.Is(err, fault.Interrupted) || results[0].Result != ResultSkipped || !results[0].Interrupted {
		t.Fatalf("result %q interrupted %v, err %v; want the step not run", results[0].Result, results[0].Interrupted, err)
	}
	if len(f.calls) > 0 {
		t.Errorf("the engine was called: %q", f.calls)
	}
	if got := recorded(t, record); got != "pre-upgrade  n1" {
		t.Errorf("hooks ran: %q", got)
	}
}
