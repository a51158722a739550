package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// LabelTxnRestore journals what a rollback asks of the replaced container
// once it is back (RestoreHealthy or RestoreRunning), so that `recover`
// asks the same after a kill.
const LabelTxnRestore = "tarsup.txn.restore"

// What a rollback asks of the old container once it is back.
const (
	// RestoreHealthy: it must pass the health gate, as it did before.
	RestoreHealthy = "healthy"
	// RestoreRunning: it must start and stay up; it was not healthy before
	// the upgrade, so no health is demanded that it never had.
	RestoreRunning = "running"
)

// HealthBefore is what the pre-flight probe found of a container before
// anything changed, by the mechanism its gates use.
type HealthBefore struct {
	// State is HealthHealthy, HealthUnhealthy or HealthStarting; "" when it
	// was not probed (it is not running, or no probe ran).
	State string
	// Detail says why it is not healthy.
	Detail string
}

// Healthy reports whether the container answered healthy.
func (b HealthBefore) Healthy() bool { return b.State == HealthHealthy }

// String is the plan's "was healthy before": yes, no and why, or not probed.
func (b HealthBefore) String() string {
	switch b.State {
	case "":
		return "not probed"
	case HealthHealthy:
		return "yes"
	}
	if b.Detail == "" {
		return "no: " + b.State
	}
	return "no: " + b.Detail
}

// Restore is the rollback's demand that follows from the health before: a
// container that was not healthy is restored running, as it was.
func (b HealthBefore) Restore() string {
	if b.State == "" || b.Healthy() {
		return RestoreHealthy
	}
	return RestoreRunning
}

// Preflight holds the pre-flight probe's findings by container ID.
type Preflight map[string]HealthBefore

// preflightParallel bounds the probes under way at once.
const preflightParallel = 16

// probeTarget is one container the pre-flight probes.
type probeTarget struct {
	h *engine.Host
	c Container
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
func (p *Prober) Preflight(ctx context.Context, hosts map[string]*engine.Host, draft Plan) (Preflight, error) {
	if p == nil {
		return nil, nil
	}
	var targets []probeTarget
	seen := map[string]bool{}
	for _, ph := range draft.Phases {
		for _, st := range ph.Steps {
			h := hosts[st.Host]
			if h == nil || st.Kind == StepCleanupImage || seen[st.Container.ID] || (!st.Container.Running && st.Container.State != "restarting") {
				continue
			}
			seen[st.Container.ID] = true
			targets = append(targets, probeTarget{h: h, c: st.Container, tars: st.Kind == StepRecheck || st.gateProbes()})
		}
	}
	out := Preflight{}
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
func (p *Prober) before(ctx context.Context, t probeTarget) (HealthBefore, error) {
	c := t.c
	if c.State == "restarting" {
		return HealthBefore{State: HealthStarting, Detail: "restarting"}, nil
	}
	if c.DockerHealth == "" || t.tars {
		err := p.Probe(ctx, t.h, c)
		var pe *ProbeError
		if errors.As(err, &pe) {
			return HealthBefore{}, err
		}
		if c.DockerHealth == "" {
			if err != nil {
				return HealthBefore{State: HealthUnhealthy, Detail: oneLine(err.Error())}, nil
			}
			return HealthBefore{State: HealthHealthy}, nil
		}
	}
	if c.DockerHealth == HealthHealthy {
		return HealthBefore{State: HealthHealthy}, nil
	}
	return HealthBefore{State: c.DockerHealth, Detail: "Docker health is " + c.DockerHealth}, nil
}

// gateProbes reports whether the new container's gate uses the Tars probe:
// neither its configuration nor its image sets a HEALTHCHECK (unknown in a
// dry run, which counts as yes).
func (s Step) gateProbes() bool {
	var test []string
	if s.Spec.Config != nil && s.Spec.Config.Healthcheck != nil {
		test = s.Spec.Config.Healthcheck.Test
	} else if s.Target.Config != nil && s.Target.Config.Healthcheck != nil {
		test = s.Target.Config.Healthcheck.Test
	}
	return len(test) == 0 || test[0] == "NONE"
}

// assumeHealthy marks every running node as healthy: a draft plan built
// with it lists every node a re-check could use, which the pre-flight then
// probes.
func assumeHealthy(states []HostState) Preflight {
	out := Preflight{}
	for _, s := range states {
		for _, c := range s.Containers {
			if c.Role == images.RoleNode && c.Running {
				out[c.ID] = HealthBefore{State: HealthHealthy}
			}
		}
	}
	return out
}

// oneLine keeps the first line of a probe's answer, for the plan.
func oneLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// restoreOf reads the journal's restore demand from a new container's labels.
func restoreOf(c *container.Summary) string {
	if c != nil && c.Labels[LabelTxnRestore] == RestoreRunning {
		return RestoreRunning
	}
	return RestoreHealthy
}
