package orchestrator

import (
	"context"
	"fmt"
	"github.com/tarsup/tarsup/internal/wait"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// do runs one step as its kind says. It decides nothing: every choice (the
// stop timeout, the gate's role, no-rollback, whether a container is started,
// which image goes) is in the step.
func (x *Executor) do(ctx context.Context, st plan.Step, done map[string]string) StepResult {
	h, ok := x.Hosts[st.Host]
	if !ok {
		return StepResult{Step: st, Result: ResultFailed, Err: fmt.Errorf("%s %s: no connection to %s", st.Kind, st.Container.Name, st.Host)}
	}
	switch st.Kind {
	case plan.StepRecreate, plan.StepRecreateStopped:
		return x.recreate(ctx, h, st)
	case plan.StepRecheck:
		return x.recheck(ctx, h, st)
	case plan.StepReregister:
		return x.reregister(ctx, h, st, done)
	case plan.StepCleanupImage:
		return x.cleanupImage(ctx, h, st, done)
	}
	return StepResult{Step: st, Result: ResultFailed, Err: fmt.Errorf("%s on %s: unknown step kind %q", st.Container.Name, st.Host, st.Kind)}
}

// recreate runs a recreate step and reports it.
func (x *Executor) recreate(ctx context.Context, h *engine.Host, st plan.Step) StepResult {
	x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "recreate", From: st.FromLabel(), To: st.ToLabel(), Result: "started", Detail: st.Cause})
	if st.Before.State != "" && !st.Before.Healthy() {
		x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "health before", Result: st.Before.State, Detail: st.Before.Detail})
	}
	var newID, res string
	var hr hookRun
	err := x.preUpgrade(ctx, h, st)
	switch {
	case err != nil:
		res = ResultHookSkipped
	case ctx.Err() != nil:
		// A signal came while the pre hooks ran: nothing changed yet, so
		// the step does not start (Run reports it as not run).
		return x.skip(ctx, st)
	default:
		newID, res, err = x.replace(ctx, h, st, &hr)
		err = x.afterHooks(ctx, h, st, res, newID, err, &hr)
	}
	detail := ""
	if err != nil {
		detail = err.Error()
	}
	x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "recreate", From: st.FromLabel(), To: st.ToLabel(), Result: res, Detail: detail})
	return StepResult{Step: st, Result: res, Err: err, NewID: newID, Warnings: hr.warnings}
}

// cleanupImage removes an old image once every recreate the step waits for
// upgraded: each tag the plan found still pointing at it (the last removal
// deletes it), or the image itself when it has none left. Its failures are
// reported, never a failed run: the upgrade itself worked.
func (x *Executor) cleanupImage(ctx context.Context, h *engine.Host, st plan.Step, done map[string]string) StepResult {
	for _, id := range st.After {
		if done[id] != ResultUpgraded {
			// The old container is back (or never went): it still uses the image.
			return StepResult{Step: st, Result: ResultSkipped}
		}
	}
	refs := st.ImageTags
	if len(refs) == 0 {
		refs = []string{st.Image}
	}
	res := "done"
	for _, ref := range refs {
		if err := removeImage(ctx, h, ref); err != nil {
			res = "failed: " + err.Error()
		}
	}
	x.report(Event{Host: h.Name(), Container: st.Container.Name, Action: "remove old image", Result: res, Detail: plan.Short(st.Image)})
	return StepResult{Step: st, Result: ResultOK}
}

// removeImage removes one tag (or image ID); one already gone is no error.
func removeImage(ctx context.Context, h *engine.Host, ref string) error {
	if _, err := h.Engine.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// recheckWait is how long a node may take to answer again after a framework
// upgrade before it is restarted (the planner counts it in a window).
const recheckWait = plan.RecheckWait

// recheck probes a node that answered before the framework upgrade; one that
// no longer does is restarted once, as the step plans, gated, and reported.
func (x *Executor) recheck(ctx context.Context, h *engine.Host, st plan.Step) StepResult {
	c := st.Container
	deadline := time.Now().Add(min(recheckWait, x.Opts.Gate.Timeout))
	var err error
	for {
		if err = x.Opts.Gate.Prober.Probe(ctx, h, c); err == nil {
			x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: ResultOK})
			return StepResult{Step: st, Result: ResultOK, NewID: c.ID}
		}
		if time.Now().After(deadline) || wait.Sleep(ctx, time.Second) != nil {
			break
		}
	}
	x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: "restarting", Detail: err.Error()})
	ctx = context.WithoutCancel(ctx)
	if err = restartContainer(ctx, h, c.ID, st.StopTimeout); err == nil {
		if err = x.Opts.Gate.Wait(ctx, h, c.ID, st.GateRole); err == nil {
			x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: ResultRestarted})
			return StepResult{Step: st, Result: ResultRestarted, NewID: c.ID}
		}
	}
	err = fmt.Errorf("node %s on %s does not answer after the framework upgrade, even after a restart: %w", c.Name, st.Host, err)
	x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: ResultUnhealthy, Detail: err.Error()})
	return StepResult{Step: st, Result: ResultUnhealthy, Err: err}
}

// restartContainer stops and starts a container.
func restartContainer(ctx context.Context, h *engine.Host, id string, stopTimeout int) error {
	if err := stopContainer(ctx, h, id, stopTimeout); err != nil {
		return err
	}
	return h.Engine.ContainerStart(ctx, id, container.StartOptions{})
}

// stopContainer stops a container within the step's timeout (seconds).
func stopContainer(ctx context.Context, h *engine.Host, id string, timeout int) error {
	return h.Engine.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout})
}
