package plan

import (
	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/images"
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

// GateProbes reports whether the new container's gate uses the Tars probe:
// neither its configuration nor its image sets a HEALTHCHECK (unknown in a
// dry run, which counts as yes).
func (s Step) GateProbes() bool {
	var test []string
	if s.Spec.Config != nil && s.Spec.Config.Healthcheck != nil {
		test = s.Spec.Config.Healthcheck.Test
	} else if s.Target.Config != nil && s.Target.Config.Healthcheck != nil {
		test = s.Target.Config.Healthcheck.Test
	}
	return len(test) == 0 || test[0] == "NONE"
}

// AssumeHealthy marks every running node as healthy: a draft plan built
// with it lists every node a re-check could use, which the pre-flight then
// probes.
func AssumeHealthy(states []HostState) Preflight {
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

// restoreOf reads the journal's restore demand from a new container's labels.
func restoreOf(c *container.Summary) string {
	if c != nil && c.Labels[LabelTxnRestore] == RestoreRunning {
		return RestoreRunning
	}
	return RestoreHealthy
}
