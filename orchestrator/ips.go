package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// repin gives a stopped old container, before a rollback starts it again,
// the addresses the engine had assigned it, as fixed ones. Why: its
// successor held them and has just let them go; a container whose address
// is dynamic would otherwise take the lowest free one on its start, and
// Tars would find its framework or node at another IP after a "rollback".
// Where the engine refuses the fixed address the container is connected
// back as it was, and the event says so.
func (x *Executor) repin(ctx context.Context, h *engine.Host, old Container) {
	api := h.Engine.ClientVersion()
	pins, _ := PinAddresses(old.Inspect, nil, api)
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
	_, asWas := endpoints(old.Inspect, mode)
	pinned := Derive(DeriveInput{Old: old.Inspect, NewRef: old.Image, Role: old.Role, APIVersion: api}).Networks
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

// Reattach is a network the old container of an interrupted swap is
// connected to again before its successor goes, with this endpoint.
type Reattach struct {
	Network  string
	Endpoint *network.EndpointSettings
}

// reattachments lists the networks the old container of an interrupted swap
// must be connected to again: each its successor is on and it is not, with
// the successor's endpoint (the old container's own address, pinned; its
// aliases). Why: a rollback's repin disconnects the old container before
// connecting it again at its address; a tarsup killed (or an engine
// restarted) in between leaves it on no network, and started so it would
// come back with no address at all. The successor, about to be removed, is
// the only record of how it was attached. It is pure.
func reattachments(old Container, newID string, newNets map[string]*network.EndpointSettings) []Reattach {
	in := old.Inspect
	if in.ContainerJSONBase == nil || in.HostConfig == nil || newNets == nil {
		return nil
	}
	if m := in.HostConfig.NetworkMode; m.IsHost() || m.IsNone() || m.IsContainer() {
		return nil
	}
	var attached map[string]*network.EndpointSettings
	if in.NetworkSettings != nil {
		attached = in.NetworkSettings.Networks
	}
	var out []Reattach
	for _, name := range slices.Sorted(maps.Keys(newNets)) {
		ep := newNets[name]
		if _, ok := attached[name]; ok || ep == nil {
			continue
		}
		want := &network.EndpointSettings{IPAMConfig: ep.IPAMConfig, Links: ep.Links, DriverOpts: ep.DriverOpts}
		for _, a := range ep.Aliases {
			// Why: the engine adds the successor's short ID as an alias.
			if !strings.HasPrefix(newID, a) {
				want.Aliases = append(want.Aliases, a)
			}
		}
		out = append(out, Reattach{Network: name, Endpoint: want})
	}
	return out
}

// reattach connects the old container to the networks the plan lists.
func (x *Executor) reattach(ctx context.Context, h *engine.Host, old Container, nets []Reattach) error {
	for _, r := range nets {
		if err := h.Engine.NetworkConnect(ctx, r.Network, old.ID, r.Endpoint); err != nil {
			return fmt.Errorf("connect the old container %s to network %s again: %w", old.ShortID(), r.Network, err)
		}
		x.report(Event{Host: h.Name(), Container: old.Name, Action: "keep address", Result: "done", Detail: "connected to " + r.Network + " again, as its successor was"})
	}
	return nil
}
