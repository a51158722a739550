package orchestrator

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// LockAll takes the engine lock of every host (see lock.Engines.LockAll) as
// this executor's process, sweeping the probe sidecars of dead tarsups from
// each engine it locks.
func (x *Executor) LockAll(ctx context.Context, hosts []*engine.Host, wait time.Duration) (func(), error) {
	return x.locks.LockAll(ctx, hosts, wait, lock.Taker{Self: x.Self, Force: x.Force, Taken: x.sweepProbes})
}

// sweepProbes removes the probe sidecars that a tarsup which is gone left
// behind (killed while it probed). Why here: whoever holds the engine lock
// is the one tarsup changing the engine; a live tarsup's sidecars (a dry
// run takes no lock) are left alone, as is a sidecar without owner labels.
// Failures are ignored: a leftover sidecar is clutter, not a risk.
func (x *Executor) sweepProbes(ctx context.Context, h *engine.Host) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return
	}
	for _, c := range list {
		if c.Labels[plan.LabelProbe] == "" {
			continue
		}
		by, ok := owner.ParseOwner(c.Labels[plan.LabelTxnOwner])
		started, _ := time.Parse(time.RFC3339, c.Labels[plan.LabelTxnStarted])
		if !ok || by.Live(x.Self, started, time.Now()) || by == x.Self {
			continue
		}
		_ = h.Engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}
