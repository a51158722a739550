package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// What a swap does about what happened to its containers meanwhile: the
// new one's gate, the old one killed at its stop timeout, and the
// operator's own renames and removals while tarsup gates.

// gateNew waits on the new container's gate (probe, prepared before its
// start), reports what the gate's sidecar said, and releases it.
func (x *Executor) gateNew(ctx context.Context, sw swap, probe *health.Watch) error {
	err := probe.Wait(ctx)
	x.reportSidecar(sw, probe)
	probe.Close()
	return err
}

// reportSidecar reports what a gate's sidecar said (its announcements, or
// why one failed), if anything.
func (x *Executor) reportSidecar(sw swap, probe *health.Watch) {
	if says := probe.SidecarSays(); says != "" {
		x.report(Event{Host: sw.h.Name(), Container: sw.old.Name, Action: "gate sidecar", Detail: strings.ReplaceAll(says, "\n", "; ")})
	}
}

// reportKilled says so when the old container did not stop on its stop
// signal within its stop timeout and the engine killed it (exit 137). Why
// after the new one's gate: no engine call between the stop and the start
// (the downtime), nor between the start and the gate's sidecar; the
// operator learns why the stop took that long.
func (x *Executor) reportKilled(ctx context.Context, sw swap) {
	if !sw.oldStopped {
		return
	}
	in, err := sw.h.Engine.ContainerInspect(ctx, sw.old.ID)
	if err != nil || in.State == nil || in.State.ExitCode != 137 || in.State.OOMKilled {
		return
	}
	sig := "SIGTERM"
	if in.Config != nil && in.Config.StopSignal != "" {
		sig = in.Config.StopSignal
	}
	x.report(Event{Host: sw.h.Name(), Container: sw.old.Name, Action: "stop old", Result: "killed",
		Detail: fmt.Sprintf("%s did not stop within %ds of its stop signal %s (--stop-timeout, unless it sets its own), so the engine killed it", sw.old.ShortID(), sw.stopTimeout, sig)})
}

// stillNamed checks, once the new container passed its gate and before
// the old one goes, that the new one still holds the name. Why: the
// engine lets anybody rename it meanwhile (docker rename); removing the
// old container then would leave no container under the name at all, and
// "upgraded" would be false. A new container that is gone (gone: roll
// back) or renamed (an error: both are kept, the old one stopped, with
// the commands that finish the swap) is the operator's doing.
func (x *Executor) stillNamed(ctx context.Context, sw swap, newID string) (gone bool, err error) {
	h, name := sw.h, sw.old.Name
	in, err := h.Engine.ContainerInspect(ctx, newID)
	if isNotFound(err) {
		return true, fmt.Errorf("the new container %s was removed after its gate (not by tarsup)", plan.Short(newID))
	}
	if err != nil || in.ContainerJSONBase == nil || strings.TrimPrefix(in.Name, "/") == name {
		return false, nil
	}
	now := strings.TrimPrefix(in.Name, "/")
	return false, fmt.Errorf("the new container %s passed its gate but is named %s now, not %s (renamed during the upgrade, not by tarsup): it runs, and the old container %s is kept, stopped, under its temporary name.\nto finish: docker rename %s %s; then `tarsup recover --host %s` removes the old one (or docker rm %s)",
		plan.Short(newID), now, name, sw.old.ShortID(), now, name, h.Spec.URL, sw.old.ShortID())
}

// oldGone ends a rollback whose old container was removed meanwhile (docker
// rm -f of NAME.tarsup-old, not tarsup's doing): there is nothing to roll
// back to, and the failed new container is all that is left of the
// service. Why it gets the name back and runs: so that the service has its
// container under its name, with its restart policy, as before the
// upgrade, and `tarsup rollback` recreates it from the old container's
// configuration (its tarsup.previous label) on the old image.
func (x *Executor) oldGone(ctx context.Context, sw swap, newID string, base error) (string, string, error) {
	h, name := sw.h, sw.old.Name
	var errs []error
	if err := h.Engine.ContainerRename(ctx, newID, name); err != nil {
		errs = append(errs, fmt.Errorf("rename it back to %s: %w", name, err))
	} else if err := h.Engine.ContainerStart(ctx, newID, container.StartOptions{}); err != nil {
		errs = append(errs, fmt.Errorf("start it again: %w", err))
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "failed", Detail: "the old container " + sw.old.ShortID() + " is gone"})
	state := fmt.Sprintf("the new container %s, whose gate failed, runs again as %s: it is all that is left", plan.Short(newID), name)
	if err := errors.Join(errs...); err != nil {
		state = fmt.Sprintf("the new container %s, whose gate failed, is all that is left, and could not be put back (%v): docker rename %s %s; docker start %s", plan.Short(newID), err, plan.Short(newID), name, name)
	}
	return newID, ResultFailed, fmt.Errorf("%w\nROLLBACK IMPOSSIBLE: the old container %s was removed during the upgrade (not by tarsup); %s.\nto fix: `tarsup rollback --host %s %s` recreates it from the old container's configuration, on its image",
		base, sw.old.ShortID(), state, h.Spec.URL, name)
}
