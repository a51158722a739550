package plan

import (
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/network"
)

// Reattach is a network the old container of an interrupted swap is
// connected to again before its successor goes, with this endpoint.
type Reattach struct {
	Network  string
	Endpoint *network.EndpointSettings
}

// Reattachments lists the networks the old container of an interrupted swap
// must be connected to again: each its successor is on and it is not, with
// the successor's endpoint (the old container's own address, pinned; its
// aliases). Why: a rollback's repin disconnects the old container before
// connecting it again at its address; a tarsup killed (or an engine
// restarted) in between leaves it on no network, and started so it would
// come back with no address at all. The successor, about to be removed, is
// the only record of how it was attached. It is pure.
func Reattachments(old Container, newID string, newNets map[string]*network.EndpointSettings) []Reattach {
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
