package orchestrator

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Pause stops a running container for a while (a restore stops the
// frameworks while it loads their database), as a step would: within its
// own stop timeout, else --stop-timeout. It neither renames nor removes it.
func (x *Executor) Pause(ctx context.Context, h *engine.Host, c plan.Container) error {
	x.report(Event{Host: h.Name(), Container: c.Name, Action: "stop", Detail: c.ShortID()})
	if err := stopContainer(ctx, h, c.ID, x.Opts.Policy(1).StopTimeoutOf(c)); err != nil {
		return fmt.Errorf("stop %s on %s: %w", c.Name, h.Name(), err)
	}
	return nil
}

// Resume starts a container Pause stopped, at the addresses it had (an
// address the engine had assigned is asked for again, as a rollback does),
// and gates it: healthy, or only running when restore is
// plan.RestoreRunning (it was not healthy before). c is the container as
// it was before Pause.
func (x *Executor) Resume(ctx context.Context, h *engine.Host, c plan.Container, restore string) error {
	x.repin(ctx, h, c)
	if err := h.Engine.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start %s on %s: %w", c.Name, h.Name(), err)
	}
	x.report(Event{Host: h.Name(), Container: c.Name, Action: "health gate", Detail: c.ShortID()})
	if err := x.Opts.Gate.Restore(ctx, h, c.ID, c.Role, restore); err != nil {
		return fmt.Errorf("health gate of %s on %s: %w", c.Name, h.Name(), err)
	}
	res := "healthy"
	if restore == plan.RestoreRunning {
		res = "running"
	}
	x.report(Event{Host: h.Name(), Container: c.Name, Action: "start", Result: res})
	return nil
}
