package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// journal is one upgrade found on an engine: the container it created and
// the one it replaces, as their labels and names record them.
type journal struct {
	name    string             // the service's name
	newC    *container.Summary // the container the upgrade created
	oldC    *container.Summary // the container it replaces; nil once removed
	wasUp   bool               // the old container was running
	restore string             // what the old container's gate asks once back (LabelTxnRestore)
	orphanO bool               // an old container aside with no successor
}

// Recovery is what `recover` did to one service.
type Recovery struct {
	Host   string `json:"host"`
	Name   string `json:"name"`
	Action string `json:"action"`
	Result string `json:"result"`
}

// Recover finishes or undoes every interrupted upgrade on an engine so that
// each service runs as exactly one container under its original name. The
// caller holds the engine lock (LockAll), so no live tarsup is mid-swap there.
//
// Only tarsup's own swaps are touched: a container it journaled, the old
// container that journal names, and an old container aside that an earlier
// tarsup upgrade of that service created. Anybody else's container under one
// of tarsup's names (a user's "X.tarsup-old") is left alone; the upgrade's
// pre-flight refuses it as a name clash. A swap journaled by a tarsup that
// still runs is left alone too, unless Force.
//
//   - the new container never got the name (killed before or during the
//     swap, or during a rollback): remove it, give the old one its name back,
//     start it if it was running;
//   - the new container holds the name and the old one is still aside:
//     gate the new one; healthy, remove the old one; otherwise roll back;
//   - an old container aside whose successor is gone: give it its name back.
func (x *Executor) Recover(ctx context.Context, h *Host) ([]Recovery, error) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, withKind(ErrUnreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	byName := map[string]*container.Summary{}
	for i := range list {
		c := &list[i]
		for _, n := range c.Names {
			byName[strings.TrimPrefix(n, "/")] = c
		}
	}
	js := findSwaps(list).journals
	var out []Recovery
	var errs []error
	for _, j := range js {
		if o, started, ok := j.owner(); ok && !x.Force && o.Live(x.Self, started, time.Now()) {
			// Why: only a swap whose tarsup is gone (or this run's own) is
			// ours to finish or undo; a live one is still under way.
			out = append(out, Recovery{Host: h.Name(), Name: j.name, Action: "none",
				Result: fmt.Sprintf("left alone: tarsup %s started this upgrade at %s and is still running (`tarsup recover --force` if it is not)", o, started.Format(time.RFC3339))})
			continue
		}
		r, err := x.recoverOne(ctx, h, j, byName)
		out = append(out, r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("recover on %s: %w", h.Name(), errors.Join(errs...))
	}
	return out, nil
}

func nameOf(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

func (x *Executor) recoverOne(ctx context.Context, h *Host, j journal, byName map[string]*container.Summary) (Recovery, error) {
	r := Recovery{Host: h.Name(), Name: j.name}
	fail := func(err error) (Recovery, error) {
		r.Result = "failed: " + err.Error()
		return r, fmt.Errorf("%s: %s: %w", j.name, r.Action, err)
	}
	holder := byName[j.name]
	if j.orphanO {
		r.Action = "give the old container its name back"
		if holder != nil {
			r.Result = "left alone: " + nameOf(*holder) + " holds the name"
			return r, nil
		}
		if err := h.Engine.ContainerRename(ctx, j.oldC.ID, j.name); err != nil {
			return fail(err)
		}
		if err := h.Engine.ContainerStart(ctx, j.oldC.ID, container.StartOptions{}); err != nil {
			return fail(err)
		}
		r.Result = "done"
		return r, nil
	}
	old := j.oldC
	oldC, err := x.containerOf(ctx, h, old.ID)
	if err != nil {
		return fail(err)
	}
	oldC.Running = j.wasUp
	if holder == nil || holder.ID != j.newC.ID {
		// The new container never took over: undo.
		r.Action = "undo: remove the new container, put the old one back"
		_ = h.Engine.ContainerStop(ctx, j.newC.ID, x.stopOptions(oldC))
		// Why the name first: the journal lives on the new container; once it
		// is gone, an old container still aside would carry no record that
		// it is tarsup's to put back.
		if nameOf(*old) != j.name {
			if holder != nil && holder.ID != old.ID {
				return fail(fmt.Errorf("the name %s is held by another container (%s): rename or remove it, then run tarsup recover again", j.name, short(holder.ID)))
			}
			if err := h.Engine.ContainerRename(ctx, old.ID, j.name); err != nil {
				return fail(err)
			}
		}
		// Why before the removal: the new container's networks are the
		// record of the old one's (see reattach).
		if err := x.reattach(ctx, h, oldC, *j.newC); err != nil {
			return fail(err)
		}
		if err := h.Engine.ContainerRemove(ctx, j.newC.ID, container.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			return fail(err)
		}
		if j.wasUp {
			if err := h.Engine.ContainerStart(ctx, old.ID, container.StartOptions{}); err != nil {
				return fail(err)
			}
			if err := x.Opts.Gate.Restore(ctx, h, old.ID, oldC.Role, j.restore); err != nil {
				return fail(err)
			}
		}
		r.Result = "done"
		return r, nil
	}
	// The new container holds the name: finish if it is healthy.
	r.Action = "finish: gate the new container, remove the old one"
	_ = h.Engine.ContainerStop(ctx, old.ID, x.stopOptions(oldC))
	newC, err := x.containerOf(ctx, h, j.newC.ID)
	if err != nil {
		return fail(err)
	}
	if !newC.Running && j.wasUp {
		if err := h.Engine.ContainerStart(ctx, newC.ID, container.StartOptions{}); err != nil {
			return x.recoverRollback(ctx, h, r, oldC, newC.ID, j.restore, err)
		}
	}
	if j.wasUp {
		if err := x.Opts.Gate.Wait(ctx, h, newC.ID, newC.Role); err != nil {
			return x.recoverRollback(ctx, h, r, oldC, newC.ID, j.restore, err)
		}
	}
	if err := h.Engine.ContainerRemove(ctx, old.ID, container.RemoveOptions{}); err != nil && !isNotFound(err) {
		return fail(err)
	}
	r.Result = "done"
	return r, nil
}

func (x *Executor) recoverRollback(ctx context.Context, h *Host, r Recovery, old Container, newID, restore string, cause error) (Recovery, error) {
	r.Action = "roll back: the new container is not healthy"
	old.Name = r.Name
	_, res, err := x.rollback(ctx, h, old, newID, true, restore, cause)
	r.Result = res
	if res == ResultRolledBack {
		return r, nil
	}
	return r, err
}

// containerOf inspects one container into a Container.
func (x *Executor) containerOf(ctx context.Context, h *Host, id string) (Container, error) {
	in, err := h.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return Container{}, fmt.Errorf("inspect %s on %s: %w", short(id), h.Name(), err)
	}
	img, err := h.Engine.ImageInspect(ctx, in.Image)
	if err != nil && !isNotFound(err) {
		return Container{}, fmt.Errorf("inspect image %s on %s: %w", short(in.Image), h.Name(), err)
	}
	return fromInspect(h.Name(), in, img), nil
}

// NeedsRecovery reports whether an engine holds an unfinished swap of
// tarsup's own: a journaled successor whose predecessor still exists, or an
// old container aside that an earlier tarsup upgrade created. Anybody
// else's container under a temporary name is not one.
func NeedsRecovery(ctx context.Context, h *Host) (bool, error) {
	all, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return false, withKind(ErrUnreachable, fmt.Errorf("list containers on %s: %w", h.Name(), err))
	}
	return len(findSwaps(all).journals) > 0, nil
}
