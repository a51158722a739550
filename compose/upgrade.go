package compose

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/swapname"
)

// The labels docker compose (v1 and v2) puts on the containers it creates;
// they tie a container to its project and service.
const (
	// LabelProject holds the project name.
	LabelProject = "com.docker.compose.project"
	// LabelService holds the service name.
	LabelService = "com.docker.compose.service"
	// LabelOneoff is "True" on the containers of `docker compose run`.
	LabelOneoff = "com.docker.compose.oneoff"
)

// ErrOutOfStep is wrapped by the errors PlanUpgrade returns when a compose
// file and the containers of its project disagree on an image, so that the
// upgrade would leave them disagreeing; the message names the file, the
// container and the fix.
var ErrOutOfStep = errors.New("the compose file and the running containers disagree")

// ImageRequest says which images the Tars services move to. The fields mean
// what the flags of `tarsup upgrade` mean.
type ImageRequest struct {
	// To moves every framework and web service to this tag in its own
	// repository (--to).
	To string
	// FrameworkImage names the framework services' image outright (--framework-image).
	FrameworkImage string
	// NodeImage names the node services' image outright (--node-image).
	NodeImage string
}

// Running is a container as an engine reports it: enough to tell which
// service it belongs to and what it was created from.
type Running struct {
	// Name is the container name without the leading slash.
	Name string
	// Image is the reference the container was created from (Config.Image).
	Image string
	// Labels are the container's labels.
	Labels map[string]string
}

// ServiceUpgrade is what an upgrade does to one Tars service of a project.
type ServiceUpgrade struct {
	// Service is the service name.
	Service string
	// Role is the service's Tars role.
	Role images.Role
	// File is the compose file that defines the service.
	File string
	// Image is the service's image now, after interpolation.
	Image string
	// NewImage is the image the file will name, written in the form the file
	// uses (same registry spelling); "" when the image line stays as it is.
	NewImage string
	// Containers are the names of the service's containers on the project's
	// engine, sorted. Empty when the service has no container.
	Containers []string
}

// Upgrade is one project's part of a compose upgrade: which services change
// image, which containers the orchestrator may recreate, and the file edits.
// PlanUpgrade makes it; it holds no connection and does no I/O.
type Upgrade struct {
	// Project is the project being upgraded.
	Project *Project
	// Host names the project's engine in messages.
	Host string
	// Services are the project's Tars services (framework, node, web), by name.
	Services []ServiceUpgrade
	// Edits are the file changes that give every service its NewImage.
	Edits []FileEdit
	// Warnings say what the upgrade will not do and why (a service without
	// container), one sentence each.
	Warnings []string
}

// PlanUpgrade works out, for project p running on the engine named host
// (running lists that engine's containers), which image each Tars service
// moves to under req, which containers belong to those services (by the
// compose labels, one-off containers excluded), and the file edits. The db
// service and services of other roles are never part of it.
//
// It refuses, with an error wrapping ErrOutOfStep, a service whose
// container runs an image that the same request would not move to the
// service's new image: the upgrade would leave the file describing something
// else than the engine runs. Edits that cannot be made wrap ErrCannotRewrite.
// It is pure.
func PlanUpgrade(p *Project, host string, running []Running, req ImageRequest) (*Upgrade, error) {
	u := &Upgrade{Project: p, Host: host}
	byService := p.containersByService(running)
	newImages := map[string]string{}
	var errs []error
	for _, s := range p.Services {
		if !upgradable(s.Role) {
			continue
		}
		su := ServiceUpgrade{Service: s.Name, Role: s.Role, File: s.File, Image: s.Image}
		fileTarget, err := fileTarget(s.Role, s.Image, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s in %s: %w", s.Name, s.File, err))
			continue
		}
		if !images.SameImage(fileTarget, s.Image) {
			su.NewImage = fileTarget
			newImages[s.Name] = fileTarget
		}
		for _, c := range byService[s.Name] {
			su.Containers = append(su.Containers, c.Name)
			if err := checkInStep(s, c, host, fileTarget, req); err != nil {
				errs = append(errs, err)
			}
		}
		if len(su.Containers) == 0 {
			w := fmt.Sprintf("service %s (%s) has no container in project %s on %s: nothing to recreate", s.Name, s.File, p.Name, host)
			if su.NewImage != "" {
				w += fmt.Sprintf("; its image: line changes to %s, which the next `docker compose up` uses", su.NewImage)
			}
			u.Warnings = append(u.Warnings, w)
		}
		u.Services = append(u.Services, su)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	edits, err := PlanImageEdits(p, newImages)
	if err != nil {
		return nil, err
	}
	u.Edits = edits
	return u, nil
}

// Only returns the names of every container the upgrade may recreate,
// sorted: the containers of the project's Tars services.
func (u *Upgrade) Only() []string {
	var out []string
	for _, s := range u.Services {
		out = append(out, s.Containers...)
	}
	sort.Strings(out)
	return out
}

// ServiceOfContainer returns the Tars service that owns the named container.
func (u *Upgrade) ServiceOfContainer(name string) (string, bool) {
	for _, s := range u.Services {
		for _, c := range s.Containers {
			if c == name {
				return s.Service, true
			}
		}
	}
	return "", false
}

// EditsFor plans the file edits that move only the named services to their
// NewImage, from the files as Load read them. Why: after an upgrade that
// failed part way, the files must name what each service's containers run,
// the new image for the services that were upgraded and the old one for the
// others.
func (u *Upgrade) EditsFor(services []string) ([]FileEdit, error) {
	want := map[string]bool{}
	for _, s := range services {
		want[s] = true
	}
	newImages := map[string]string{}
	for _, s := range u.Services {
		if want[s.Service] && s.NewImage != "" {
			newImages[s.Service] = s.NewImage
		}
	}
	return PlanImageEdits(u.Project, newImages)
}

// ServiceOf returns the active service of p that a container with these
// labels belongs to. One-off containers (`docker compose run`) belong to none.
func (p *Project) ServiceOf(labels map[string]string) (string, bool) {
	if labels[LabelProject] != p.Name || strings.EqualFold(labels[LabelOneoff], "true") {
		return "", false
	}
	name := labels[LabelService]
	if _, ok := p.Service(name); !ok {
		return "", false
	}
	return name, true
}

// containersByService groups the project's containers by service, in name
// order. Containers under the temporary names of an upgrade in progress
// (NAME.tarsup-new, -old, -failed) are left out: they are the journal of
// that upgrade, not the service's containers.
func (p *Project) containersByService(running []Running) map[string][]Running {
	out := map[string][]Running{}
	for _, c := range running {
		if swapname.IsTemporary(c.Name) {
			continue
		}
		if s, ok := p.ServiceOf(c.Labels); ok {
			out[s] = append(out[s], c)
		}
	}
	for _, cs := range out {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	}
	return out
}

// upgradable reports whether tarsup upgrades services of this role.
func upgradable(r images.Role) bool {
	return r == images.RoleFramework || r == images.RoleNode || r == images.RoleWeb
}

// fileTarget is the image a service's image: line should name after the
// upgrade, in the spelling the file uses.
func fileTarget(role images.Role, image string, req ImageRequest) (string, error) {
	// Why Retarget: the orchestrator moves the container by the same rule;
	// only the spelling of the file's line is compose's own.
	_, flag, err := images.Retarget(role, image, req.To, req.FrameworkImage, req.NodeImage)
	switch flag {
	case images.FlagFrameworkImage:
		return req.FrameworkImage, err
	case images.FlagNodeImage:
		return req.NodeImage, err
	case images.FlagTo:
		return retag(image, req.To)
	}
	return image, nil
}

// checkInStep refuses a container that would end up on another image than
// its service's image: line.
func checkInStep(s Service, c Running, host, fileTarget string, req ImageRequest) error {
	got, _, err := images.Retarget(s.Role, c.Image, req.To, req.FrameworkImage, req.NodeImage)
	if err != nil {
		return fmt.Errorf("%w: container %s of service %s on %s runs %q, which tarsup cannot retag: %v; recreate it from %s (docker compose up -d %s)",
			ErrOutOfStep, c.Name, s.Name, host, c.Image, err, s.File, s.Name)
	}
	if got == images.Normalize(fileTarget) {
		return nil
	}
	if images.SameImage(s.Image, fileTarget) {
		return fmt.Errorf("%w: service %s in %s names %s but its container %s on %s runs %s; bring them in line first (docker compose up -d %s, or fix the image: line), then run tarsup again",
			ErrOutOfStep, s.Name, s.File, s.Image, c.Name, host, c.Image, s.Name)
	}
	return fmt.Errorf("%w: service %s in %s names %s, which becomes %s, but its container %s on %s runs %s, which would become %s; bring them in line first (docker compose up -d %s, or fix the image: line), then run tarsup again",
		ErrOutOfStep, s.Name, s.File, s.Image, fileTarget, c.Name, host, c.Image, got, s.Name)
}

// retag gives ref another tag (and no digest), keeping the way the file
// spells the repository: "127.0.0.1:5000/tarscloud/framework:v3.0.15" keeps its
// registry, "tarscloud/framework" gains the tag.
func retag(ref, tag string) (string, error) {
	r, err := images.Parse(ref)
	if err != nil {
		return "", err
	}
	want, err := r.WithTag(tag)
	if err != nil {
		return "", err
	}
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	out := name + ":" + tag
	if images.Normalize(out) != want.String() {
		// Why: a spelling docker parses differently once retagged; the
		// normalized form is unambiguous.
		return want.String(), nil
	}
	return out, nil
}
