package orchestrator

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestRecoverLeavesUserContainersAlone: a container of the user's under a
// temporary name carries no journal; recover neither renames, starts,
// stops nor removes it (the fake records every changing call).
func TestRecoverLeavesUserContainersAlone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeEngine)
	}{
		{"X.tarsup-old and no X", func(f *fakeEngine) { f.add("app.tarsup-old", "busybox:latest", false) }},
		{"X.tarsup-old beside a running X", func(f *fakeEngine) {
			f.add("app", "tarscloud/framework:v3.0.15", true)
			f.add("app.tarsup-old", "tarscloud/framework:v3.0.15", false)
		}},
		{"X.tarsup-new and X.tarsup-failed", func(f *fakeEngine) {
			f.add("app.tarsup-new", "busybox:latest", true)
			f.add("app.tarsup-failed", "busybox:latest", false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			tc.setup(f)
			x, h := fakeExecutor(f)
			needs, err := NeedsRecovery(context.Background(), h)
			if err != nil || needs {
				t.Errorf("NeedsRecovery = %v, %v; want false: nothing there is tarsup's", needs, err)
			}
			rec, err := x.Recover(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.calls) > 0 || len(rec) > 0 {
				t.Errorf("recover touched the user's containers: calls %v, recoveries %+v", f.calls, rec)
			}
		})
	}
}

// TestRecoverLeavesLiveOwnersAlone: a swap journaled by a tarsup that still
// runs (here: the test's parent process) is not finished or undone.
func TestRecoverLeavesLiveOwnersAlone(t *testing.T) {
	f := newFakeEngine(t)
	old := f.add("fw.tarsup-old", "fw:old", false)
	n := f.add("fw.tarsup-new", "fw:new", false)
	live := owner.Owner{Machine: owner.ThisProcess().Machine, PID: os.Getppid(), Start: owner.ProcStart(os.Getppid())}
	n.Config.Labels = map[string]string{plan.LabelTxn: "t1", plan.LabelTxnName: "fw", plan.LabelTxnOld: old.ID, plan.LabelTxnOldRunning: "true",
		plan.LabelTxnOwner: live.String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}
	x, h := fakeExecutor(f)
	rec, err := x.Recover(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) > 0 || len(rec) != 1 || !strings.Contains(rec[0].Result, "still running") {
		t.Errorf("calls %v, recoveries %+v", f.calls, rec)
	}
}

// TestLockNeverTakesAForeignLock: a container named tarsup-lock without
// tarsup's lock label is never removed nor taken over: exit 3 naming it.
func TestLockNeverTakesAForeignLock(t *testing.T) {
	for _, force := range []bool{false, true} {
		f := newFakeEngine(t)
		user := f.add(lock.EngineLockName, "nginx:latest", true)
		x, h := fakeExecutor(f)
		x.Force = force
		_, err := x.LockAll(context.Background(), []*engine.Host{h}, 0)
		if !errors.Is(err, fault.Refused) || !strings.Contains(err.Error(), lock.EngineLockName) || !strings.Contains(err.Error(), "did not create") {
			t.Fatalf("force=%v: err %v, want a refusal naming %s", force, err, lock.EngineLockName)
		}
		if f.containers[user.ID] == nil || len(f.calls) > 0 {
			t.Errorf("force=%v: the user's tarsup-lock was touched: %v", force, f.calls)
		}
	}
}

// TestUnlockRemovesOnlyItsOwnLock: releasing removes the lock container this
// run created, never whatever holds the name by then.
func TestUnlockRemovesOnlyItsOwnLock(t *testing.T) {
	f := newFakeEngine(t)
	x, h := fakeExecutor(f)
	unlock, err := x.LockAll(context.Background(), []*engine.Host{h}, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := f.find(lock.EngineLockName)
	delete(f.containers, mine.ID) // taken over by `recover --force` elsewhere
	other := f.add(lock.EngineLockName, lock.LockImage, false)
	other.Config.Labels = map[string]string{lock.LabelLock: "1"}
	unlock()
	if f.containers[other.ID] == nil {
		t.Error("unlock removed another tarsup's lock")
	}
}

// raceEngine plays another tarsup that takes over the same stale lock at
// the same moment: the engine answers the removal with a conflict.
type raceEngine struct {
	*fakeEngine
	// relock, when set, is the live lock the other tarsup creates.
	relock func()
}

func (r *raceEngine) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	if c, err := r.find(id); err == nil && c.Config.Labels[lock.LabelLock] != "" && c.Config.Labels[plan.LabelTxnOwner] == deadOwner.String() {
		delete(r.containers, c.ID)
		if r.relock != nil {
			r.relock()
		}
		return errdefs.ErrConflict.WithMessage("removal of container " + id + " is already in progress")
	}
	return r.fakeEngine.ContainerRemove(ctx, id, o)
}

var deadOwner = owner.Owner{Machine: "gone-machine", PID: 4242, Start: "1"}

func staleLock(f *fakeEngine) {
	c := f.add(lock.EngineLockName, lock.LockImage, false)
	c.Config.Labels = map[string]string{lock.LabelLock: "1", plan.LabelTxnOwner: deadOwner.String(),
		plan.LabelTxnStarted: time.Now().Add(-2 * owner.StaleAfter).UTC().Format(time.RFC3339)}
}

// TestLockTakeoverRace: a takeover that loses the race is contention, never
// a failure: with --lock-wait it waits and then takes the lock; without,
// or while the winner holds it, exit 3 (fault.Busy).
func TestLockTakeoverRace(t *testing.T) {
	live := owner.Owner{Machine: owner.ThisProcess().Machine, PID: os.Getppid(), Start: owner.ProcStart(os.Getppid())}
	tests := []struct {
		name    string
		wait    time.Duration
		winner  bool // the other tarsup then holds a live lock
		wantErr bool
	}{
		{"no wait: exit 3", 0, false, true},
		{"wait: the lock is ours once the other is done", 5 * time.Second, false, false},
		{"wait while the winner holds it: exit 3", 1500 * time.Millisecond, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			staleLock(f)
			r := &raceEngine{fakeEngine: f}
			if tt.winner {
				r.relock = func() {
					c := f.add(lock.EngineLockName, lock.LockImage, false)
					c.Config.Labels = map[string]string{lock.LabelLock: "1", plan.LabelTxnOwner: live.String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}
				}
			}
			h := &engine.Host{Spec: engine.HostSpec{URL: "fake"}, Engine: r}
			x := NewExecutor([]*engine.Host{h}, ExecOptions{})
			unlock, err := x.LockAll(context.Background(), []*engine.Host{h}, tt.wait)
			if tt.wantErr {
				if !errors.Is(err, fault.Busy) || fault.ExitCode(err) != fault.ExitRefused {
					t.Fatalf("err %v, want exit 3 (fault.Busy)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err %v, want the lock", err)
			}
			unlock()
		})
	}
}

// TestPreflightNameClash: a container that is not tarsup's under a name a
// step needs refuses the plan (exit 3) before any engine call changes
// anything; one of tarsup's own unfinished swaps says to recover.
func TestPreflightNameClash(t *testing.T) {
	for _, tc := range []struct {
		name, holder, want string
		journal            bool
	}{
		{"user's X.tarsup-old", "tars-framework.tarsup-old", "tarsup did not create it", false},
		{"user's X.tarsup-new", "tars-framework.tarsup-new", "rename it", false},
		{"user's X.tarsup-failed", "tars-framework.tarsup-failed", "tars-framework.tarsup-failed", false},
		{"tarsup's own leftover", "tars-framework.tarsup-failed", "tarsup recover", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.add("tars-framework", "tarscloud/framework:v3.0.15", true)
			u := f.add(tc.holder, "busybox:latest", false)
			if tc.journal {
				u.Config.Labels = map[string]string{plan.LabelTxn: "t9", plan.LabelTxnName: "tars-framework", plan.LabelTxnOld: "gone"}
			}
			_, h := fakeExecutor(f)
			states, err := ObserveAll(context.Background(), []*engine.Host{h})
			if err != nil {
				t.Fatal(err)
			}
			cands, err := plan.Select(states, plan.Request{To: "v3.0.16"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = plan.BuildPlan(cands, map[string]plan.Resolved{
				"fake tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
			}, states, plan.Policy{Parallel: 1}, nil)
			if !errors.Is(err, fault.Refused) || !strings.Contains(err.Error(), tc.holder) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a refusal naming %s (%q)", err, tc.holder, tc.want)
			}
			if len(f.calls) > 0 {
				t.Errorf("engine calls during pre-flight: %v", f.calls)
			}
		})
	}
}

// cancelOnStart cancels the run's context when a container named name
// starts: a SIGTERM that arrives during that step.
type cancelOnStart struct {
	*fakeEngine
	name   string
	cancel context.CancelFunc
}

func (c *cancelOnStart) ContainerStart(ctx context.Context, id string, o container.StartOptions) error {
	if c.name == c.fakeEngine.name(id) {
		c.cancel()
	}
	return c.fakeEngine.ContainerStart(ctx, id, o)
}

// TestRunInterrupted: SIGTERM during the master's step lets that step
// finish, runs nothing after it, and the run is an error that says first
// that the framework hosts are now on different versions, then names the
// steps that did not run.
func TestRunInterrupted(t *testing.T) {
	f := newFakeEngine(t)
	m := f.add("fw", "tarscloud/framework:v3.0.15", true)
	s := f.add("fw2", "tarscloud/framework:v3.0.15", true)
	s.Config.Env = []string{"SLAVE=true"}
	n := f.add("node1", "tarscloud/tars-node:latest", true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := &cancelOnStart{fakeEngine: f, name: "fw", cancel: cancel}
	h := &engine.Host{Spec: engine.HostSpec{URL: "fake"}, Engine: e}
	x := NewExecutor([]*engine.Host{h}, ExecOptions{Gate: health.Gate{Prober: &health.Prober{Mode: health.ProbeDirect}, Timeout: 50 * time.Millisecond, Interval: time.Millisecond}})
	step := func(id, to string) plan.Step {
		c := containerOf(t, x, h, id)
		st := plan.Step{Host: "fake", Container: c, From: c.Image, To: to, Cause: "--to v3.0.16",
			Spec: plan.Derive(plan.DeriveInput{Old: c.Inspect, NewRef: to, Role: c.Role, APIVersion: "1.41"}), Previous: plan.PreviousSpec(c, "1.41")}
		x.Opts.Policy(1).RecreatePolicy(&st)
		return st
	}
	p := plan.Plan{Phases: []plan.Phase{
		{Name: "framework master", StopOnFailure: true, Steps: []plan.Step{step(m.ID, "tarscloud/framework:v3.0.16")}, Parallel: 1},
		{Name: "framework hosts", StopOnFailure: true, Steps: []plan.Step{step(s.ID, "tarscloud/framework:v3.0.16")}, Parallel: 1},
		{Name: "nodes", StopOnFailure: true, Steps: []plan.Step{step(n.ID, "tarscloud/tars-node:stable")}, Parallel: 1},
	}}
	f.calls = nil
	results, err := x.Run(ctx, p)
	if !errors.Is(err, fault.Interrupted) {
		t.Fatalf("err %v, want fault.Interrupted (exit 1)", err)
	}
	msg := err.Error()
	split := "framework hosts are on different versions now: fw v3.0.16, fw2 v3.0.15: run tarsup upgrade --to v3.0.16 again to finish"
	if !strings.HasPrefix(msg, split+"\n") {
		t.Errorf("error does not start with the version split:\n%s", msg)
	}
	if !strings.Contains(msg, "2 step(s) did not run: fw2 (recreate v3.0.15 -> v3.0.16), node1 (recreate latest -> stable)") {
		t.Errorf("error does not name the steps not run:\n%s", msg)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.Step.Container.Name+"="+r.Result+map[bool]string{true: "/interrupted"}[r.Interrupted])
	}
	if want := "fw=upgraded fw2=skipped/interrupted node1=skipped/interrupted"; strings.Join(got, " ") != want {
		t.Errorf("results %q, want %q", strings.Join(got, " "), want)
	}
	for _, c := range f.calls {
		if strings.Contains(c, "fw2") || strings.Contains(c, "node1") {
			t.Errorf("a step after the interrupt ran: %v", f.calls)
		}
	}
	if names := NotRun(results); len(names) != 2 {
		t.Errorf("NotRun = %v", names)
	}
}

// TestRollbackNameClash: `tarsup rollback NAME` refuses (exit 3) when a
// container tarsup did not create holds NAME.tarsup-old, before any change.
func TestRollbackNameClash(t *testing.T) {
	s := state("h1", fx{name: "fw", image: "tarscloud/framework:v3.0.16", imageID: "sha256:f2", running: true,
		labels: map[string]string{plan.LabelPrevious: "{}"}})
	s.Holders = []plan.NameHolder{{Name: "fw.tarsup-old", ID: "u1", Image: "busybox"}}
	_, err := plan.FindRollback([]plan.HostState{s}, "fw")
	if !errors.Is(err, fault.Refused) || !strings.Contains(err.Error(), "fw.tarsup-old") {
		t.Fatalf("err %v, want a refusal naming fw.tarsup-old", err)
	}
}

// TestRunFailedSlaveSaysVersionSplit: a slave that fails (and is rolled
// back) after its master was upgraded leaves the framework hosts on
// different versions; the run's error says so first.
func TestRunFailedSlaveSaysVersionSplit(t *testing.T) {
	f := newFakeEngine(t)
	m := f.add("fw", "tarscloud/framework:v3.0.15", true)
	s := f.add("fw2", "tarscloud/framework:v3.0.15", true)
	s.Config.Env = []string{"SLAVE=true"}
	f.failStart["tarscloud/framework:v3.0.16-b"] = true
	x, h := fakeExecutor(f)
	step := func(id, to string) plan.Step {
		c := containerOf(t, x, h, id)
		st := plan.Step{Host: "fake", Container: c, From: c.Image, To: to, Cause: "--to v3.0.16",
			Spec: plan.Derive(plan.DeriveInput{Old: c.Inspect, NewRef: to, Role: c.Role, APIVersion: "1.41"}), Previous: plan.PreviousSpec(c, "1.41")}
		x.Opts.Policy(1).RecreatePolicy(&st)
		return st
	}
	p := plan.Plan{Phases: []plan.Phase{
		{Name: "framework master", StopOnFailure: true, Steps: []plan.Step{step(m.ID, "tarscloud/framework:v3.0.16")}, Parallel: 1},
		{Name: "framework hosts", StopOnFailure: true, Steps: []plan.Step{step(s.ID, "tarscloud/framework:v3.0.16-b")}, Parallel: 1},
	}}
	_, err := x.Run(context.Background(), p)
	if !errors.Is(err, fault.RolledBack) || errors.Is(err, fault.Interrupted) {
		t.Fatalf("err %v, want a rollback, not an interrupt", err)
	}
	if !strings.HasPrefix(err.Error(), "framework hosts are on different versions now: fw v3.0.16, fw2 v3.0.15: run tarsup upgrade --to v3.0.16 again to finish\n") {
		t.Errorf("error does not start with the version split:\n%v", err)
	}
}
