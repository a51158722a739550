package orchestrator

import (
	"context"
	"io"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// ContainerUpdate is one container's update state (status's update
// column, watch's per-container metrics) and what names it.
type ContainerUpdate struct {
	Host    string
	Name    string
	ID      string
	Role    string
	Image   string
	ImageID string
	Version string
	plan.Update
}

// CheckUpdates looks up what the update rules need for cs
// (plan.UpdateChecks: a manifest HEAD per repository:tag, the tag list of
// each framework repository on a release tag), in parallel through reg,
// which remembers the answers for its run, and returns each container's
// update state (plan.UpdateOf) in cs's order. It pulls and changes
// nothing; a registry that does not answer makes its containers unknown.
func CheckUpdates(ctx context.Context, reg *images.Registry, cs []plan.Container, anyMajor bool) []ContainerUpdate {
	if reg == nil {
		reg = &images.Registry{Retries: images.DefaultRetries}
	}
	heads, repos := plan.UpdateChecks(cs)
	facts := plan.UpdateFacts{Tags: map[string][]string{}, TagErrs: map[string]error{}, AnyMajor: anyMajor}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range repos {
		wg.Go(func() {
			tags, err := reg.Tags(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				facts.TagErrs[r.Repository()] = err
				return
			}
			facts.Tags[r.Repository()] = tags
		})
	}
	// Why the error is dropped: Digests fails only when ctx ended, and
	// then every result it could not get says so itself.
	facts.Digests, _ = reg.Digests(ctx, heads)
	wg.Wait()
	out := make([]ContainerUpdate, 0, len(cs))
	for _, c := range cs {
		out = append(out, ContainerUpdate{Host: c.Host, Name: c.Name, ID: c.ID, Role: string(c.Role), Image: c.Image,
			ImageID: c.ImageID, Version: c.Version, Update: plan.UpdateOf(c, facts)})
	}
	return out
}

// ApplyUpdates fills the update columns of status rows from ups, matched
// by engine, name and image; a row with no match gets missing (watch's
// rows of containers that changed since its last look-up).
func ApplyUpdates(rows []StatusRow, ups []ContainerUpdate, missing plan.Update) {
	type key struct{ host, name, image string }
	by := make(map[key]plan.Update, len(ups))
	for _, u := range ups {
		by[key{u.Host, u.Name, plan.Short(u.ImageID)}] = u.Update
	}
	for i := range rows {
		u, ok := by[key{rows[i].Host, rows[i].Name, rows[i].ImageID}]
		if !ok && upgradable(rows[i].Role) {
			u = missing
		}
		rows[i].Update, rows[i].UpdateDetail = u.State, u.Detail
	}
}

// EngineMirrors returns the Docker Hub mirrors the engines are configured
// with (`docker info`'s registry mirrors), each once, in the engines'
// order. An engine that does not answer, or a mirror tarsup cannot ask
// (one with a path), is logged and left out: the look-ups then go on to
// Docker Hub, as the engine's own pulls would.
func EngineMirrors(ctx context.Context, hosts []*engine.Host, log logrus.FieldLogger) []string {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	var out []string
	for _, h := range hosts {
		info, err := h.Engine.Info(ctx)
		if err != nil {
			log.WithField("host", h.Name()).Debugf("docker info (for the engine's registry mirrors): %v", err)
			continue
		}
		if info.RegistryConfig == nil {
			continue
		}
		for _, m := range info.RegistryConfig.Mirrors {
			u, err := images.ParseMirror(m)
			if err != nil {
				log.WithField("host", h.Name()).Warnf("registry mirror of the engine not used for tarsup's look-ups: %v", err)
				continue
			}
			out = append(out, u)
		}
	}
	return out
}

// WithEngineMirrors adds the engines' mirrors to reg's (after those given
// with --registry-mirror), each once. Call it before reg's first look-up.
func WithEngineMirrors(ctx context.Context, reg *images.Registry, hosts []*engine.Host, log logrus.FieldLogger) {
	seen := map[string]bool{}
	for _, m := range reg.Mirrors {
		seen[m] = true
	}
	for _, m := range EngineMirrors(ctx, hosts, log) {
		if !seen[m] {
			seen[m] = true
			reg.Mirrors = append(reg.Mirrors, m)
		}
	}
}

// upgradable reports whether tarsup upgrades containers of a role (the
// database's never is, and has no update state).
func upgradable(role string) bool {
	switch images.Role(role) {
	case images.RoleFramework, images.RoleNode, images.RoleWeb:
		return true
	}
	return false
}
