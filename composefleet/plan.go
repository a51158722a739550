package composefleet

import (
	"errors"
	"fmt"
	"sort"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// running lists each engine's observed containers for compose.PlanUpgrade.
func running(states []plan.HostState) map[string][]compose.Running {
	out := map[string][]compose.Running{}
	for _, s := range states {
		for _, c := range s.Containers {
			out[s.Host] = append(out[s.Host], compose.Running{Name: c.Name, Image: c.Image, Labels: c.Labels})
		}
	}
	return out
}

// planFleet makes every project's compose.Upgrade and the container names
// the orchestrator may touch. Why the name check: plan.Request.Only
// selects by name on every engine, so a Tars container of the same name on
// another engine of the fleet, outside the listed projects, would be swept
// in. It is pure.
func (f *Fleet) planFleet(states []plan.HostState, req compose.ImageRequest) ([]*compose.Upgrade, []string, error) {
	run := running(states)
	var ups []*compose.Upgrade
	claimed := map[string]map[string]bool{} // host -> container names
	var errs []error
	for _, p := range f.Projects {
		host := f.hostOf[p]
		u, err := compose.PlanUpgrade(p, host, run[host], req)
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.Name, err))
			continue
		}
		ups = append(ups, u)
		if claimed[host] == nil {
			claimed[host] = map[string]bool{}
		}
		for _, n := range u.Only() {
			claimed[host][n] = true
		}
	}
	if len(errs) > 0 {
		return nil, nil, badInput(errs)
	}
	only, errs := claimedNames(states, claimed)
	if len(errs) > 0 {
		return nil, nil, badInput(errs)
	}
	return ups, only, nil
}

// claimedNames returns the names the projects claim, sorted, and an error
// for each container elsewhere in the fleet that holds one of them.
func claimedNames(states []plan.HostState, claimed map[string]map[string]bool) ([]string, []error) {
	names := map[string]bool{}
	for _, byName := range claimed {
		for n := range byName {
			names[n] = true
		}
	}
	var errs []error
	for _, s := range states {
		for _, c := range s.Containers {
			if names[c.Name] && !claimed[s.Host][c.Name] {
				errs = append(errs, fmt.Errorf("container %s on %s has the name of a container of the listed projects but belongs to none of them; tarsup selects containers by name across the fleet, so rename one (container_name:) or upgrade the engines separately", c.Name, s.Host))
			}
		}
	}
	only := make([]string, 0, len(names))
	for n := range names {
		only = append(only, n)
	}
	sort.Strings(only)
	return only, errs
}

func badInput(errs []error) error {
	return fault.Mark(fault.BadInput, fmt.Errorf("%w\nnothing was changed", errors.Join(errs...)))
}
