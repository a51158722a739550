package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// preflightParallel bounds the probes under way at once.
const preflightParallel = 16

// probeTarget is one container the pre-flight probes.
type probeTarget struct {
	h *engine.Host
	c plan.Container
	// tars: the Tars probe must be proven even where the container has
	// Docker health, because a gate on it (the new container's, a
	// re-check) uses the Tars probe.
	tars bool
}

// Preflight probes, in parallel and before anything changes, every running
// container the draft plan replaces or re-checks, with the mechanism its
// gates will use. A mechanism that cannot work (*ProbeError) is bad input
// (exit 2, nothing changed); a container that answers unhealthy is not an
// error: its finding goes into the plan.
func (p *Prober) Preflight(ctx context.Context, hosts map[string]*engine.Host, draft plan.Plan) (plan.Preflight, error) {
	if p == nil {
		return nil, nil
	}
	var targets []probeTarget
	seen := map[string]bool{}
	for _, ph := range draft.Phases {
		for _, st := range ph.Steps {
			h := hosts[st.Host]
			if h == nil || st.Kind == plan.StepCleanupImage || seen[st.Container.ID] || (!st.Container.Running && st.Container.State != "restarting") {
				continue
			}
			seen[st.Container.ID] = true
			targets = append(targets, probeTarget{h: h, c: st.Container, tars: st.Kind == plan.StepRecheck || st.GateProbes()})
		}
	}
	out := plan.Preflight{}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, preflightParallel)
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := p.before(ctx, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[t.c.ID] = b
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("pre-flight: the health gate could not probe %d container(s), so an upgrade could neither be gated nor rolled back; nothing was changed:\n%w", len(errs), errors.Join(errs...)))
	}
	return out, nil
}

// before probes one container as its gate would: Docker's health status
// where it has one, else the Tars probe.
func (p *Prober) before(ctx context.Context, t probeTarget) (plan.HealthBefore, error) {
	c := t.c
	if c.State == "restarting" {
		return plan.HealthBefore{State: plan.HealthStarting, Detail: "restarting"}, nil
	}
	if c.DockerHealth == "" || t.tars {
		err := p.Probe(ctx, t.h, c)
		var pe *ProbeError
		if errors.As(err, &pe) {
			return plan.HealthBefore{}, err
		}
		if c.DockerHealth == "" {
			if err != nil {
				return plan.HealthBefore{State: plan.HealthUnhealthy, Detail: oneLine(err.Error())}, nil
			}
			return plan.HealthBefore{State: plan.HealthHealthy}, nil
		}
	}
	if c.DockerHealth == plan.HealthHealthy {
		return plan.HealthBefore{State: plan.HealthHealthy}, nil
	}
	return plan.HealthBefore{State: c.DockerHealth, Detail: "Docker health is " + c.DockerHealth}, nil
}

// oneLine keeps the first line of a probe's answer, for the plan.
func oneLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
