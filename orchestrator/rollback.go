package orchestrator

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Rollback recreates the container from its previous configuration and
// image, through the same swap and health gate as an upgrade.
func Rollback(ctx context.Context, x *Executor, t plan.RollbackTarget, kc authn.Keychain) (StepResult, error) {
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
	st := plan.RollbackStep(t, ref, img, h.Engine.ClientVersion(), x.Opts.Policy(1))
	r := x.recreate(ctx, h, st)
	return r, r.Err
}

// observePrevious reads which of the previous image's names the engine has.
func observePrevious(ctx context.Context, h *engine.Host, spec plan.Spec) plan.PreviousImages {
	var f plan.PreviousImages
	if img, err := h.Engine.ImageInspect(ctx, spec.Image); err == nil && (spec.ImageID == "" || img.ID == spec.ImageID) {
		f.Tag = true
	}
	if spec.ImageID != "" {
		_, err := h.Engine.ImageInspect(ctx, spec.ImageID)
		f.ID = err == nil
	}
	if spec.RepoDigest != "" {
		_, err := h.Engine.ImageInspect(ctx, spec.RepoDigest)
		f.Digest = err == nil
	}
	return f
}

// previousImage finds the exact image the container ran before
// (choosePrevious), pulling it back by its repo digest if it is gone.
func previousImage(ctx context.Context, h *engine.Host, spec plan.Spec, kc authn.Keychain) (string, error) {
	ref, pull, err := plan.ChoosePrevious(spec, observePrevious(ctx, h, spec), h.Name())
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
