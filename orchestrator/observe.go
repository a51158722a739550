package orchestrator

import (
	"context"
	"fmt"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Observe reads every Tars container (running or not) on one engine, with
// its image, and marks the database container(s) the frameworks point at.
func Observe(ctx context.Context, h *engine.Host) ([]plan.Container, error) {
	cs, _, err := observe(ctx, h)
	return cs, err
}

// observe is Observe that also returns the engine's whole container list.
func observe(ctx context.Context, h *engine.Host) ([]plan.Container, []container.Summary, error) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, nil, fault.Mark(fault.Unreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	var all []plan.Container
	imgs := map[string]image.InspectResponse{}
	for _, s := range list {
		if s.Labels[plan.LabelProbe] != "" || s.Labels[lock.LabelLock] != "" {
			continue
		}
		in, err := h.Engine.ContainerInspect(ctx, s.ID)
		if err != nil {
			if isNotFound(err) { // removed while we looked
				continue
			}
			return nil, nil, fmt.Errorf("inspect container %s on %s: %w", s.ID, h.Name(), err)
		}
		img, ok := imgs[in.Image]
		if !ok {
			img, err = h.Engine.ImageInspect(ctx, in.Image)
			if err != nil && !isNotFound(err) {
				return nil, nil, fmt.Errorf("inspect image %s on %s: %w", in.Image, h.Name(), err)
			}
			imgs[in.Image] = img
		}
		all = append(all, plan.FromInspect(h.Name(), in, img))
	}
	return plan.TarsOnly(all), list, nil
}

// ObserveAll reads every engine in parallel: one slow engine does not
// serialise the others.
func ObserveAll(ctx context.Context, hosts []*engine.Host) ([]plan.HostState, error) {
	out := make([]plan.HostState, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, list, err := observe(ctx, h)
			var nets map[string]plan.NetworkFacts
			if err == nil {
				nets, err = observeNetworks(ctx, h)
			}
			out[i], errs[i] = plan.HostState{Host: h.Name(), APIVersion: h.Engine.ClientVersion(), Containers: cs,
				Holders: plan.NameHolders(list, plan.FindSwaps(list)), Networks: nets, RunningOn: runningOn(list), ImageUsers: imageUsers(list), Listing: listing(list)}, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// imageUsers indexes a container list by image ID.
func imageUsers(list []container.Summary) map[string][]string {
	out := map[string][]string{}
	for _, c := range list {
		out[c.ImageID] = append(out[c.ImageID], c.ID)
	}
	return out
}

// runningOn indexes the running containers of a list by the networks they
// are attached to (tarsup's own probes and locks left out).
func runningOn(list []container.Summary) map[string][]string {
	out := map[string][]string{}
	for _, c := range list {
		if c.State != container.StateRunning || c.NetworkSettings == nil || c.Labels[plan.LabelProbe] != "" || c.Labels[lock.LabelLock] != "" {
			continue
		}
		for n := range c.NetworkSettings.Networks {
			out[n] = append(out[n], c.ID)
		}
	}
	return out
}

// observeNetworks reads the engine's networks: whether each has a
// configured subnet decides whether an address can be kept there.
func observeNetworks(ctx context.Context, h *engine.Host) (map[string]plan.NetworkFacts, error) {
	list, err := h.Engine.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fault.Mark(fault.Unreachable, fmt.Errorf("list networks on %s: %w", h.Name(), err))
	}
	out := make(map[string]plan.NetworkFacts, len(list))
	for _, n := range list {
		out[n.Name] = plan.NetworkFactsOf(n)
	}
	return out, nil
}

// isNotFound reports whether the engine said "no such container/image".
func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
