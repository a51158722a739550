package plan

import (
	"maps"
	"slices"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
)

// Endpoints returns the primary network (the one given at create) and every
// user network's endpoint settings: static IPs, aliases, links, driver options.
func Endpoints(old container.InspectResponse, mode container.NetworkMode) (string, map[string]*network.EndpointSettings) {
	if mode.IsHost() || mode.IsNone() || mode.IsContainer() || old.NetworkSettings == nil {
		return "", nil
	}
	primary := string(mode)
	if primary == "" || primary == "default" {
		primary = "bridge"
	}
	out := map[string]*network.EndpointSettings{}
	for name, ep := range old.NetworkSettings.Networks {
		if ep == nil {
			continue
		}
		e := &network.EndpointSettings{Links: slices.Clone(ep.Links), DriverOpts: maps.Clone(ep.DriverOpts)}
		if ep.IPAMConfig != nil {
			ipam := *ep.IPAMConfig
			e.IPAMConfig = &ipam
		}
		for _, a := range ep.Aliases {
			// The engine adds the short container ID as an alias; the new
			// container gets its own.
			if len(old.ID) >= 12 && a == old.ID[:12] {
				continue
			}
			e.Aliases = append(e.Aliases, a)
		}
		out[name] = e
	}
	if _, ok := out[primary]; !ok {
		// The mode names a network by ID; find it.
		for name, ep := range old.NetworkSettings.Networks {
			if ep != nil && ep.NetworkID == primary {
				primary = name
			}
		}
	}
	return primary, out
}

// NetworkFacts is what planning knows of one network of an engine.
type NetworkFacts struct {
	Name   string
	ID     string
	Driver string
	// ConfiguredSubnet says the network's IPAM config shows a subnet the
	// operator set: one without the gateway the engine fills in, or with an
	// IP range or auxiliary addresses. A network created without --subnet
	// shows its allocated subnet and gateway. (One created with both
	// --subnet and --gateway looks the same: tarsup cannot tell them apart.)
	ConfiguredSubnet bool
}

// NetworkFactsOf reads what planning needs from a network inspection.
func NetworkFactsOf(n network.Inspect) NetworkFacts {
	f := NetworkFacts{Name: n.Name, ID: n.ID, Driver: n.Driver}
	for _, c := range n.IPAM.Config {
		if c.Subnet != "" && (c.Gateway == "" || c.IPRange != "" || len(c.AuxAddress) > 0) {
			f.ConfiguredSubnet = true
		}
	}
	return f
}

// Pin is an address the new container asks for on one network: the old
// container's, so that Tars finds its framework or node at the same IP.
type Pin struct {
	Network string `json:"network"`
	IP      string `json:"ip"`
	IPv6    bool   `json:"ipv6,omitempty"`
	// Dynamic says the engine had assigned the address (no --ip): the pin
	// is what keeps it.
	Dynamic bool `json:"dynamic,omitempty"`
}

// LostAddress is an address of the old container that the new one cannot
// ask for, and why.
type LostAddress struct {
	Network string `json:"network"`
	IP      string `json:"ip"`
	Reason  string `json:"reason"`
}

// defaultBridge is the engine's own bridge network: it takes no
// user-specified address ("supported on user defined networks only").
const defaultBridge = "bridge"

// PinAddresses lists, network by network (in name order), the addresses of
// old that its successor asks for, and those it cannot keep. Host, none and
// container network modes have no address of their own; a stopped
// container holds no engine-assigned address. nets are the engine's
// networks by name (nil: unknown, taken as able to pin).
func PinAddresses(old container.InspectResponse, nets map[string]NetworkFacts, apiVersion string) ([]Pin, []LostAddress) {
	if old.HostConfig != nil {
		if m := old.HostConfig.NetworkMode; m.IsHost() || m.IsNone() || m.IsContainer() {
			return nil, nil
		}
	}
	if old.NetworkSettings == nil {
		return nil, nil
	}
	var pins []Pin
	var lost []LostAddress
	for _, name := range slices.Sorted(maps.Keys(old.NetworkSettings.Networks)) {
		ep := old.NetworkSettings.Networks[name]
		if ep == nil {
			continue
		}
		var static network.EndpointIPAMConfig
		if ep.IPAMConfig != nil {
			static = *ep.IPAMConfig
		}
		for _, a := range []struct {
			static, current string
			v6              bool
		}{{static.IPv4Address, ep.IPAddress, false}, {static.IPv6Address, ep.GlobalIPv6Address, true}} {
			if a.static != "" {
				pins = append(pins, Pin{Network: name, IP: a.static, IPv6: a.v6})
				continue
			}
			if a.current == "" {
				continue
			}
			if reason := unpinnable(name, nets, apiVersion); reason != "" {
				lost = append(lost, LostAddress{Network: name, IP: a.current, Reason: reason})
				continue
			}
			pins = append(pins, Pin{Network: name, IP: a.current, IPv6: a.v6, Dynamic: true})
		}
	}
	return pins, lost
}

// unpinnable says why the engine would refuse a user-specified address on
// a network, or "".
func unpinnable(name string, nets map[string]NetworkFacts, apiVersion string) string {
	if name == defaultBridge {
		return "the default bridge network takes no fixed address"
	}
	// Why only before API 1.44: Engine 20.10 (API 1.41) refuses a fixed
	// address on a network without a configured subnet (checked); later
	// engines take one.
	if f, ok := nets[name]; ok && !f.ConfiguredSubnet && apiVersion != "" && versions.LessThan(apiVersion, "1.44") {
		return "network " + name + " has no configured subnet, and this engine (API " + apiVersion + ") gives fixed addresses only on networks created with --subnet"
	}
	return ""
}
