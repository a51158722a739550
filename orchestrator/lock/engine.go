package lock

import (
	"bytes"
	"context"
	"fmt"
	poll "github.com/tarsup/tarsup/internal/wait"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/owner"
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
	// LockImage is a one-file image loaded into each engine by `docker load`.
	LockImage = "tarsup-lock:1"
)

// lockPoll is the pause between attempts while waiting for a lock.
const lockPoll = time.Second

// Taker is the process taking engine locks.
type Taker struct {
	// Self is written on the lock containers it creates.
	Self owner.Owner
	// Force takes over locks that may still be held.
	Force bool
	// Taken runs on each engine right after its lock is taken (nil: nothing).
	Taken func(ctx context.Context, h *engine.Host)
}

// Engines are the engine locks one executor holds. The zero value holds none.
type Engines struct {
	mu   sync.Mutex
	held map[*engine.Host]string // the lock container's ID
}

// LockAll takes the engine lock of every host, in name order, waiting up to
// wait for each. On failure it releases what it took. The returned function
// releases the locks this call took; it ignores cancellation of ctx. Locks
// the executor already holds are skipped, so nested callers (compose upgrade
// around Upgrade) keep them until the outer one releases.
func (x *Engines) LockAll(ctx context.Context, hosts []*engine.Host, wait time.Duration, t Taker) (func(), error) {
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
		id, err := lockOne(ctx, h, wait, t)
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

// lockOne takes one engine's lock and returns the lock container's ID.
//
// Several tarsups may find the same stale lock at once. Each removes it by
// its ID, so none can remove a lock another one has just created; a removal
// that fails (already in progress, already gone) means someone else is
// taking it over, which is contention like any other: wait within wait,
// else fault.Busy (exit 3).
func lockOne(ctx context.Context, h *engine.Host, wait time.Duration, t Taker) (string, error) {
	if err := ensureLockImage(ctx, h); err != nil {
		return "", err
	}
	deadline := time.Now().Add(wait)
	for {
		cfg := &container.Config{Image: LockImage, Labels: map[string]string{
			LabelLock: "1", owner.LabelOwner: t.Self.String(), owner.LabelStarted: time.Now().UTC().Format(time.RFC3339),
		}}
		created, err := h.Engine.ContainerCreate(ctx, cfg, &container.HostConfig{NetworkMode: "none"}, &network.NetworkingConfig{}, nil, EngineLockName)
		if err == nil {
			if t.Taken != nil {
				t.Taken(ctx, h)
			}
			return created.ID, nil
		}
		if !errdefs.IsConflict(err) {
			return "", fmt.Errorf("take the engine lock on %s: %w", h.Name(), err)
		}
		in, ierr := h.Engine.ContainerInspect(ctx, EngineLockName)
		if errdefs.IsNotFound(ierr) {
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
		by, _ := owner.ParseOwner(labels[owner.LabelOwner])
		started, _ := time.Parse(time.RFC3339, labels[owner.LabelStarted])
		holder := fmt.Sprintf("locked by tarsup %s since %s", by, started.Format(time.RFC3339))
		if t.Force || !by.Live(t.Self, started, time.Now()) {
			// The owner is gone: take the lock over.
			rerr := h.Engine.ContainerRemove(ctx, in.ID, container.RemoveOptions{Force: true})
			if rerr == nil || errdefs.IsNotFound(rerr) {
				continue
			}
			// Why a conflict is contention: the engine says "removal already
			// in progress" when another tarsup is removing the same stale lock.
			holder = fmt.Sprintf("being taken over by another tarsup (it was the stale lock of tarsup %s)", by)
			if !errdefs.IsConflict(rerr) {
				holder = fmt.Sprintf("locked by tarsup %s, whose stale lock could not be removed (%v)", by, rerr)
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: %s is %s; wait for it (--lock-wait), or if that process is gone run `tarsup recover --force`",
				fault.Busy, h.Name(), holder)
		}
		if err := poll.Sleep(ctx, lockPoll); err != nil {
			return "", err
		}
	}
}

func imageOf(in container.InspectResponse) string {
	if in.Config != nil && in.Config.Image != "" {
		return in.Config.Image
	}
	id := strings.TrimPrefix(in.Image, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

func ensureLockImage(ctx context.Context, h *engine.Host) error {
	if _, err := h.Engine.ImageInspect(ctx, LockImage); err == nil {
		return nil
	}
	archive, err := engine.ImageArchive(LockImage, "tarsup-lock", []byte("tarsup engine lock\n"), []string{"/tarsup-lock"}, LabelLock)
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
