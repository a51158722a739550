package orchestrator

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
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
		if _, dead := DeadHelper(c.Labels, x.Self, time.Now()); !dead {
			continue
		}
		_ = h.Engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}
