package orchestrator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// The engine lock: one tarsup at a time changes an engine. It is a
// container that is created and never started, named EngineLockName: the
// engine reserves container names atomically, so two tarsup processes, on
// one machine or two, cannot both hold it. Its labels name the owner; a lock
// whose owner is gone (see Owner.Live) is taken over.
const (
	// EngineLockName is the lock container's name.
	EngineLockName = "tarsup-lock"
	// LabelLock marks the lock container and its image.
	LabelLock = "tarsup.lock"
	// lockImage is a one-file image loaded into each engine by `docker load`.
	lockImage = "tarsup-lock:1"
)

// lockPoll is the pause between attempts while waiting for a lock.
const lockPoll = time.Second

// LockAll takes the engine lock of every host, in name order, waiting up to
// wait for each. On failure it releases what it took. The returned function
// releases the locks this call took; it ignores cancellation of ctx. Locks
// the executor already holds are skipped, so nested callers (compose upgrade
// around Upgrade) keep them until the outer one releases.
func (x *Executor) LockAll(ctx context.Context, hosts []*engine.Host, wait time.Duration) (func(), error) {
	sorted := append([]*engine.Host(nil), hosts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name() < sorted[j].Name() })
	var took []*engine.Host
	unlock := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, h := range took {
			// Why by ID: should another tarsup have taken the lock over
			// meanwhile (recover --force), its lock is not ours to remove.
			_ = h.Engine.ContainerRemove(rctx, x.held[h], container.RemoveOptions{Force: true})
			delete(x.held, h)
		}
	}
	for _, h := range sorted {
		x.mu.Lock()
		_, mine := x.held[h]
		x.mu.Unlock()
		if mine {
			continue
		}
		id, err := x.lock(ctx, h, wait)
		if err != nil {
			unlock()
			return func() {}, err
		}
		x.mu.Lock()
		if x.held == nil {
			x.held = map[*engine.Host]string{}
		}
		x.held[h] = id
		x.mu.Unlock()
		took = append(took, h)
	}
	return unlock, nil
}

// lock takes one engine's lock and returns the lock container's ID.
//
// Several tarsups may find the same stale lock at once. Each removes it by
// its ID, so none can remove a lock another one has just created; a removal
// that fails (already in progress, already gone) means someone else is
// taking it over, which is contention like any other: wait within wait,
// else fault.Busy (exit 3).
func (x *Executor) lock(ctx context.Context, h *engine.Host, wait time.Duration) (string, error) {
	if err := ensureLockImage(ctx, h); err != nil {
		return "", err
	}
	deadline := time.Now().Add(wait)
	for {
		cfg := &container.Config{Image: lockImage, Labels: map[string]string{
			LabelLock: "1", LabelTxnOwner: x.Self.String(), LabelTxnStarted: time.Now().UTC().Format(time.RFC3339),
		}}
		created, err := h.Engine.ContainerCreate(ctx, cfg, &container.HostConfig{NetworkMode: "none"}, &network.NetworkingConfig{}, nil, EngineLockName)
		if err == nil {
			x.sweepProbes(ctx, h)
			return created.ID, nil
		}
		if !errdefs.IsConflict(err) {
			return "", fmt.Errorf("take the engine lock on %s: %w", h.Name(), err)
		}
		in, ierr := h.Engine.ContainerInspect(ctx, EngineLockName)
		if isNotFound(ierr) {
			continue // released meanwhile
		}
		if ierr != nil {
			return "", fmt.Errorf("read the engine lock on %s: %w", h.Name(), ierr)
		}
		var labels map[string]string
		if in.Config != nil {
			labels = in.Config.Labels
		}
		if labels[LabelLock] == "" {
			// Why never taken over: it is somebody else's container, and
			// removing it would destroy what they put there.
			return "", fault.Mark(fault.Refused, fmt.Errorf("%s on %s is a container tarsup did not create (no %s label, image %s), and tarsup needs that name for its engine lock: rename it (docker rename %s OTHER-NAME) or remove it, then run tarsup again; nothing was changed",
				EngineLockName, h.Name(), LabelLock, imageOf(in), EngineLockName))
		}
		owner, _ := ParseOwner(labels[LabelTxnOwner])
		started, _ := time.Parse(time.RFC3339, labels[LabelTxnStarted])
		holder := fmt.Sprintf("locked by tarsup %s since %s", owner, started.Format(time.RFC3339))
		if x.Force || !owner.Live(x.Self, started, time.Now()) {
			// The owner is gone: take the lock over.
			rerr := h.Engine.ContainerRemove(ctx, in.ID, container.RemoveOptions{Force: true})
			if rerr == nil || isNotFound(rerr) {
				continue
			}
			// Why a conflict is contention: the engine says "removal already
			// in progress" when another tarsup is removing the same stale lock.
			holder = fmt.Sprintf("being taken over by another tarsup (it was the stale lock of tarsup %s)", owner)
			if !errdefs.IsConflict(rerr) {
				holder = fmt.Sprintf("locked by tarsup %s, whose stale lock could not be removed (%v)", owner, rerr)
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: %s is %s; wait for it (--lock-wait), or if that process is gone run `tarsup recover --force`",
				fault.Busy, h.Name(), holder)
		}
		if err := sleep(ctx, lockPoll); err != nil {
			return "", err
		}
	}
}

func imageOf(in container.InspectResponse) string {
	if in.Config != nil && in.Config.Image != "" {
		return in.Config.Image
	}
	return short(in.Image)
}

func ensureLockImage(ctx context.Context, h *engine.Host) error {
	if _, err := h.Engine.ImageInspect(ctx, lockImage); err == nil {
		return nil
	}
	archive, err := imageArchive(lockImage, "tarsup-lock", []byte("tarsup engine lock\n"), []string{"/tarsup-lock"}, LabelLock)
	if err != nil {
		return err
	}
	resp, err := h.Engine.ImageLoad(ctx, bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("load the lock image into %s: %w", h.Name(), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
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
		if c.Labels[LabelProbe] == "" {
			continue
		}
		owner, ok := ParseOwner(c.Labels[LabelTxnOwner])
		started, _ := time.Parse(time.RFC3339, c.Labels[LabelTxnStarted])
		if !ok || owner.Live(x.Self, started, time.Now()) || owner == x.Self {
			continue
		}
		_ = h.Engine.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}
