package orchestrator

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

var errTest = errors.New("the database does not answer")

// fakeSnapshots records its calls in the fake engine's call log, so that
// their order among the engine calls shows.
type fakeSnapshots struct {
	f                  *fakeEngine
	planErr, takeErr   error
	afterErr           error
	afterSawRolledBack bool
}

func (s *fakeSnapshots) Plan(_ context.Context, _ *Executor, p plan.Plan, _ []plan.HostState) ([]plan.Snapshot, error) {
	s.f.record("snapshot plan (%d steps)", len(p.Steps()))
	return []plan.Snapshot{{Host: "fake", DB: "tars-mysql", Databases: []string{"db_tars"}, Frameworks: []string{"fw"}, Dir: "/b/d", Keep: 10}}, s.planErr
}

func (s *fakeSnapshots) Take(_ context.Context, _ *Executor, snaps []plan.Snapshot) ([]plan.Snapshot, error) {
	s.f.record("snapshot take")
	if s.takeErr != nil {
		return nil, s.takeErr
	}
	snaps[0].File = "/b/d/x.sql.gz"
	return snaps, nil
}

func (s *fakeSnapshots) AfterRun(_ context.Context, _ *Executor, snaps []plan.Snapshot, results []StepResult) ([]plan.SnapshotNote, error) {
	s.f.record("snapshot after (%s)", snaps[0].File)
	for _, r := range results {
		s.afterSawRolledBack = s.afterSawRolledBack || r.Result == ResultRolledBack
	}
	return []plan.SnapshotNote{{File: snaps[0].File, Message: "noted"}}, s.afterErr
}

// TestUpgradeSnapshots: the snapshot is the pre-flight's last act (after
// the pulls, before the new container is even created); a dry run plans
// it and takes none; a failed one changes nothing; after a rollback the
// hook sees the results, and its error keeps the run's exit code.
func TestUpgradeSnapshots(t *testing.T) {
	fake := &fakeRegistry{digests: map[string]string{"tarscloud/framework:v3.0.16": fwNew}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	old, to := reg+"/tarscloud/framework:v3.0.15", reg+"/tarscloud/framework:v3.0.16"
	for _, tc := range []struct {
		name      string
		dryRun    bool
		failStart bool
		snaps     fakeSnapshots
		calls     string
		exit      int
	}{
		{name: "taken before the first change", calls: "snapshot plan (1 steps), snapshot take, create fw.tarsup-new (" + to + "), " +
			"rename fw -> fw.tarsup-old, rename fw.tarsup-new -> fw, stop fw.tarsup-old, start fw, remove fw.tarsup-old, snapshot after (/b/d/x.sql.gz)"},
		{name: "a dry run takes none", dryRun: true, calls: "snapshot plan (1 steps)"},
		{name: "a failed plan changes nothing", snaps: fakeSnapshots{planErr: fault.Mark(fault.BadInput, errTest)}, calls: "snapshot plan (1 steps)", exit: 2},
		{name: "a failed snapshot changes nothing", snaps: fakeSnapshots{takeErr: fault.Mark(fault.BadInput, errTest)}, calls: "snapshot plan (1 steps), snapshot take", exit: 2},
		{name: "after a rollback, the hook's error keeps exit 1", failStart: true, snaps: fakeSnapshots{afterErr: fault.Mark(fault.BadInput, errTest)}, exit: 1,
			calls: "snapshot plan (1 steps), snapshot take, create fw.tarsup-new (" + to + "), rename fw -> fw.tarsup-old, " +
				"rename fw.tarsup-new -> fw, stop fw.tarsup-old, start fw, rename fw -> fw.tarsup-failed, stop fw.tarsup-failed, rename fw.tarsup-old -> fw, start fw, " +
				"remove fw.tarsup-failed, snapshot after (/b/d/x.sql.gz)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.pulls = true
			f.add("fw", old, true)
			if tc.failStart {
				f.failStart[to] = true
			}
			x, h := fakeExecutor(f)
			x.Opts.Gate.Prober = &fakeProber{}
			snaps := tc.snaps
			snaps.f = f
			x.Opts.Snapshots = &snaps
			rep, err := Upgrade(context.Background(), []*engine.Host{h}, x, UpgradeOptions{
				Request: plan.Request{To: "v3.0.16"}, DryRun: tc.dryRun, Parallel: 1, Keychain: authn.NewMultiKeychain(), Registry: &images.Registry{},
			})
			var calls []string
			for _, c := range f.calls {
				if !strings.HasPrefix(c, "pull ") && !strings.Contains(c, lock.EngineLockName) {
					calls = append(calls, c)
				}
			}
			if got := strings.Join(calls, ", "); got != tc.calls {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tc.calls)
			}
			if got := fault.ExitCode(err); got != tc.exit {
				t.Errorf("exit %d (%v), want %d", got, err, tc.exit)
			}
			if tc.dryRun && !strings.HasPrefix(rep.Plan.String(), plan.SnapshotPhaseLine+"\ntars-mysql: snapshot db_tars (database of fw) to /b/d/, keep the newest 10\n") {
				t.Errorf("the dry run does not show the snapshot first:\n%s", rep.Plan)
			}
			if tc.failStart && (!snaps.afterSawRolledBack || len(rep.SnapshotNotes) != 1) {
				t.Errorf("after the rollback: the hook saw a rollback %v, notes %v", snaps.afterSawRolledBack, rep.SnapshotNotes)
			}
		})
	}
}
