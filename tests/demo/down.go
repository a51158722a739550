package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tarsup/tarsup/tests/testbed"
)

// labRef matches the references of images pulled from a demo's registry:
// 127.0.0.1:PORT/tarsup-demo/..., by tag or by digest.
var labRef = regexp.MustCompile(`^127\.0\.0\.1:[0-9]+/` + regexp.QuoteMeta(repoPrefix))

// found is what of the lab is on an engine.
type found struct {
	containers, volumes, networks []string // IDs, names, IDs
	images                        []image.Summary
}

func (f found) empty() bool {
	return len(f.containers)+len(f.volumes)+len(f.networks)+len(f.images) == 0
}

// labObjects finds the lab's objects on e: containers, volumes and networks
// with the demo's label and a name that starts with Prefix, and images with
// the label that have a reference from a demo's registry.
func labObjects(ctx context.Context, e *testbed.Engine) (found, error) {
	var f found
	cs, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: labFilter()})
	if err != nil {
		return f, fmt.Errorf("list containers on %s: %w", e.Host, err)
	}
	for _, c := range cs {
		if len(c.Names) > 0 && isLab(c.Names[0], c.Labels) {
			f.containers = append(f.containers, c.ID)
		}
	}
	vs, err := e.Client.VolumeList(ctx, volume.ListOptions{Filters: labFilter()})
	if err != nil {
		return f, fmt.Errorf("list volumes on %s: %w", e.Host, err)
	}
	for _, v := range vs.Volumes {
		if isLab(v.Name, v.Labels) {
			f.volumes = append(f.volumes, v.Name)
		}
	}
	ns, err := e.Client.NetworkList(ctx, network.ListOptions{Filters: labFilter()})
	if err != nil {
		return f, fmt.Errorf("list networks on %s: %w", e.Host, err)
	}
	for _, n := range ns {
		if isLab(n.Name, n.Labels) {
			f.networks = append(f.networks, n.ID)
		}
	}
	ims, err := e.Client.ImageList(ctx, image.ListOptions{All: true, Filters: labFilter()})
	if err != nil {
		return f, fmt.Errorf("list images on %s: %w", e.Host, err)
	}
	for _, im := range ims {
		if len(labRefs(im)) > 0 {
			f.images = append(f.images, im)
		}
	}
	return f, nil
}

// labRefs are an image's references from a demo's registry.
func labRefs(im image.Summary) []string {
	var out []string
	for _, r := range append(append([]string(nil), im.RepoTags...), im.RepoDigests...) {
		if labRef.MatchString(r) {
			out = append(out, r)
		}
	}
	return out
}

// down is `make demo-down`.
func down(ctx context.Context, out io.Writer) error {
	e, err := testbed.Local(ctx)
	if err != nil {
		return err
	}
	defer e.Client.Close()
	f, err := labObjects(ctx, e)
	if err != nil {
		return err
	}
	if f.empty() {
		fmt.Fprintf(out, "demo-down: no lab on %s (nothing has the label %s=%s and a name starting %s)\n", e.Host, Label, LabelValue, Prefix)
		return nil
	}
	return removeLab(ctx, e, f, out)
}

// removeLab removes what f found, containers first (forced, with their
// anonymous volumes), then volumes, networks, and the images' references
// from a demo's registry (an image goes with its last reference; one that
// is also tagged otherwise keeps that tag).
func removeLab(ctx context.Context, e *testbed.Engine, f found, out io.Writer) error {
	var errs []error
	for _, id := range f.containers {
		if err := e.Client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", short(id), err))
		}
	}
	for _, v := range f.volumes {
		if err := e.Client.VolumeRemove(ctx, v, false); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v, err))
		}
	}
	for _, id := range f.networks {
		if err := e.Client.NetworkRemove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", short(id), err))
		}
	}
	refs := 0
	for _, im := range f.images {
		for _, r := range labRefs(im) {
			if _, err := e.Client.ImageRemove(ctx, r, image.RemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove image %s: %w", r, err))
				continue
			}
			refs++
		}
	}
	fmt.Fprintf(out, "demo-down: removed from %s %s, %s, %s and %s (127.0.0.1:PORT/%s...); nothing else\n",
		e.Host, count(len(f.containers), "container"), count(len(f.volumes), "volume"), count(len(f.networks), "network"),
		count(refs, "image reference"), repoPrefix)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("take the lab down on %s: %w", e.Host, err)
	}
	return nil
}

// count is "1 network", "2 networks".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
