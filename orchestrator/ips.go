package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// repin gives a stopped old container, before a rollback starts it again,
// the addresses the engine had assigned it, as fixed ones. Why: its
// successor held them and has just let them go; a container whose address
// is dynamic would otherwise take the lowest free one on its start, and
// Tars would find its framework or node at another IP after a "rollback".
// Where the engine refuses the fixed address the container is connected
// back as it was, and the event says so.
func (x *Executor) repin(ctx context.Context, h *engine.Host, old plan.Container) {
	api := h.Engine.ClientVersion()
	pins, _ := plan.PinAddresses(old.Inspect, nil, api)
	dynamic := map[string]bool{}
	for _, p := range pins {
		if p.Dynamic {
			dynamic[p.Network] = true
		}
	}
	if len(dynamic) == 0 {
		return
	}
	var mode container.NetworkMode
	if old.Inspect.HostConfig != nil {
		mode = old.Inspect.HostConfig.NetworkMode
	}
	_, asWas := plan.Endpoints(old.Inspect, mode)
	pinned := plan.Derive(plan.DeriveInput{Old: old.Inspect, NewRef: old.Image, Role: old.Role, APIVersion: api}).Networks
	for _, name := range slices.Sorted(maps.Keys(dynamic)) {
		ep, was := pinned[name], asWas[name]
		if ep == nil || was == nil {
			continue
		}
		if err := h.Engine.NetworkDisconnect(ctx, name, old.ID, false); err != nil {
			x.report(Event{Host: h.Name(), Container: old.Name, Action: "keep address", Result: "failed", Detail: fmt.Sprintf("disconnect from %s: %v", name, err)})
			continue
		}
		if err := h.Engine.NetworkConnect(ctx, name, old.ID, ep); err != nil {
			x.report(Event{Host: h.Name(), Container: old.Name, Action: "keep address", Result: "failed", Detail: fmt.Sprintf("connect to %s with its address: %v", name, err)})
			if err := h.Engine.NetworkConnect(ctx, name, old.ID, was); err != nil {
				x.report(Event{Host: h.Name(), Container: old.Name, Action: "keep address", Result: "failed", Detail: fmt.Sprintf("connect to %s again: %v", name, err)})
			}
		}
	}
}

// reattach connects the old container to the networks the plan lists.
func (x *Executor) reattach(ctx context.Context, h *engine.Host, old plan.Container, nets []plan.Reattach) error {
	for _, r := range nets {
		if err := h.Engine.NetworkConnect(ctx, r.Network, old.ID, r.Endpoint); err != nil {
			return fmt.Errorf("connect the old container %s to network %s again: %w", old.ShortID(), r.Network, err)
		}
		x.report(Event{Host: h.Name(), Container: old.Name, Action: "keep address", Result: "done", Detail: "connected to " + r.Network + " again, as its successor was"})
	}
	return nil
}
