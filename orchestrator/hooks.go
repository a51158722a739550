package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/hook"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// hookRun is what a recreate's hooks did so far, for the hooks that come
// after and for the step's result.
type hookRun struct {
	// postDone: the post hooks of an upgraded step ran (they decide
	// whether it stays); those of a failed step then do not run again.
	postDone bool
	// rollback: a rollback was attempted (the on-rollback hooks follow).
	rollback bool
	// warnings are the post hooks' failures the step keeps going past
	// (--post-hook-failure warn).
	warnings []string
}

// runHooks runs the step's hooks of one moment in order, in container
// target for those that run inside one, and stops at the first that fails.
func (x *Executor) runHooks(ctx context.Context, h *engine.Host, st plan.Step, when, result, newID, target string) error {
	errs := x.eachHook(ctx, h, st, when, result, newID, target, false)
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// eachHook runs the step's hooks of one moment and returns their
// failures; all goes on past a failure.
func (x *Executor) eachHook(ctx context.Context, h *engine.Host, st plan.Step, when, result, newID, target string, all bool) []error {
	r := hook.Runner{Log: x.Opts.Log}
	var errs []error
	for _, hk := range st.HooksAt(when) {
		j := hook.Job{Hook: hk, Input: st.HookInput(hk, result, newID), Timeout: st.HookTimeout, Env: stepEnvs(st)}
		x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "hook " + when, Result: "running", Detail: hk.Name})
		var err error
		if hk.InContainer {
			err = r.Exec(ctx, h.Engine, target, j)
		} else {
			err = r.Host(ctx, j)
		}
		if err != nil {
			x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "hook " + when, Result: "failed", Detail: err.Error()})
			if errs = append(errs, err); !all {
				return errs
			}
			continue
		}
		x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "hook " + when, Result: "ok", Detail: hk.Name})
	}
	return errs
}

// stepEnvs are the containers' environments, whose secrets a hook's
// output must not echo.
func stepEnvs(st plan.Step) [][]string {
	var out [][]string
	if st.Container.Inspect.Config != nil {
		out = append(out, st.Container.Inspect.Config.Env)
	}
	if st.Spec.Config != nil {
		out = append(out, st.Spec.Config.Env)
	}
	return out
}

// preUpgrade runs the pre-upgrade hooks; one that fails skips the step,
// before anything changed.
func (x *Executor) preUpgrade(ctx context.Context, h *engine.Host, st plan.Step) error {
	if err := x.runHooks(ctx, h, st, plan.HookPreUpgrade, "", "", ""); err != nil {
		return skippedByHook(st, err)
	}
	return nil
}

// preStop runs the pre-stop hooks in the old container; one that fails
// skips the step: the new container, not started yet, is removed.
func (x *Executor) preStop(ctx context.Context, h *engine.Host, st plan.Step, newID string) error {
	if err := x.runHooks(ctx, h, st, plan.HookPreStop, "", newID, st.Container.ID); err != nil {
		x.discard(context.WithoutCancel(ctx), h, newID)
		return skippedByHook(st, err)
	}
	return nil
}

func skippedByHook(st plan.Step, err error) error {
	return fmt.Errorf("%s on %s: the step was skipped, the container was not changed: %w", st.Container.Name, st.Host, err)
}

// postHooks runs the hooks of an upgraded step, before the old container
// goes: post-start in the new container, then post-upgrade. When the
// step's policy rolls back, the first failure stops them and is returned;
// with PostHookWarn every one runs and each failure is a warning.
func (x *Executor) postHooks(ctx context.Context, h *engine.Host, st plan.Step, newID string, hr *hookRun) error {
	hr.postDone = true
	warn := st.PostHookFailure == plan.PostHookWarn
	for _, when := range []string{plan.HookPostStart, plan.HookPostUpgrade} {
		errs := x.eachHook(ctx, h, st, when, plan.HookResultOK, newID, newID, warn)
		if len(errs) > 0 && !warn {
			return errs[0]
		}
		for _, err := range errs {
			w := fmt.Sprintf("%s on %s kept the new container (--post-hook-failure warn): %v", st.Container.Name, st.Host, err)
			hr.warnings = append(hr.warnings, w)
			if x.Opts.Log != nil {
				x.Opts.Log.Warn(w)
			}
		}
	}
	return nil
}

// afterHooks runs, once a step that got past its pre hooks is over, the
// post-upgrade hooks of a step that did not upgrade (their failure can
// undo nothing) and, after a rollback, the on-rollback hooks. Their
// failures are added to the step's error.
func (x *Executor) afterHooks(ctx context.Context, h *engine.Host, st plan.Step, res, newID string, err error, hr *hookRun) error {
	if res == ResultUpgraded || res == ResultHookSkipped {
		return err
	}
	result := plan.HookResultFailed
	if res == ResultRolledBack {
		result = plan.HookResultRolledBack
	}
	var also []error
	if !hr.postDone {
		if herr := x.runHooks(ctx, h, st, plan.HookPostUpgrade, result, newID, ""); herr != nil {
			also = append(also, herr)
		}
	}
	if hr.rollback {
		if herr := x.runHooks(ctx, h, st, plan.HookOnRollback, result, newID, ""); herr != nil {
			also = append(also, herr)
		}
	}
	if len(also) == 0 {
		return err
	}
	if err == nil {
		return errors.Join(also...)
	}
	return markLike(err, fmt.Errorf("%w\nand then: %w", err, errors.Join(also...)))
}
