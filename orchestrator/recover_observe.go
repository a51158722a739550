package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// ObserveRecovery reads what recovery needs of an engine: the journal of
// every interrupted upgrade, the containers under tarsup's temporary names
// that are not tarsup's, and the engine lock. It is the only part of
// recovery that reads the engine; self is this process, whose own swaps
// and lock are never live.
func ObserveRecovery(ctx context.Context, h *engine.Host, self owner.Owner) (plan.RecoveryFacts, error) {
	f := plan.RecoveryFacts{Host: h.Name()}
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return f, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	for _, holder := range plan.NameHolders(list, plan.FindSwaps(list)) {
		if !holder.Tarsup {
			f.Foreign = append(f.Foreign, holder)
		}
	}
	if f.Swaps, err = observeSwaps(ctx, h, self, list); err != nil {
		return f, err
	}
	f.Lock, err = observeLock(ctx, h, self)
	return f, err
}

// observeLock reads the engine lock container, if any.
func observeLock(ctx context.Context, h *engine.Host, self owner.Owner) (plan.EngineLock, error) {
	l := plan.EngineLock{Name: lock.EngineLockName, Label: lock.LabelLock}
	in, err := h.Engine.ContainerInspect(ctx, lock.EngineLockName)
	if isNotFound(err) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("read the engine lock on %s: %w", h.Name(), err)
	}
	var labels map[string]string
	if in.Config != nil {
		labels, l.Image = in.Config.Labels, in.Config.Image
	}
	l.Held, l.Tarsup = true, labels[lock.LabelLock] != ""
	l.Owner, l.Named = owner.ParseOwner(labels[owner.LabelOwner])
	l.Started, _ = time.Parse(time.RFC3339, labels[owner.LabelStarted])
	l.Mine = l.Named && l.Owner == self
	l.Live = l.Named && l.Owner.Live(self, l.Started, time.Now())
	return l, nil
}

// ObserveSwaps reads the journal of every interrupted upgrade on an engine;
// self is this process, whose own swaps are never live.
func ObserveSwaps(ctx context.Context, h *engine.Host, self owner.Owner) ([]plan.Swap, error) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	return observeSwaps(ctx, h, self, list)
}

// observeSwaps reads the swaps of an engine's container list, inspecting
// the containers recovery acts on.
func observeSwaps(ctx context.Context, h *engine.Host, self owner.Owner, list []container.Summary) ([]plan.Swap, error) {
	var err error
	byName := map[string]*container.Summary{}
	for i := range list {
		for _, n := range list[i].Names {
			byName[strings.TrimPrefix(n, "/")] = &list[i]
		}
	}
	var out []plan.Swap
	for _, j := range plan.FindSwaps(list).Journals {
		s := plan.Swap{Host: h.Name(), Name: j.Name, Orphan: j.Orphan, WasUp: j.WasUp, Restore: j.Restore}
		if holder := byName[j.Name]; holder != nil {
			s.Holder, s.HolderName = holder.ID, plan.NameOf(*holder)
		}
		s.Owner, s.Started, s.Journaled = j.Owner()
		s.Live = s.Journaled && s.Owner.Live(self, s.Started, time.Now())
		if j.Problem != "" {
			// Why nothing is inspected: nothing of it is acted on.
			s.Problem = j.Problem
			out = append(out, s)
			continue
		}
		if j.Orphan {
			s.Old = plan.Container{ID: j.OldC.ID, Name: plan.NameOf(*j.OldC), Host: h.Name()}
			out = append(out, s)
			continue
		}
		s.Old, err = inspectContainer(ctx, h, j.OldC.ID)
		if err == nil && s.Holder == j.NewC.ID {
			// Why only then: a new container that never took over is only
			// removed; one that failed its gate must not look gated again.
			s.New, err = inspectContainer(ctx, h, j.NewC.ID)
		}
		if err != nil {
			s.Err = err.Error()
		}
		s.Old.ID, s.New.ID = j.OldC.ID, j.NewC.ID
		s.NewNetworks = plan.AttachedBefore(*j.NewC, s.Old)
		s.Old.Name, s.New.Name = plan.NameOf(*j.OldC), plan.NameOf(*j.NewC)
		out = append(out, s)
	}
	return out, nil
}

// inspectContainer inspects one container into a Container.
func inspectContainer(ctx context.Context, h *engine.Host, id string) (plan.Container, error) {
	in, err := h.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return plan.Container{}, fmt.Errorf("inspect %s on %s: %w", plan.Short(id), h.Name(), err)
	}
	img, err := h.Engine.ImageInspect(ctx, in.Image)
	if err != nil && !isNotFound(err) {
		return plan.Container{}, fmt.Errorf("inspect image %s on %s: %w", plan.Short(in.Image), h.Name(), err)
	}
	return plan.FromInspect(h.Name(), in, img), nil
}

// NeedsRecovery reports whether an engine holds an unfinished swap of
// tarsup's own: a journaled successor whose predecessor still exists, or an
// old container aside that an earlier tarsup upgrade created. Anybody
// else's container under a temporary name is not one.
func NeedsRecovery(ctx context.Context, h *engine.Host) (bool, error) {
	all, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return false, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	return len(plan.FindSwaps(all).Journals) > 0, nil
}

// DeadHelper reports whether a container with these labels is a helper
// (tarsup.probe: a probe sidecar, a database client) that a tarsup which
// is gone left behind, and which tarsup: its owner label names a process
// that is not self and may no longer be at work (owner.Live). A helper
// without an owner label is nobody's to remove.
func DeadHelper(labels map[string]string, self owner.Owner, now time.Time) (owner.Owner, bool) {
	if labels[plan.LabelProbe] == "" {
		return owner.Owner{}, false
	}
	by, ok := owner.ParseOwner(labels[plan.LabelTxnOwner])
	started, _ := time.Parse(time.RFC3339, labels[plan.LabelTxnStarted])
	if !ok || by == self || by.Live(self, started, now) {
		return by, false
	}
	return by, true
}

// observeSweep lists, as a dry run's rows, the helpers of tarsups that are
// gone (DeadHelper), which a real recover removes when it takes the
// engine lock.
func observeSweep(ctx context.Context, h *engine.Host, self owner.Owner) ([]plan.Recovery, error) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	var rows []plan.Recovery
	now := time.Now()
	for _, c := range list {
		by, dead := DeadHelper(c.Labels, self, now)
		if !dead {
			continue
		}
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		what := "probe sidecar"
		if v := c.Labels[plan.LabelProbe]; v != "1" {
			what = "tarsup helper (" + plan.LabelProbe + "=" + v + ")"
		}
		rows = append(rows, plan.Recovery{Host: h.Name(), Name: name, Action: what,
			Result: fmt.Sprintf("would: remove it as the engine lock is taken (%s): tarsup %s, which left it, is gone", c.State, by)})
	}
	return rows, nil
}
