package composefleet

import (
	"context"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/swapname"
)

// StatusOptions are the inputs of a compose status.
type StatusOptions struct {
	Projects Projects
	Engines  Engines
	Prober   *health.Prober
	// Connect reaches the engines; nil is engine.ConnectAll.
	Connect func(ctx context.Context, specs []engine.HostSpec) ([]*engine.Host, error)
}

// StatusRow is one line of `compose status`: a service and one of its
// containers. Its JSON keys are a promise to scripts: add, don't rename.
type StatusRow struct {
	Project string `json:"project"`
	Host    string `json:"host"`
	Service string `json:"service"`
	Role    string `json:"role"`
	File    string `json:"file"`
	// Image is the service's image in the file.
	Image string `json:"image"`
	// Container is "" when the service has no container.
	Container    string `json:"container"`
	RunningImage string `json:"running_image"`
	// InStep is true when the container runs the image the file names.
	InStep       bool   `json:"in_step"`
	Version      string `json:"version"`
	State        string `json:"state"`
	Health       string `json:"health"`
	HealthDetail string `json:"health_detail,omitempty"`
}

// StatusReport is what `compose status` shows: the rows, and every finding
// of the projects' validation (nothing is refused by a status).
type StatusReport struct {
	Rows     []StatusRow
	Findings []compose.Finding
}

// Status loads the projects, observes their engines and joins each
// project's Tars and db services with their containers and the containers'
// health (probed only for the projects' containers).
func Status(ctx context.Context, opts StatusOptions) (StatusReport, error) {
	if opts.Connect == nil {
		opts.Connect = engine.ConnectAll
	}
	projects, findings, err := loadProjects(ctx, opts.Projects)
	if err != nil {
		return StatusReport{}, err
	}
	fleet, err := newFleet(projects, opts.Engines)
	if err != nil {
		return StatusReport{}, err
	}
	hosts, err := opts.Connect(ctx, fleet.Specs)
	if err != nil {
		return StatusReport{}, err
	}
	defer engine.CloseAll(hosts)
	states, err := orchestrator.ObserveAll(ctx, hosts)
	if err != nil {
		return StatusReport{}, err
	}
	mine := fleet.containersOf(states)
	rows := map[containerKey]orchestrator.StatusRow{}
	for _, r := range orchestrator.Status(ctx, opts.Prober, hosts, mine) {
		rows[containerKey{r.Host, r.Name}] = r
	}
	return StatusReport{Rows: fleet.joinStatus(states, rows), Findings: findings}, nil
}

type containerKey struct{ host, name string }

// containersOf keeps, of each engine's state, the containers of the
// fleet's projects on it. It is pure.
func (f *Fleet) containersOf(states []plan.HostState) []plan.HostState {
	mine := map[containerKey]bool{}
	byHost := hostContainers(states)
	for _, p := range f.Projects {
		for _, c := range byHost[f.hostOf[p]] {
			if _, ok := p.ServiceOf(c.Labels); ok {
				mine[containerKey{c.Host, c.Name}] = true
			}
		}
	}
	out := make([]plan.HostState, len(states))
	for i, s := range states {
		out[i] = plan.HostState{Host: s.Host, APIVersion: s.APIVersion}
		for _, c := range s.Containers {
			if mine[containerKey{c.Host, c.Name}] {
				out[i].Containers = append(out[i].Containers, c)
			}
		}
	}
	return out
}

func hostContainers(states []plan.HostState) map[string][]plan.Container {
	byHost := map[string][]plan.Container{}
	for _, s := range states {
		byHost[s.Host] = s.Containers
	}
	return byHost
}

// joinStatus gives each Tars or db service of each project one row per
// container of it (a swap's temporary containers left out), or one row
// "no container". It is pure.
func (f *Fleet) joinStatus(states []plan.HostState, probed map[containerKey]orchestrator.StatusRow) []StatusRow {
	byHost := hostContainers(states)
	var rows []StatusRow
	for _, p := range f.Projects {
		host := f.hostOf[p]
		for _, s := range p.Services {
			switch s.Role {
			case images.RoleFramework, images.RoleNode, images.RoleWeb, images.RoleDB:
			default:
				continue
			}
			base := StatusRow{Project: p.Name, Host: host, Service: s.Name, Role: string(s.Role), File: s.File, Image: s.Image}
			found := false
			for _, c := range byHost[host] {
				if svc, ok := p.ServiceOf(c.Labels); !ok || svc != s.Name || swapname.IsTemporary(c.Name) {
					continue
				}
				found = true
				r := base
				h := probed[containerKey{c.Host, c.Name}]
				r.Container, r.RunningImage, r.InStep = c.Name, c.Image, images.SameImage(c.Image, s.Image)
				r.Version, r.State, r.Health, r.HealthDetail = c.Version, c.State, h.Health, h.HealthDetail
				rows = append(rows, r)
			}
			if !found {
				base.State = "no container"
				rows = append(rows, base)
			}
		}
	}
	return rows
}
