package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
)

// Swap is one interrupted upgrade found on an engine, as its journal (the
// labels and names of the containers) and the engine show it: plain facts
// for PlanRecovery.
type Swap struct {
	Host string
	// Name is the service's name.
	Name string
	// Orphan marks an old container aside whose successor is gone: New is
	// then zero and Old holds only its ID and name.
	Orphan bool
	// Old is the container the upgrade replaces, New the one it created
	// (inspected only when it holds Name); their Name fields are the names
	// they hold now.
	Old, New Container
	// NewNetworks are the new container's endpoints as the container list
	// shows them: the record of how the old one was attached.
	NewNetworks map[string]*network.EndpointSettings
	// WasUp says the old container was running before the upgrade.
	WasUp bool
	// Restore is what the old container's gate asks once it is back (LabelTxnRestore).
	Restore string
	// Holder and HolderName are the container under Name now ("" for none).
	Holder, HolderName string
	// Owner is the tarsup that journaled the swap (Journaled false when none
	// is named), Started when, and Live whether it may still be at work.
	Owner     lock.Owner
	Started   time.Time
	Journaled bool
	Live      bool
	// Err is why a container of the swap could not be inspected ("" when it could).
	Err string
}

// ObserveSwaps reads the journal of every interrupted upgrade on an engine.
// It is the only part of recovery that reads the engine; self is this
// process, whose own swaps are never live.
func ObserveSwaps(ctx context.Context, h *engine.Host, self lock.Owner) ([]Swap, error) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	byName := map[string]*container.Summary{}
	for i := range list {
		for _, n := range list[i].Names {
			byName[strings.TrimPrefix(n, "/")] = &list[i]
		}
	}
	var out []Swap
	for _, j := range findSwaps(list).journals {
		s := Swap{Host: h.Name(), Name: j.name, Orphan: j.orphanO, WasUp: j.wasUp, Restore: j.restore}
		if holder := byName[j.name]; holder != nil {
			s.Holder, s.HolderName = holder.ID, nameOf(*holder)
		}
		s.Owner, s.Started, s.Journaled = j.owner()
		s.Live = s.Journaled && s.Owner.Live(self, s.Started, time.Now())
		if j.orphanO {
			s.Old = Container{ID: j.oldC.ID, Name: nameOf(*j.oldC), Host: h.Name()}
			out = append(out, s)
			continue
		}
		s.Old, err = inspectContainer(ctx, h, j.oldC.ID)
		if err == nil && s.Holder == j.newC.ID {
			// Why only then: a new container that never took over is only
			// removed; one that failed its gate must not look gated again.
			s.New, err = inspectContainer(ctx, h, j.newC.ID)
		}
		if err != nil {
			s.Err = err.Error()
		}
		s.Old.ID, s.New.ID = j.oldC.ID, j.newC.ID
		s.NewNetworks = attachedBefore(*j.newC, s.Old)
		s.Old.Name, s.New.Name = nameOf(*j.oldC), nameOf(*j.newC)
		out = append(out, s)
	}
	return out, nil
}

func nameOf(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// inspectContainer inspects one container into a Container.
func inspectContainer(ctx context.Context, h *engine.Host, id string) (Container, error) {
	in, err := h.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return Container{}, fmt.Errorf("inspect %s on %s: %w", short(id), h.Name(), err)
	}
	img, err := h.Engine.ImageInspect(ctx, in.Image)
	if err != nil && !isNotFound(err) {
		return Container{}, fmt.Errorf("inspect image %s on %s: %w", short(in.Image), h.Name(), err)
	}
	return fromInspect(h.Name(), in, img), nil
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
	return len(findSwaps(all).journals) > 0, nil
}

// attachedBefore is the record of how the old container of a swap was
// attached: the networks of the configuration its successor journals
// (tarsup.previous), with its own addresses pinned. Why not the successor's
// live networks: a successor that is not a faithful copy (made by an older
// tarsup, or by hand) would attach the old container to networks it never
// had. Without that record, the live networks are used only when the old
// container is on no network at all, the state a kill during the rollback's
// re-pin leaves and in which it could not start with an address.
func attachedBefore(newC container.Summary, old Container) map[string]*network.EndpointSettings {
	if prev, err := DecodeSpec(newC.Labels[LabelPrevious]); err == nil && len(prev.Networks) > 0 {
		return prev.Networks
	}
	if newC.NetworkSettings == nil {
		return nil
	}
	if in := old.Inspect; in.ContainerJSONBase != nil && in.NetworkSettings != nil && len(in.NetworkSettings.Networks) > 0 {
		return nil
	}
	return newC.NetworkSettings.Networks
}
