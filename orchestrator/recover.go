package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// PlanRecover observes an engine's interrupted upgrades and plans their
// recovery (PlanRecoveryOf) with this executor's policy; it changes nothing
// and takes no lock: `recover --dry-run` prints it.
func (x *Executor) PlanRecover(ctx context.Context, h *engine.Host) (plan.RecoveryPlan, error) {
	f, err := ObserveRecovery(ctx, h, x.Self)
	if err != nil {
		return plan.RecoveryPlan{}, err
	}
	p := plan.PlanRecoveryOf(f, x.Force, x.Opts.Policy(1))
	// Why: a real recover removes them as it takes the engine lock
	// (sweepProbes); the dry run must name every container it removes.
	p.Sweep, err = observeSweep(ctx, h, x.Self)
	return p, err
}

// Recover finishes or undoes every interrupted upgrade on an engine
// (observe, PlanRecovery, RunRecovery). The caller holds the engine lock
// (LockAll), so no live tarsup is mid-swap there.
func (x *Executor) Recover(ctx context.Context, h *engine.Host) ([]plan.Recovery, error) {
	p, err := x.PlanRecover(ctx, h)
	if err != nil {
		return nil, err
	}
	return x.RunRecovery(ctx, h, p)
}

// ResultNotRunInterrupted is the result of a recovery step a signal kept
// from starting.
const ResultNotRunInterrupted = "not run: interrupted (SIGINT/SIGTERM)"

// RecoverEngine is `tarsup recover` on one engine: Recover, its report
// ending with the rows of the containers left alone because they are not
// tarsup's (the plan's LeftAlone), as the dry run's does. Why not in
// Recover: an upgrade's own recovery reports only what it recovered.
func (x *Executor) RecoverEngine(ctx context.Context, h *engine.Host) ([]plan.Recovery, error) {
	p, err := x.PlanRecover(ctx, h)
	if err != nil {
		return nil, err
	}
	out, err := x.RunRecovery(ctx, h, p)
	return append(out, p.LeftAlone...), err
}

// RunRecovery carries out a recovery plan on its engine, step by step; a
// failed step does not stop the others. A signal (ctx cancelled) never cuts
// a step short: the one under way finishes (or rolls back), no new one
// starts, and the error (fault.Interrupted) names those that did not run.
// Why: a gate cut short reads as a failed gate, and its rollback would then
// undo a healthy container with an engine that no longer answers tarsup.
func (x *Executor) RunRecovery(ctx context.Context, h *engine.Host, p plan.RecoveryPlan) ([]plan.Recovery, error) {
	var out []plan.Recovery
	var errs []error
	var notRun []string
	for _, st := range p.Steps {
		if ctx.Err() != nil && st.Kind != plan.RecoverLeave {
			out = append(out, plan.Recovery{Host: h.Name(), Name: st.Swap.Name, Action: st.Action, Result: ResultNotRunInterrupted})
			notRun = append(notRun, st.Swap.Name)
			continue
		}
		r, err := x.recoverStep(context.WithoutCancel(ctx), h, st)
		out = append(out, r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(notRun) > 0 {
		errs = append(errs, fault.Mark(fault.Interrupted, fmt.Errorf("interrupted (SIGINT/SIGTERM): not recovered, left as they were: %s; run tarsup recover again", strings.Join(notRun, ", "))))
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("recover on %s: %w", h.Name(), errors.Join(errs...))
	}
	return out, nil
}

// recoverStep runs one recovery step as its kind says.
func (x *Executor) recoverStep(ctx context.Context, h *engine.Host, st plan.RecoveryStep) (plan.Recovery, error) {
	r := plan.Recovery{Host: h.Name(), Name: st.Swap.Name, Action: st.Action, Result: st.Result}
	var err error
	switch st.Kind {
	case plan.RecoverLeave:
		return r, nil
	case plan.RecoverFail:
		err = errors.New(st.Result)
	case plan.RecoverGiveBack:
		err = x.giveBack(ctx, h, st)
	case plan.RecoverUndo:
		err = x.undo(ctx, h, st)
	case plan.RecoverFinish:
		return x.finish(ctx, h, st)
	default:
		err = fmt.Errorf("unknown recovery step kind %q", st.Kind)
	}
	if err != nil {
		r.Result = "failed: " + err.Error()
		return r, fmt.Errorf("%s: %s: %w", st.Swap.Name, r.Action, err)
	}
	r.Result = "done"
	return r, nil
}

// giveBack renames an old container aside back to its name and starts it.
func (x *Executor) giveBack(ctx context.Context, h *engine.Host, st plan.RecoveryStep) error {
	if _, err := renameRestarting(ctx, h, st.Swap.Old.ID, st.Swap.Name, st.StopTimeout); err != nil {
		return err
	}
	return h.Engine.ContainerStart(ctx, st.Swap.Old.ID, container.StartOptions{})
}

// undo removes a new container that never took over and puts the old one back.
func (x *Executor) undo(ctx context.Context, h *engine.Host, st plan.RecoveryStep) error {
	s := st.Swap
	_ = stopContainer(ctx, h, s.New.ID, st.StopTimeout)
	if st.Blocked != "" {
		return errors.New(st.Blocked)
	}
	// Why the name first: the journal lives on the new container; once it
	// is gone, an old container still aside would carry no record that
	// it is tarsup's to put back.
	// Why renameRestarting: an old container aside that still ran when
	// tarsup was killed may be in a restart loop now.
	stopped := false
	if st.RenameOld {
		var err error
		if stopped, err = renameRestarting(ctx, h, s.Old.ID, s.Name, st.StopTimeout); err != nil {
			return err
		}
	}
	// Why before the removal: the new container's networks are the
	// record of the old one's (see reattachments).
	if err := x.reattach(ctx, h, s.Old, st.Reattach); err != nil {
		return err
	}
	if err := h.Engine.ContainerRemove(ctx, s.New.ID, container.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		return err
	}
	if !st.StartOld {
		if stopped {
			// It was restarting before the rename: it runs again as it
			// did (its restart policy goes on), not gated.
			return h.Engine.ContainerStart(ctx, s.Old.ID, container.StartOptions{})
		}
		return nil
	}
	if err := h.Engine.ContainerStart(ctx, s.Old.ID, container.StartOptions{}); err != nil {
		return err
	}
	return x.Opts.Gate.Restore(ctx, h, s.Old.ID, st.OldRole, s.Restore)
}

// finish gates a new container that holds the name and removes the old one;
// a new container that does not start or pass its gate is rolled back.
func (x *Executor) finish(ctx context.Context, h *engine.Host, st plan.RecoveryStep) (plan.Recovery, error) {
	s := st.Swap
	r := plan.Recovery{Host: h.Name(), Name: s.Name, Action: st.Action}
	_ = stopContainer(ctx, h, s.Old.ID, st.StopTimeout)
	if st.StartNew {
		if err := h.Engine.ContainerStart(ctx, s.New.ID, container.StartOptions{}); err != nil {
			return x.recoverRollback(ctx, h, st, err)
		}
	}
	if st.GateNew {
		if err := x.Opts.Gate.Wait(ctx, h, s.New.ID, st.NewRole); err != nil {
			return x.recoverRollback(ctx, h, st, err)
		}
	}
	if err := h.Engine.ContainerRemove(ctx, s.Old.ID, container.RemoveOptions{}); err != nil && !isNotFound(err) {
		r.Result = "failed: " + err.Error()
		return r, fmt.Errorf("%s: %s: %w", s.Name, r.Action, err)
	}
	r.Result = "done"
	return r, nil
}

func (x *Executor) recoverRollback(ctx context.Context, h *engine.Host, st plan.RecoveryStep, cause error) (plan.Recovery, error) {
	r := plan.Recovery{Host: h.Name(), Name: st.Swap.Name, Action: "roll back: the new container is not healthy"}
	old := st.Swap.Old
	old.Name = st.Swap.Name
	// finish stopped the old container before it started the new one.
	sw := swap{h: h, old: old, wasUp: st.Swap.WasUp, restore: st.Swap.Restore, stopTimeout: st.StopTimeout, noRollback: st.NoRollback, gateRole: st.OldRole, oldStopped: true}
	_, res, err := x.rollback(ctx, sw, st.Swap.New.ID, true, cause)
	r.Result = res
	if res == ResultRolledBack {
		return r, nil
	}
	return r, err
}
