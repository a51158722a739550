// Package health decides whether a container works: the Tars checks of a
// role, the probes that run them (direct, or from a sidecar built from this
// binary), the gate a new container must pass before the old one goes, and
// the pre-flight probe that records how each was before.
package health

import (
	"context"
	"fmt"
	"github.com/tarsup/tarsup/internal/wait"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// HealthProber is what a gate asks whether a container's service answers
// (a *Prober: the Tars probe, direct or by sidecar), and the pre-flight that
// proves, before anything stops, that it can.
type HealthProber interface {
	Probe(ctx context.Context, h *engine.Host, c plan.Container) error
	Preflight(ctx context.Context, hosts map[string]*engine.Host, draft plan.Plan) (plan.Preflight, error)
	// UsesSidecar reports whether a probe on h creates a container, so the
	// gate probes sparingly there.
	UsesSidecar(h *engine.Host) bool
}

// Gate says when a container counts as up.
type Gate struct {
	Prober HealthProber
	// Timeout bounds the wait for the first healthy answer.
	Timeout time.Duration
	// Monitor is how long the container must then stay up: no exit, no
	// restart, still healthy.
	Monitor time.Duration
	// Interval is the pause between polls (1 s when zero).
	Interval time.Duration
}

// DefaultHealthTimeout suits a real Tars framework's start: it waits for
// MySQL, applies schema upgrades and restarts every service, which takes
// minutes on a loaded host; the docs give no upper bound.
const DefaultHealthTimeout = 5 * time.Minute

// DefaultMonitor is how long a new container must stay up after its first
// healthy answer.
const DefaultMonitor = 10 * time.Second

// GateError is a failed health gate; Logs holds the container's last lines.
type GateError struct {
	Container string
	Host      string
	Reason    string
	Logs      string
}

func (e *GateError) Error() string {
	msg := fmt.Sprintf("%s on %s: %s", e.Container, e.Host, e.Reason)
	if e.Logs != "" {
		msg += "\n--- last log lines of " + e.Container + " ---\n" + e.Logs
	}
	return msg
}

// begin is how both gates start: the container as first seen, the poll
// interval, and how a failure names it (with its last log lines).
func (g Gate) begin(ctx context.Context, h *engine.Host, id string, role images.Role) (plan.Container, time.Duration, func(string) error, error) {
	interval := g.Interval
	if interval <= 0 {
		interval = time.Second
	}
	first, err := g.look(ctx, h, id, role)
	if err != nil {
		return plan.Container{}, 0, nil, err
	}
	fail := func(reason string) error {
		return &GateError{Container: first.Name, Host: h.Name(), Reason: reason, Logs: lastLines(ctx, h, id, 20)}
	}
	return first, interval, fail, nil
}

// Wait blocks until the container is healthy and has stayed so for the
// monitor period, or returns a *GateError.
func (g Gate) Wait(ctx context.Context, h *engine.Host, id string, role images.Role) error {
	first, interval, fail, err := g.begin(ctx, h, id, role)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(g.Timeout)
	var lastWhy string
	for {
		c, err := g.look(ctx, h, id, role)
		if err != nil {
			return err
		}
		if why := down(first, c); why != "" {
			return fail(why)
		}
		ok, why := g.healthy(ctx, h, c)
		if ok {
			break
		}
		if c.DockerHealth == plan.HealthUnhealthy {
			return fail("Docker reports it unhealthy")
		}
		lastWhy = why
		if time.Now().After(deadline) {
			return fail(fmt.Sprintf("not healthy after %s (--health-timeout): %s", g.Timeout, lastWhy))
		}
		if err := wait.Sleep(ctx, interval); err != nil {
			return err
		}
	}
	// Why the Tars probe by sidecar runs only at the end of the monitor
	// period: each one is a container created on the remote engine, and a
	// roll-out at --parallel 8 would create eight a second. The engine's own
	// view (running, restart count, start time, Docker health) is read every
	// poll; a direct probe is cheap and runs every poll too.
	sidecar := g.Prober.UsesSidecar(h)
	end := time.Now().Add(g.Monitor)
	for last := g.Monitor <= 0; !last; {
		if err := wait.Sleep(ctx, interval); err != nil {
			return err
		}
		last = !time.Now().Before(end)
		c, err := g.look(ctx, h, id, role)
		if err != nil {
			return err
		}
		if why := down(first, c); why != "" {
			return fail(why + " during the --monitor period")
		}
		if c.DockerHealth == "" && sidecar && !last {
			continue
		}
		if ok, why := g.healthy(ctx, h, c); !ok {
			return fail("stopped answering during the --monitor period: " + why)
		}
	}
	return nil
}

// Restore is the rollback's gate for a container put back: Wait when
// restore is RestoreHealthy, WaitRunning when it is RestoreRunning (the
// container was not healthy before the upgrade).
func (g Gate) Restore(ctx context.Context, h *engine.Host, id string, role images.Role, restore string) error {
	if restore == plan.RestoreRunning {
		return g.WaitRunning(ctx, h, id, role)
	}
	return g.Wait(ctx, h, id, role)
}

// WaitRunning asks of a container only that it is up as it was before:
// running, and still so (no exit, no restart) after the monitor period. It
// demands no health: it is the gate of a container that was not healthy
// before the upgrade, put back by a rollback.
func (g Gate) WaitRunning(ctx context.Context, h *engine.Host, id string, role images.Role) error {
	first, interval, fail, err := g.begin(ctx, h, id, role)
	if err != nil {
		return err
	}
	if why := down(first, first); why != "" {
		return fail(why)
	}
	end := time.Now().Add(g.Monitor)
	for {
		if err := wait.Sleep(ctx, interval); err != nil {
			return err
		}
		c, err := g.look(ctx, h, id, role)
		if err != nil {
			return err
		}
		if why := down(first, c); why != "" {
			return fail(why + " during the --monitor period (it was not healthy before the upgrade either, so only running was asked of it)")
		}
		if !time.Now().Before(end) {
			return nil
		}
	}
}

func (g Gate) look(ctx context.Context, h *engine.Host, id string, role images.Role) (plan.Container, error) {
	in, err := h.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return plan.Container{}, fmt.Errorf("health gate: inspect %s on %s: %w", id, h.Name(), err)
	}
	c := plan.FromInspect(h.Name(), in, image.InspectResponse{})
	if role != images.RoleNone {
		c.Role = role
		c.Slave = role == images.RoleFramework && c.Env["SLAVE"] == "true"
	}
	return c, nil
}

// down says why a container that was started is no longer up, or "".
func down(first, now plan.Container) string {
	switch {
	case now.RestartCount > first.RestartCount:
		return fmt.Sprintf("restarted (restart count %d)", now.RestartCount)
	case now.State == "restarting":
		return "is restarting"
	case !now.Running:
		code := 0
		if now.Inspect.State != nil {
			code = now.Inspect.State.ExitCode
		}
		return fmt.Sprintf("exited with code %d", code)
	case first.StartedAt != "" && now.StartedAt != first.StartedAt:
		return "was restarted"
	}
	return ""
}

func (g Gate) healthy(ctx context.Context, h *engine.Host, c plan.Container) (bool, string) {
	if c.DockerHealth != "" {
		return c.DockerHealth == plan.HealthHealthy, "Docker health is " + c.DockerHealth
	}
	if err := g.Prober.Probe(ctx, h, c); err != nil {
		return false, err.Error()
	}
	return true, ""
}
