package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Snapshots takes the database snapshots of an upgrade (package backup
// implements it; ExecOptions.Snapshots nil takes none). Why a hook: the
// dump runs through the database's own tools (package tarsdb), which the
// orchestrator does not know; the upgrade only says when.
type Snapshots interface {
	// Plan names the snapshots a plan needs: one per deployment (database)
	// of its framework steps, none without one. It changes nothing; an
	// error (a database that cannot be found or read, no place for the
	// files) ends the upgrade before anything changed.
	Plan(ctx context.Context, x *Executor, p plan.Plan, states []plan.HostState) ([]plan.Snapshot, error)
	// Take takes and verifies the planned snapshots, before any container
	// is touched, and returns them taken; on an error no file is left.
	Take(ctx context.Context, x *Executor, snaps []plan.Snapshot) ([]plan.Snapshot, error)
	// AfterRun looks at a run's results: for a framework step that rolled
	// back, whether the schema changed since the snapshot (and, when asked,
	// restores it). Its error joins the run's.
	AfterRun(ctx context.Context, x *Executor, snaps []plan.Snapshot, results []StepResult) ([]plan.SnapshotNote, error)
}

// planSnapshots adds the snapshots the plan needs to it.
func (x *Executor) planSnapshots(ctx context.Context, rep *UpgradeReport, states []plan.HostState) error {
	if x.Opts.Snapshots == nil || rep.Plan.Empty() {
		return nil
	}
	snaps, err := x.Opts.Snapshots.Plan(ctx, x, rep.Plan, states)
	rep.Plan.Snapshots = snaps
	return interruptedBefore(ctx, "snapshot's pre-flight", err)
}

// runWithSnapshots takes the plan's snapshots, runs the plan and hands
// its results to the hook. Why the snapshot here: it is the pre-flight's
// last act, after every check and before the first stop (the first
// create, even), so the downtime does not grow.
func (x *Executor) runWithSnapshots(ctx context.Context, rep *UpgradeReport) error {
	if err := x.takeSnapshots(ctx, rep); err != nil {
		return err
	}
	var err error
	rep.Results, err = x.Run(ctx, rep.Plan)
	return x.afterSnapshots(ctx, rep, err)
}

// takeSnapshots takes the plan's snapshots, before the first stop.
func (x *Executor) takeSnapshots(ctx context.Context, rep *UpgradeReport) error {
	if x.Opts.Snapshots == nil || len(rep.Plan.Snapshots) == 0 {
		return nil
	}
	taken, err := x.Opts.Snapshots.Take(ctx, x, rep.Plan.Snapshots)
	if err != nil {
		return interruptedBefore(ctx, "snapshot", err)
	}
	rep.Plan.Snapshots = taken
	return nil
}

// afterSnapshots hands the run's results to the hook and joins its error
// to the run's, marked as the run's.
func (x *Executor) afterSnapshots(ctx context.Context, rep *UpgradeReport, runErr error) error {
	if x.Opts.Snapshots == nil || len(rep.Plan.Snapshots) == 0 {
		return runErr
	}
	notes, err := x.Opts.Snapshots.AfterRun(ctx, x, rep.Plan.Snapshots, rep.Results)
	rep.SnapshotNotes = notes
	if err == nil {
		return runErr
	}
	// Why %v: containers changed by now, so the kind of the hook's cause
	// (a database that does not answer is bad input) must not turn the
	// run's exit code into "nothing changed".
	err = fmt.Errorf("after the rollback: %v", err)
	if runErr == nil {
		return err
	}
	return markLike(runErr, errors.Join(runErr, err))
}
