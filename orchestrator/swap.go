package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/swapname"
)

func newTxnID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Replace swaps old for a container made from spec, keeping old until the new
// one passed the health gate:
//
//	create NAME.tarsup-new (journal labels) -> prepare the gate's probe ->
//	rename old (still running) to NAME.tarsup-old -> rename new to NAME ->
//	stop old -> start new -> gate -> remove old
//
// On a failure after the old container stopped it rolls back (unless
// NoRollback). Why this order: everything that can happen while the old
// container still serves happens before it stops (the engine renames a
// running container), so between "old stopped" and "new started" there is
// no other engine call, and the downtime is the stop and the start alone.
// Creating first binds no port and no IP; the labels written at create
// time, and the names, let `recover` finish or undo the swap after a kill at
// any point (the old container aside may then still run: recovery stops it
// when it finishes, and leaves it running when it undoes).
// Cancelling ctx does not interrupt it once the old container is touched.
// A rollback gates the old container for health (RestoreHealthy). The
// step's policy comes from the executor's options, as the planner would
// write it (Policy.recreatePolicy).
func (x *Executor) Replace(ctx context.Context, h *engine.Host, old plan.Container, spec plan.Spec, prev plan.Spec) (string, string, error) {
	st := plan.Step{Host: h.Name(), Container: old, Spec: spec, Previous: prev}
	x.Opts.Policy(1).RecreatePolicy(&st)
	return x.replace(ctx, h, st, &hookRun{})
}

// replace runs a recreate step's swap, with the plan's demand on a
// rolled-back old container (Step.Restore), journalled so that `recover`
// asks the same, and the step's hooks: pre-stop in the old container once
// the new one exists, post-start and post-upgrade once the new one passed
// its gate, before the old one goes (a failed one rolls back, as the
// step's PostHookFailure says). hr records what they did.
func (x *Executor) replace(ctx context.Context, h *engine.Host, st plan.Step, hr *hookRun) (string, string, error) {
	old := st.Container
	name := old.Name
	restore := st.Restore
	if restore == "" {
		restore = plan.RestoreHealthy
	}
	sw := swap{h: h, old: old, wasUp: st.Kind == plan.StepRecreate, restore: restore, stopTimeout: st.StopTimeout, noRollback: st.NoRollback, gateRole: old.Role, hooks: hr, announce: st.Announce}
	fail := func(err error) (string, string, error) {
		return "", ResultFailed, fmt.Errorf("recreate %s on %s: %w", name, h.Name(), err)
	}
	newID, err := x.createNew(ctx, h, st, sw)
	if err != nil {
		return fail(err)
	}
	if err := x.preStop(ctx, h, st, newID); err != nil {
		return "", ResultHookSkipped, err
	}
	// The gate's probe is made ready now, while the old container still
	// serves: the sidecar image loaded, a sidecar created in the new
	// container's network namespace (started once the new one runs).
	var probe *health.Watch
	if st.Kind == plan.StepRecreate {
		probe = x.Opts.Gate.Prepare(ctx, h, newID, st.GateRole, st.Announce)
		defer probe.Close()
	}
	// From here on the old container is touched: finish or roll back even
	// if the caller gives up (SIGTERM).
	ctx = context.WithoutCancel(ctx)
	if err := x.renameAside(ctx, &sw, newID); err != nil {
		return fail(err)
	}
	if err := h.Engine.ContainerRename(ctx, newID, name); err != nil {
		return x.rollback(ctx, sw, newID, true, fmt.Errorf("give the new container the name: %w", err))
	}
	if sw.wasUp && !sw.oldStopped {
		x.report(Event{Host: h.Name(), Container: name, Action: "stop old", Detail: old.ShortID()})
		if err := stopContainer(ctx, h, old.ID, sw.stopTimeout); err != nil {
			return x.rollback(ctx, sw, newID, true, fmt.Errorf("stop old container: %w", err))
		}
		sw.oldStopped = true
	}
	if st.Kind == plan.StepRecreateStopped {
		// Why: a stopped container stays stopped; it runs the new image when
		// the operator starts it. There is nothing to gate.
		if err := x.postHooks(ctx, h, st, newID, hr); err != nil {
			return x.rollback(ctx, sw, newID, true, err)
		}
		if err := h.Engine.ContainerRemove(ctx, old.ID, container.RemoveOptions{}); err != nil && !isNotFound(err) {
			x.report(Event{Host: h.Name(), Container: name, Action: "remove old", Result: "failed", Detail: err.Error()})
		}
		return newID, ResultUpgraded, nil
	}
	if err := h.Engine.ContainerStart(ctx, newID, container.StartOptions{}); err != nil {
		return x.rollback(ctx, sw, newID, true, fmt.Errorf("start new container: %w", err))
	}
	x.report(Event{Host: h.Name(), Container: name, Action: eventGate, Detail: plan.Short(newID)}) // frees the engine's lane (lanes.go)
	// Why the kill report only after the gate: no engine call between the
	// new container's start and its gate's sidecar (which announces it).
	gerr := x.gateNew(ctx, sw, probe)
	x.reportKilled(ctx, sw)
	if gerr != nil {
		return x.rollback(ctx, sw, newID, true, fmt.Errorf("health gate: %w", gerr))
	}
	if gone, err := x.stillNamed(ctx, sw, newID); gone {
		return x.rollback(ctx, sw, newID, true, err)
	} else if err != nil {
		return newID, ResultFailed, fmt.Errorf("recreate %s on %s: %w", name, h.Name(), err)
	}
	if err := x.postHooks(ctx, h, st, newID, hr); err != nil {
		return x.rollback(ctx, sw, newID, true, err)
	}
	if err := h.Engine.ContainerRemove(ctx, old.ID, container.RemoveOptions{}); err != nil && !isNotFound(err) {
		// The upgrade worked; only the old container is left over. `recover`
		// removes it later (its successor holds the name and is healthy).
		x.report(Event{Host: h.Name(), Container: name, Action: "remove old", Result: "failed", Detail: err.Error()})
	}
	return newID, ResultUpgraded, nil
}

// renameAside renames the old container NAME.tarsup-old as it runs (see
// renameRestarting: stopped first if it is restarting, which sw then
// records). On a failure the new container is removed and the old one is
// as it was.
func (x *Executor) renameAside(ctx context.Context, sw *swap, newID string) error {
	h, old := sw.h, sw.old
	stopped, err := renameRestarting(ctx, h, old.ID, old.Name+swapname.Old, sw.stopTimeout)
	if err != nil {
		x.discard(ctx, h, newID)
		if stopped {
			_ = h.Engine.ContainerStart(ctx, old.ID, container.StartOptions{})
		}
		return fmt.Errorf("rename old container aside: %w", err)
	}
	if stopped {
		x.report(Event{Host: h.Name(), Container: old.Name, Action: "stop old", Detail: old.ShortID() + ": it is restarting, and the engine renames it only stopped"})
	}
	sw.oldStopped = stopped
	return nil
}

// renameRestarting renames container id to name as it runs. The engine
// (20.10) refuses to rename a container in a restart loop ("sandbox not
// found", a 404): such a one serves nothing, so it is stopped (its stop
// timeout) and renamed stopped, as the order before the running rename
// did. stopped says whether it was stopped here; an error after the stop
// leaves it stopped under its name, for the caller to start again.
func renameRestarting(ctx context.Context, h *engine.Host, id, name string, stopTimeout int) (stopped bool, err error) {
	err = h.Engine.ContainerRename(ctx, id, name)
	if err == nil {
		return false, nil
	}
	in, ierr := h.Engine.ContainerInspect(ctx, id)
	if ierr != nil || in.State == nil || !(in.State.Restarting || isNotFound(err)) {
		return false, err
	}
	if serr := stopContainer(ctx, h, id, stopTimeout); serr != nil {
		return false, errors.Join(err, fmt.Errorf("stop it to rename it: %w", serr))
	}
	if err := h.Engine.ContainerRename(ctx, id, name); err != nil {
		return true, err
	}
	return true, nil
}

// discard removes a new container that never took over.
func (x *Executor) discard(ctx context.Context, h *engine.Host, id string) {
	_ = h.Engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
}

// createNew creates the new container under NAME.tarsup-new, journalled in
// its labels (see Replace), and connects it to its other networks.
func (x *Executor) createNew(ctx context.Context, h *engine.Host, st plan.Step, sw swap) (string, error) {
	spec, name := st.Spec, st.Container.Name
	prevLabel, err := plan.EncodeSpec(st.Previous)
	if err != nil {
		return "", err
	}
	cfg := *spec.Config
	cfg.Image = spec.Image
	cfg.Labels = maps.Clone(cfg.Labels)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[plan.LabelTxn] = newTxnID()
	cfg.Labels[plan.LabelTxnName] = name
	cfg.Labels[plan.LabelTxnOld] = st.Container.ID
	cfg.Labels[plan.LabelTxnOldRunning] = strconv.FormatBool(sw.wasUp)
	cfg.Labels[plan.LabelPrevious] = prevLabel
	cfg.Labels[plan.LabelTxnOwner] = x.Self.String()
	cfg.Labels[plan.LabelTxnStarted] = time.Now().UTC().Format(time.RFC3339)
	cfg.Labels[plan.LabelTxnRestore] = sw.restore

	nc := &network.NetworkingConfig{}
	if spec.Primary != "" && spec.Networks[spec.Primary] != nil {
		nc.EndpointsConfig = map[string]*network.EndpointSettings{spec.Primary: spec.Networks[spec.Primary]}
	}
	created, err := h.Engine.ContainerCreate(ctx, &cfg, spec.HostConfig, nc, nil, name+swapname.New)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name+swapname.New, err)
	}
	for n, ep := range spec.Networks {
		if n == spec.Primary {
			continue
		}
		if err := h.Engine.NetworkConnect(ctx, n, created.ID, ep); err != nil {
			x.discard(ctx, h, created.ID)
			return "", fmt.Errorf("connect %s to network %s: %w", name+swapname.New, n, err)
		}
	}
	return created.ID, nil
}

// swap is what a rollback needs to know of the swap it undoes, as the step
// (or the recovery step) planned it.
type swap struct {
	h           *engine.Host
	old         plan.Container
	wasUp       bool   // the old container ran: start and gate it when it is back
	restore     string // what its gate asks of it (RestoreHealthy, RestoreRunning)
	stopTimeout int    // seconds
	noRollback  bool
	// oldStopped: the swap stopped the old container (a rollback starts it
	// again); false while it still runs aside, as it does until the stop.
	oldStopped bool
	gateRole   images.Role
	hooks      *hookRun // what the step's hooks did; nil in a recovery
	// announce: the step's gate announced the new container's addresses
	// (plan.Step.Announce); a rollback announces the old one's as it starts
	// it again, for the same reason.
	announce bool
}

// rollback puts old back under its name. renamed says whether old was
// already renamed aside; restore is what the old container's gate asks of
// it (RestoreRunning: only that it runs, as before the upgrade).
//
// Why the failed container is renamed before it is stopped: the rename is
// the journal's record that the gate failed (the engine keeps it; labels
// cannot change). A kill after it leaves NAME free, and `recover` then
// undoes the swap at once instead of gating the failed container again; a
// stop first would leave it holding NAME for the whole stop timeout.
func (x *Executor) rollback(ctx context.Context, sw swap, newID string, renamed bool, cause error) (string, string, error) {
	h, old, restore := sw.h, sw.old, sw.restore
	name := old.Name
	base := fmt.Errorf("recreate %s on %s: %w", name, h.Name(), cause)
	if sw.noRollback {
		x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "skipped (--no-rollback)"})
		return newID, ResultLeft, fmt.Errorf("%w\nthe failed new container %s is left for inspection and the old one is kept as %s (stopped); `tarsup recover` rolls back when you are done", base, plan.Short(newID), name+swapname.Old)
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "started", Detail: cause.Error()})
	if sw.hooks != nil {
		sw.hooks.rollback = true
	}
	var errs []error
	// Why rename first: the name moving to NAME.tarsup-failed is the
	// engine's record that the gate failed (recover then undoes at once).
	// The engine refuses to rename a container while it is restarting
	// ("sandbox not found" on 20.10): then stop it and rename it stopped.
	// That refusal is a 404, so any failed first rename is tried again.
	err := h.Engine.ContainerRename(ctx, newID, name+swapname.Failed)
	_ = stopContainer(ctx, h, newID, sw.stopTimeout)
	if err != nil {
		err = h.Engine.ContainerRename(ctx, newID, name+swapname.Failed)
	}
	if err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("rename the new container %s to %s: %w", plan.Short(newID), name+swapname.Failed, err))
	}
	if renamed {
		if err := h.Engine.ContainerRename(ctx, old.ID, name); isNotFound(err) {
			return x.oldGone(ctx, sw, newID, base)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("rename the old container %s back to %s: %w", old.ShortID(), name, err))
		}
	}
	if len(errs) == 0 && sw.wasUp {
		// Why only a stopped one is re-pinned: the old container still
		// runs aside when the swap failed before its stop, holding its
		// addresses; re-pinning reconnects its networks. Its start is then
		// a no-op (the engine answers 304), and its gate still runs: a stop
		// that failed may have left it stopped after all.
		var probe *health.Watch
		if sw.oldStopped {
			x.repin(ctx, h, old)
			// Why prepared before the start: as for the new container, the
			// probe (and the sidecar that announces) is ready when it runs.
			if sw.announce {
				probe = x.Opts.Gate.Prepare(ctx, h, old.ID, sw.gateRole, true)
				defer probe.Close()
			}
		}
		if err := h.Engine.ContainerStart(ctx, old.ID, container.StartOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("start the old container %s: %w", old.ShortID(), err))
		} else if err := x.restoreGate(ctx, sw, probe); err != nil {
			what := "not healthy"
			if restore == plan.RestoreRunning {
				what = "did not stay up"
			}
			errs = append(errs, fmt.Errorf("the old container %s is back but %s: %w", old.ShortID(), what, err))
		}
	}
	if len(errs) > 0 {
		return "", ResultFailed, fmt.Errorf("%w\nROLLBACK FAILED: %w\nstate: old container %s (meant to be %s), new container %s (%s).\nto fix: run `tarsup recover --host %s`; by hand: docker rm -f %s; docker rename %s %s; docker start %s",
			base, errors.Join(errs...), old.ShortID(), name, plan.Short(newID), name+swapname.Failed, h.Spec.URL,
			plan.Short(newID), old.ShortID(), name, name)
	}
	if err := h.Engine.ContainerRemove(ctx, newID, container.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		x.report(Event{Host: h.Name(), Container: name, Action: "remove failed container", Result: "failed", Detail: err.Error()})
	}
	if restore == plan.RestoreRunning && sw.wasUp {
		x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "done", Detail: "the old container runs as before; it was not healthy before the upgrade either"})
		return old.ID, ResultRolledBack, fmt.Errorf("%w\nrolled back: the old container %s runs again as before the upgrade; it was not healthy before the upgrade either (see the plan), so only that it runs was checked", base, old.ShortID())
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "done"})
	return old.ID, ResultRolledBack, base
}

// restoreGate gates the old container a rollback started again, with the
// probe prepared before its start when there is one (and reports what its
// sidecar announced), else as Gate.Restore does.
func (x *Executor) restoreGate(ctx context.Context, sw swap, probe *health.Watch) error {
	if probe == nil {
		return x.Opts.Gate.Restore(ctx, sw.h, sw.old.ID, sw.gateRole, sw.restore)
	}
	err := probe.Restore(ctx, sw.restore)
	x.reportSidecar(sw, probe)
	return err
}
