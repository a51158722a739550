package health

import (
	"context"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Health tells how a container is doing: Docker's own status where the image
// has a HEALTHCHECK, otherwise the Tars probe. detail says why it is not healthy.
func (p *Prober) Health(ctx context.Context, h *engine.Host, c plan.Container) (health, detail string) {
	switch {
	case c.State == "restarting":
		return plan.HealthStarting, "restarting"
	case !c.Running:
		return plan.HealthStopped, ""
	case c.DockerHealth != "":
		return c.DockerHealth, ""
	}
	if err := p.Probe(ctx, h, c); err != nil {
		return plan.HealthUnhealthy, err.Error()
	}
	return plan.HealthHealthy, ""
}
