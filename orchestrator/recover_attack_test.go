package orchestrator

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// deadJournal is the journal of a swap of service replacing old whose
// tarsup is gone; extra overrides.
func deadJournal(service, old string, extra map[string]string) map[string]string {
	l := map[string]string{plan.LabelTxn: "t1", plan.LabelTxnName: service, plan.LabelTxnOld: old, plan.LabelTxnOldRunning: "true",
		plan.LabelTxnOwner: owner.ThisProcess().Machine + "/999999999/1", plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}
	maps.Copy(l, extra)
	return l
}

// TestRecoverRefusesHandMadeJournals: tarsup's journal labels on containers
// that are not as a swap of tarsup's leaves them. Recovery (the dry run's
// plan and a real one) neither renames, starts, stops nor removes anything,
// fails naming the container, and the dry run says the same. (Before: a
// journal of another service renamed the user's running container to that
// service's name and removed the labelled one; a journal naming no service
// stopped it; two claimants were both removed.)
func TestRecoverRefusesHandMadeJournals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeEngine)
		says  string
	}{
		{"a journal naming no service", func(f *fakeEngine) {
			app := f.add("app", "fw:1", true)
			f.add("x.tarsup-new", "busybox", true).Config.Labels = deadJournal("", app.ID, nil)
		}, "names no service"},
		{"a journal of another service", func(f *fakeEngine) {
			app := f.add("app", "fw:1", true)
			f.add("y.tarsup-new", "busybox", true).Config.Labels = deadJournal("y", app.ID, nil)
		}, "never gives it"},
		{"the new container under a name a swap never gives it", func(f *fakeEngine) {
			app := f.add("app.tarsup-old", "fw:1", false)
			f.add("app-copy", "fw:2", true).Config.Labels = deadJournal("app", app.ID, nil)
		}, "never gives it"},
		{"two claim one old container", func(f *fakeEngine) {
			app := f.add("app", "fw:1", true)
			f.add("app.tarsup-new", "fw:2", false).Config.Labels = deadJournal("app", app.ID, nil)
			f.add("app.tarsup-failed", "fw:2", false).Config.Labels = deadJournal("app", app.ID, nil)
		}, "both carry"},
		{"a value tarsup never writes", func(f *fakeEngine) {
			app := f.add("app", "fw:1", true)
			f.add("app.tarsup-new", "fw:2", false).Config.Labels = deadJournal("app", app.ID, map[string]string{plan.LabelTxnOldRunning: "yes"})
		}, `old-running="yes"`},
		{"an unreadable owner", func(f *fakeEngine) {
			app := f.add("app", "fw:1", true)
			f.add("app.tarsup-new", "fw:2", false).Config.Labels = deadJournal("app", app.ID, map[string]string{plan.LabelTxnOwner: "garbage"})
		}, "MACHINE/PID/START"},
		{"the old container is gone", func(f *fakeEngine) {
			f.add("app.tarsup-new", "fw:2", false).Config.Labels = deadJournal("app", strings.Repeat("9", 64), nil)
		}, "is gone"},
		{"an old one aside of another service", func(f *fakeEngine) {
			f.add("app.tarsup-old", "fw:1", false).Config.Labels = deadJournal("other", strings.Repeat("9", 64), nil)
		}, "never gives it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			tc.setup(f)
			x, h := fakeExecutor(f)
			p, err := x.PlanRecover(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			if dry := p.String(); !strings.Contains(dry, plan.ActionNotASwap+": would fail: ") || !strings.Contains(dry, tc.says) {
				t.Errorf("dry run:\n%s\nwant it to say %q", dry, tc.says)
			}
			rec, err := x.RecoverEngine(context.Background(), h)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("recover: %v, want a failure saying %q", err, tc.says)
			}
			if len(f.calls) > 0 {
				t.Errorf("recover touched them: calls %v", f.calls)
			}
			for _, r := range rec {
				if r.Action != plan.ActionNotASwap || !strings.HasPrefix(r.Result, "failed: ") {
					t.Errorf("row %+v", r)
				}
			}
		})
	}
}

// TestRecoverSaysWhatItLeftAlone: `recover` (RecoverEngine) and its dry run
// name each container under a temporary name that is not tarsup's, in the
// same row, after the recoveries; an upgrade's own recovery (Recover) does not.
func TestRecoverSaysWhatItLeftAlone(t *testing.T) {
	f := newFakeEngine(t)
	f.add("app.tarsup-old", "busybox:latest", false)
	old := f.add("fw.tarsup-old", "fw:old", false)
	f.add("fw.tarsup-new", "fw:new", false).Config.Labels = deadJournal("fw", old.ID, nil)
	x, h := fakeExecutor(f)
	p, err := x.PlanRecover(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := "app.tarsup-old on fake: none: left alone: not tarsup's (no journal of tarsup's names it, image busybox:latest); it holds a name tarsup needs to upgrade app: rename or remove it before upgrading app\n"
	if dry := p.String(); !strings.HasPrefix(dry, "fw on fake: undo: ") || !strings.HasSuffix(dry, want) {
		t.Errorf("dry run:\n%s", dry)
	}
	rec, err := x.RecoverEngine(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 2 || rec[0].Name != "fw" || rec[0].Result != "done" || rec[1] != p.LeftAlone[0] {
		t.Errorf("recover: %+v", rec)
	}
	for _, c := range f.calls {
		if strings.Contains(c, "app.tarsup-old") {
			t.Errorf("recover touched the user's container: %s", c)
		}
	}
}

// TestRecoverDryRunSaysALockIsHeld: the dry run takes no lock; when another
// tarsup holds the engine's, it says so first and what a real recover does.
func TestRecoverDryRunSaysALockIsHeld(t *testing.T) {
	live := owner.Owner{Machine: owner.ThisProcess().Machine, PID: os.Getppid(), Start: owner.ProcStart(os.Getppid())}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		force  bool
		want   string
	}{
		{"a live tarsup's", map[string]string{lock.LabelLock: "1", owner.LabelOwner: live.String()}, false, "which is still running: a real recover waits for it"},
		{"a live tarsup's, --force", map[string]string{lock.LabelLock: "1", owner.LabelOwner: live.String()}, true, "a real recover --force takes it over"},
		{"a dead tarsup's", map[string]string{lock.LabelLock: "1", owner.LabelOwner: live.Machine + "/999999999/1"}, false, "which is gone: a real recover takes it over"},
		{"somebody else's container", map[string]string{}, false, "is not tarsup's (no tarsup.lock label, image busybox): a real recover refuses (exit 3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.add(lock.EngineLockName, "busybox", false).Config.Labels = tc.labels
			x, h := fakeExecutor(f)
			x.Force = tc.force
			p, err := x.PlanRecover(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			dry := p.String()
			if !strings.HasPrefix(dry, lock.EngineLockName+" on fake: "+plan.ActionLock+": ") || !strings.Contains(dry, tc.want) {
				t.Errorf("dry run:\n%s\nwant %q", dry, tc.want)
			}
			if len(f.calls) > 0 {
				t.Errorf("the dry run changed something: %v", f.calls)
			}
		})
	}
	t.Run("its own lock says nothing", func(t *testing.T) {
		f := newFakeEngine(t)
		x, h := fakeExecutor(f)
		f.add(lock.EngineLockName, "busybox", false).Config.Labels = map[string]string{lock.LabelLock: "1", owner.LabelOwner: x.Self.String()}
		if p, err := x.PlanRecover(context.Background(), h); err != nil || p.Lock != nil {
			t.Errorf("plan %+v, %v", p, err)
		}
	})
}

// TestRecoverSignalFinishesTheStepUnderWay: a signal during a recovery's
// gate lets that swap finish (the new container healthy, the old one
// removed), starts no other, and is an interruption naming what was not
// recovered. (Before: the cut-short gate read as a failed one, and its
// rollback, with every engine call cancelled, said ROLLBACK FAILED.)
func TestRecoverSignalFinishesTheStepUnderWay(t *testing.T) {
	f := newFakeEngine(t)
	for _, svc := range []string{"a", "b"} {
		old := f.add(svc+".tarsup-old", "fw:old", false)
		f.add(svc, "fw:new", true).Config.Labels = deadJournal(svc, old.ID, nil)
	}
	x, h := fakeExecutor(f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gated := 0
	f.onInspect = func(c *container.InspectResponse) {
		if len(f.calls) == 0 || c.State.Health == nil {
			return // observation, before any step
		}
		// The first swap's gate: the new container is still starting when
		// the signal comes, and healthy at the next look.
		if gated++; gated <= 2 { // the gate's first two looks
			c.State.Health.Status = plan.HealthStarting
			cancel()
			return
		}
		c.State.Health.Status = plan.HealthHealthy
	}
	rec, err := x.RecoverEngine(ctx, h)
	if !errors.Is(err, fault.Interrupted) || !strings.Contains(err.Error(), "not recovered, left as they were: ") {
		t.Errorf("error %v, want an interruption naming what was not recovered", err)
	}
	if len(rec) != 2 || rec[0].Result != "done" || rec[1].Result != ResultNotRunInterrupted {
		t.Errorf("report %+v, want the first finished and the second not run", rec)
	}
	for _, c := range f.calls {
		if strings.Contains(c, "tarsup-failed") || strings.HasPrefix(c, "start") {
			t.Errorf("the signal made it roll back: calls %v", f.calls)
			break
		}
	}
	if n := len(f.calls); n != 2 || !strings.HasPrefix(f.calls[0], "stop ") || !strings.HasPrefix(f.calls[1], "remove ") {
		t.Errorf("calls %v, want the first swap's stop and removal of its old container only", f.calls)
	}
}

// TestStatusNotesHandMadeJournal: status calls a journal recovery will not
// act on what recover calls it, not an interrupted upgrade to recover.
func TestStatusNotesHandMadeJournal(t *testing.T) {
	s := plan.HostState{Host: "h", Containers: []plan.Container{
		{ID: "app1", Name: "app"},
		{ID: "x1", Name: "x.tarsup-new", Labels: deadJournal("x", "app1", nil)},
		{ID: "fw1", Name: "fw.tarsup-old"},
		{ID: "fw2", Name: "fw", Labels: deadJournal("fw", "fw1", nil)},
	}}
	interrupted, notes := swapNotes(s, owner.ThisProcess(), time.Now())
	if interrupted["x1"] || interrupted["app1"] || notes["x1"] != NoteNotASwap {
		t.Errorf("hand-made journal: interrupted %v, notes %v", interrupted, notes)
	}
	if !interrupted["fw1"] || !interrupted["fw2"] || notes["fw2"] != NoteInterrupted {
		t.Errorf("a swap of tarsup's: interrupted %v, notes %v", interrupted, notes)
	}
}
