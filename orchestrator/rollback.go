package orchestrator

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
)

// RollbackTarget is a container `rollback` puts back as it was before its
// last upgrade.
type RollbackTarget struct {
	Host      *Host
	Container Container
	Previous  Spec
}

// FindRollback finds the named container on the engines and the
// configuration it had before its last upgrade.
func FindRollback(states []HostState, name string) (RollbackTarget, error) {
	var found []RollbackTarget
	for _, s := range states {
		for _, c := range s.Containers {
			if c.Name == name {
				found = append(found, RollbackTarget{Host: s.Host, Container: c})
			}
		}
	}
	switch {
	case len(found) == 0:
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s: no Tars container of that name on any engine (tarsup status lists them)", name))
	case len(found) > 1:
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s: that name is on %d engines; name one with --host", name, len(found)))
	}
	t := found[0]
	// Why here: a name the swap needs that is taken would be found only
	// after the container was stopped.
	if err := checkClashes([]Step{{Host: t.Host.Name(), Container: t.Container}}, states); err != nil {
		return RollbackTarget{}, err
	}
	v := t.Container.Labels[LabelPrevious]
	if v == "" {
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s on %s: tarsup never upgraded this container, so there is nothing to go back to", name, t.Host.Name()))
	}
	prev, err := DecodeSpec(v)
	if err != nil {
		return RollbackTarget{}, fmt.Errorf("rollback %s on %s: %w", name, t.Host.Name(), err)
	}
	t.Previous = prev
	return t, nil
}

// Rollback recreates the container from its previous configuration and
// image, through the same swap and health gate as an upgrade.
func Rollback(ctx context.Context, x *Executor, t RollbackTarget, kc authn.Keychain) (StepResult, error) {
	h := t.Host
	spec := t.Previous
	ref, err := previousImage(ctx, h, spec, kc)
	if err != nil {
		return StepResult{}, err
	}
	spec.Image = ref
	img, err := h.Engine.ImageInspect(ctx, ref)
	if err != nil {
		return StepResult{}, fmt.Errorf("rollback %s on %s: inspect %s: %w", t.Container.Name, h.Name(), ref, err)
	}
	st := Step{Host: h.Name(), Container: t.Container, From: t.Container.Image, To: ref,
		FromDigest: t.Container.Digest(), ToDigest: images.RepoDigest(img.RepoDigests, ref), Target: img, Cause: "rollback",
		Spec: spec, Previous: PreviousSpec(t.Container, h.Engine.ClientVersion())}
	r := x.step(ctx, st)
	return r, r.Err
}

// previousImage finds the exact image the container ran before: its tag if
// the tag still points there, else its repo digest (pulled back if gone).
func previousImage(ctx context.Context, h *Host, spec Spec, kc authn.Keychain) (string, error) {
	if img, err := h.Engine.ImageInspect(ctx, spec.Image); err == nil && (spec.ImageID == "" || img.ID == spec.ImageID) {
		return spec.Image, nil
	}
	if spec.RepoDigest == "" {
		if _, err := h.Engine.ImageInspect(ctx, spec.ImageID); err == nil {
			return spec.ImageID, nil
		}
		return "", fault.Mark(fault.BadInput, fmt.Errorf("the previous image %s (%s) is gone from %s and has no registry digest to pull it back by", spec.Image, short(spec.ImageID), h.Name()))
	}
	if _, err := h.Engine.ImageInspect(ctx, spec.RepoDigest); err == nil {
		return spec.RepoDigest, nil
	}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	r, err := images.Parse(spec.RepoDigest)
	if err != nil {
		return "", fault.Mark(fault.BadInput, err)
	}
	auth, err := images.PullAuth(ctx, kc, r)
	if err != nil {
		return "", err
	}
	if _, err := images.Pull(ctx, h.Engine, r, auth, nil, false); err != nil {
		return "", fmt.Errorf("pull the previous image %s back on %s: %w", spec.RepoDigest, h.Name(), err)
	}
	return spec.RepoDigest, nil
}
