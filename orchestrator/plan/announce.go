package plan

import (
	"slices"

	"github.com/docker/docker/api/types/versions"
)

// Announce modes (--announce): whether a recreate's gate sidecar
// broadcasts the new container's IPv4 addresses (gratuitous ARP) when it
// starts.
const (
	// AnnounceAuto announces on engines before Docker 28 where the new
	// container may be alone on one of its networks after the stop (see
	// announceStep).
	AnnounceAuto = "auto"
	// AnnounceOn announces on every engine.
	AnnounceOn = "on"
	// AnnounceOff never announces.
	AnnounceOff = "off"
)

// AnnounceAPI is the first Engine API version whose engine (Docker 28)
// announces a container's new interface itself.
const AnnounceAPI = "1.48"

// applyAnnounce decides, for each recreate of p that is started, whether
// its gate announces the new container's addresses.
func (pol Policy) applyAnnounce(p *Plan, all []HostState) {
	state := map[string]HostState{}
	for _, s := range all {
		state[s.Host] = s
	}
	for i := range p.Phases {
		ph := &p.Phases[i]
		together := map[string]bool{} // containers this phase may stop at once
		if ph.Parallel > 1 {
			for _, st := range ph.Steps {
				together[st.Container.ID] = true
			}
		}
		for j := range ph.Steps {
			st := &ph.Steps[j]
			if st.Kind == StepRecreate {
				st.Announce = pol.announceStep(*st, state[st.Host], together)
			}
		}
	}
}

// announceStep is the rule. Never for a container without a network
// namespace of its own (host, none, another container's); always with
// AnnounceOn. With AnnounceAuto, on engines before Docker 28 only, where
// one of the container's networks has no running container left while
// it is swapped: none but the old container, or only containers of its
// phase that may be swapped at the same moment (together). Why: such a
// network's bridge loses its last port at the stop, drops its carrier,
// and the host forgets the address's neighbour entry; its clients then
// wait for an ARP retry, a second apart. Where another container stays on
// the network the entry stays, and so does the address's MAC (engines
// before 28 derive it from the IP): an announcement would only add a
// sidecar start to the new container's.
func (pol Policy) announceStep(st Step, s HostState, together map[string]bool) bool {
	if pol.Announce == AnnounceOff {
		return false
	}
	if hc := st.Spec.HostConfig; hc != nil && (hc.NetworkMode.IsHost() || hc.NetworkMode.IsNone() || hc.NetworkMode.IsContainer()) {
		return false
	}
	if pol.Announce == AnnounceOn {
		return true
	}
	if !versions.LessThan(s.APIVersion, AnnounceAPI) {
		return false
	}
	for n := range st.Spec.Networks {
		stays := slices.ContainsFunc(s.RunningOn[n], func(id string) bool {
			return id != st.Container.ID && !together[id]
		})
		if !stays {
			return true
		}
	}
	return false
}
