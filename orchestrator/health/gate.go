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

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
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
	// Interval is the pause between polls (1 s when zero), once the fast
	// polls are over.
	Interval time.Duration
	// FastInterval is the pause between the polls of the first FastFor
	// after a gate begins (DefaultFastInterval, DefaultFastFor when zero):
	// a new container's first answer is noticed at once.
	FastInterval, FastFor time.Duration
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
// monitor period, or returns a *GateError. The probe is prepared now (see
// Prepare, which a swap calls before the old container stops).
func (g Gate) Wait(ctx context.Context, h *engine.Host, id string, role images.Role) error {
	w := g.Prepare(ctx, h, id, role, false)
	defer w.Close()
	return w.Wait(ctx)
}

// Fast polling (Gate.FastInterval, Gate.FastFor): how soon a gate notices
// a new container's first answer.
const (
	DefaultFastInterval = 20 * time.Millisecond
	DefaultFastFor      = 3 * time.Second
	// lookEvery is how often the fast polls read the engine's view of the
	// container (a probe that answers reads it at once): an inspect every
	// 20 ms per gate would load the engine at --parallel 8 for nothing.
	lookEvery = 100 * time.Millisecond
)

// pacer spaces a gate's polls: FastInterval for FastFor after the gate
// began, then doubling up to the gate's interval.
type pacer struct {
	begin             time.Time
	fast, fastFor, at time.Duration
	max               time.Duration
}

func (g Gate) pacer(interval time.Duration) *pacer {
	p := &pacer{begin: time.Now(), fast: g.FastInterval, fastFor: g.FastFor, max: interval}
	if p.fast <= 0 {
		p.fast = DefaultFastInterval
	}
	if p.fastFor <= 0 {
		p.fastFor = DefaultFastFor
	}
	if p.fast > p.max {
		p.fast = p.max
	}
	p.at = p.fast
	return p
}

// next is the pause before the next poll, at now.
func (p *pacer) next(now time.Time) time.Duration {
	if now.Sub(p.begin) < p.fastFor {
		return p.fast
	}
	p.at = min(p.at*2, p.max)
	return p.at
}

// wait is Wait with the probe's session (nil: Probe each time).
func (g Gate) wait(ctx context.Context, h *engine.Host, id string, role images.Role, sess ProbeSession) error {
	first, interval, fail, err := g.begin(ctx, h, id, role)
	if err != nil {
		return err
	}
	probe := func(c plan.Container) error {
		if sess != nil {
			return sess.Probe(ctx, c)
		}
		return g.Prober.Probe(ctx, h, c)
	}
	// Why the Tars probe by a sidecar of its own runs only at the end of
	// the monitor period: each one is a container created on the remote
	// engine, and a roll-out at --parallel 8 would create eight a second.
	// A session's sidecar is asked as often as a direct probe is run.
	sparse := sess == nil && g.Prober.UsesSidecar(h)
	pace := g.pacer(interval)
	if sparse {
		// A sidecar each time: no fast polls either.
		pace.fastFor, pace.fast, pace.at = 0, interval, interval
	}
	if err := g.firstAnswer(ctx, h, id, role, first, pace, probe, fail); err != nil {
		return err
	}
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
		if c.DockerHealth == "" && sparse && !last {
			continue
		}
		if ok, why := g.healthyWith(c, probe); !ok {
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

// firstAnswer polls, as pace spaces them, until the container first
// answers healthy (or fails, or the timeout passes).
func (g Gate) firstAnswer(ctx context.Context, h *engine.Host, id string, role images.Role, first plan.Container, pace *pacer,
	probe func(plan.Container) error, fail func(string) error) error {
	interval := pace.max
	deadline := time.Now().Add(g.Timeout)
	c, looked := first, time.Now()
	var err error
	var lastWhy string
	// Why events for a HEALTHCHECK: its status changes only when a check
	// runs, at the image's interval; the event says so at once, where a
	// poll backed off to --interval would notice it up to that much later.
	var wake <-chan struct{}
	if first.DockerHealth != "" {
		var stop func()
		wake, stop = healthEvents(ctx, h, id)
		defer stop()
	}
	for {
		if time.Since(looked) >= min(lookEvery, interval) {
			if c, err = g.look(ctx, h, id, role); err != nil {
				return err
			}
			looked = time.Now()
			if why := down(first, c); why != "" {
				return fail(why)
			}
		}
		ok, why := g.healthyWith(c, probe)
		if ok {
			// Why look again: the answer must come from the container as
			// first started, still running.
			if c, err = g.look(ctx, h, id, role); err != nil {
				return err
			}
			if why := down(first, c); why != "" {
				return fail(why)
			}
			if c.DockerHealth == "" || c.DockerHealth == plan.HealthHealthy {
				return nil
			}
			why = "Docker health is " + c.DockerHealth
		}
		if c.DockerHealth == plan.HealthUnhealthy {
			return fail("Docker reports it unhealthy")
		}
		lastWhy = why
		if time.Now().After(deadline) {
			return fail(fmt.Sprintf("not healthy after %s (--health-timeout): %s", g.Timeout, lastWhy))
		}
		woken, err := wait.SleepOrWake(ctx, pace.next(time.Now()), wake)
		if err != nil {
			return err
		}
		if woken {
			looked = time.Time{} // a health status changed: look now
		}
	}
}

// healthEvents wakes a gate on each health_status event of container id
// (a nil channel, which never wakes, where the engine cannot stream them:
// the gate then polls). stop ends the stream.
func healthEvents(ctx context.Context, h *engine.Host, id string) (<-chan struct{}, func()) {
	ectx, cancel := context.WithCancel(ctx)
	msgs, errs := h.Engine.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("container", id),
		filters.Arg("event", "health_status"))})
	if msgs == nil {
		return nil, cancel
	}
	wake := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-msgs:
				select {
				case wake <- struct{}{}:
				default:
				}
			case <-errs:
				return
			case <-ectx.Done():
				return
			}
		}
	}()
	return wake, cancel
}

// healthyWith judges c by its Docker health where it has one, else by
// probe.
func (g Gate) healthyWith(c plan.Container, probe func(plan.Container) error) (bool, string) {
	if c.DockerHealth != "" {
		return c.DockerHealth == plan.HealthHealthy, "Docker health is " + c.DockerHealth
	}
	if err := probe(c); err != nil {
		return false, err.Error()
	}
	return true, ""
}
