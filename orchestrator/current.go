package orchestrator

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// listing is what an engine's container list says of its containers (IDs,
// names, images, run states), tarsup's lock and probe containers aside: a
// fingerprint that tells whether anything changed since an observation.
func listing(list []container.Summary) string {
	rows := []string{"containers:"}
	for _, s := range list {
		if s.Labels[plan.LabelProbe] != "" || s.Labels[lock.LabelLock] != "" {
			continue
		}
		rows = append(rows, strings.Join([]string{s.ID, strings.Join(s.Names, ","), s.ImageID, s.State}, " "))
	}
	sort.Strings(rows[1:])
	return strings.Join(rows, "\n")
}

// observeOnce returns the states an upgrade plans from: observed, those
// the caller observed already (a refresh's), when they are of these hosts,
// nothing was recovered since and every engine still lists the same
// containers; otherwise a fresh observation. Why the check: observed holds
// what the engines were before the upgrade took their locks, and another
// tarsup may have swapped containers in between; a list is one cheap call
// per engine, a fresh observation inspects every container and image.
func observeOnce(ctx context.Context, hosts []*engine.Host, observed []plan.HostState, recovered bool) ([]plan.HostState, error) {
	if recovered || len(observed) != len(hosts) {
		return ObserveAll(ctx, hosts)
	}
	for i, s := range observed {
		if s.Host != hosts[i].Name() || s.Listing == "" {
			return ObserveAll(ctx, hosts)
		}
		list, err := hosts[i].Engine.ContainerList(ctx, container.ListOptions{All: true})
		if err != nil {
			return nil, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", s.Host, err))
		}
		if listing(list) != s.Listing {
			return ObserveAll(ctx, hosts)
		}
	}
	return observed, nil
}
