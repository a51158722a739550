package orchestrator

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// RollbackTarget is a container `rollback` puts back as it was before its
// last upgrade.
type RollbackTarget struct {
	Host      string // the engine's name
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
	if err := checkClashes([]Step{{Host: t.Host, Container: t.Container}}, states); err != nil {
		return RollbackTarget{}, err
	}
	v := t.Container.Labels[LabelPrevious]
	if v == "" {
		return RollbackTarget{}, fault.Mark(fault.BadInput, fmt.Errorf("rollback %s on %s: tarsup never upgraded this container, so there is nothing to go back to", name, t.Host))
	}
	prev, err := DecodeSpec(v)
	if err != nil {
		return RollbackTarget{}, fmt.Errorf("rollback %s on %s: %w", name, t.Host, err)
	}
	t.Previous = prev
	return t, nil
}

// Rollback recreates the container from its previous configuration and
// image, through the same swap and health gate as an upgrade.
func Rollback(ctx context.Context, x *Executor, t RollbackTarget, kc authn.Keychain) (StepResult, error) {
	h := x.Hosts[t.Host]
	if h == nil {
		return StepResult{}, fmt.Errorf("rollback %s: no connection to %s", t.Container.Name, t.Host)
	}
	ref, err := previousImage(ctx, h, t.Previous, kc)
	if err != nil {
		return StepResult{}, err
	}
	img, err := h.Engine.ImageInspect(ctx, ref)
	if err != nil {
		return StepResult{}, fmt.Errorf("rollback %s on %s: inspect %s: %w", t.Container.Name, h.Name(), ref, err)
	}
	st := RollbackStep(t, ref, img, h.Engine.ClientVersion(), x.Opts.Policy(1))
	r := x.recreate(ctx, h, st)
	return r, r.Err
}

// previousImages is what an engine holds of a container's previous image:
// the observed facts that choosePrevious decides on.
type previousImages struct {
	tag    bool // the previous tag is there and still points at the previous image
	id     bool // the previous image is there by its ID
	digest bool // the previous repo digest is there
}

// observePrevious reads which of the previous image's names the engine has.
func observePrevious(ctx context.Context, h *engine.Host, spec Spec) previousImages {
	var f previousImages
	if img, err := h.Engine.ImageInspect(ctx, spec.Image); err == nil && (spec.ImageID == "" || img.ID == spec.ImageID) {
		f.tag = true
	}
	if spec.ImageID != "" {
		_, err := h.Engine.ImageInspect(ctx, spec.ImageID)
		f.id = err == nil
	}
	if spec.RepoDigest != "" {
		_, err := h.Engine.ImageInspect(ctx, spec.RepoDigest)
		f.digest = err == nil
	}
	return f
}

// choosePrevious picks the exact image the container ran before: its tag
// if the tag still points there, else its image ID when it has no registry
// digest, else its repo digest (pull true when it must be pulled back). It
// is pure.
func choosePrevious(spec Spec, f previousImages, host string) (ref string, pull bool, err error) {
	switch {
	case f.tag:
		return spec.Image, false, nil
	case spec.RepoDigest == "" && f.id:
		return spec.ImageID, false, nil
	case spec.RepoDigest == "":
		return "", false, fault.Mark(fault.BadInput, fmt.Errorf("the previous image %s (%s) is gone from %s and has no registry digest to pull it back by", spec.Image, short(spec.ImageID), host))
	}
	return spec.RepoDigest, !f.digest, nil
}

// previousImage finds the exact image the container ran before
// (choosePrevious), pulling it back by its repo digest if it is gone.
func previousImage(ctx context.Context, h *engine.Host, spec Spec, kc authn.Keychain) (string, error) {
	ref, pull, err := choosePrevious(spec, observePrevious(ctx, h, spec), h.Name())
	if err != nil || !pull {
		return ref, err
	}
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	r, err := images.Parse(ref)
	if err != nil {
		return "", fault.Mark(fault.BadInput, err)
	}
	auth, err := images.PullAuth(ctx, kc, r)
	if err != nil {
		return "", err
	}
	if _, err := images.Pull(ctx, h.Engine, r, auth, nil, false); err != nil {
		return "", fmt.Errorf("pull the previous image %s back on %s: %w", ref, h.Name(), err)
	}
	return ref, nil
}
