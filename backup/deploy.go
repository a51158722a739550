package backup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/swapname"
	"github.com/tarsup/tarsup/tarsdb"
)

// Deployment is one database and the framework containers on its engine
// that use it.
type Deployment struct {
	Host   *engine.Host
	Target tarsdb.Target
	// Via is the framework the target was located through: a running
	// master when there is one.
	Via plan.Container
	// Frameworks are every framework and web container on the engine
	// whose database it is: what a restore stops and starts again.
	Frameworks []plan.Container
}

// Name is the deployment's name: "DB on HOST".
func (d Deployment) Name() string { return DeploymentName(d.Host.Name(), d.Target.DB) }

// has reports whether the deployment's database or one of its frameworks
// is named name.
func (d Deployment) has(name string) bool {
	if d.Target.DB == name {
		return true
	}
	return slices.ContainsFunc(d.Frameworks, func(c plan.Container) bool { return c.Name == name })
}

// usesDB reports whether a container reads the Tars database itself.
func usesDB(c plan.Container) bool {
	return (c.Role == images.RoleFramework || c.Role == images.RoleWeb) && !swapname.IsTemporary(c.Name)
}

// locateAll finds the database of every framework and web container of
// states on its own engine, and groups them into deployments (by engine
// and database container), in a stable order. It returns the error of
// each container whose database was not found, by container ID.
func locateAll(ctx context.Context, hosts map[string]*engine.Host, states []plan.HostState) ([]Deployment, map[string]error) {
	errs := map[string]error{}
	byKey := map[string]*Deployment{}
	var keys []string
	for _, s := range states {
		h := hosts[s.Host]
		if h == nil {
			continue
		}
		for _, c := range s.Containers {
			if !usesDB(c) {
				continue
			}
			t, err := tarsdb.LocateWith(ctx, h.Engine, c.Inspect, tarsdb.LocateOptions{Host: h.Name()})
			if err != nil {
				errs[c.ID] = err
				continue
			}
			k := h.Name() + " " + t.DBID
			d, ok := byKey[k]
			if !ok {
				d = &Deployment{Host: h, Target: t, Via: c}
				byKey[k], keys = d, append(keys, k)
			} else if plan.SourceRank(c) > plan.SourceRank(d.Via) {
				d.Target, d.Via = t, c
			}
			d.Frameworks = append(d.Frameworks, c)
		}
	}
	sort.Strings(keys)
	out := make([]Deployment, 0, len(keys))
	for _, k := range keys {
		d := *byKey[k]
		sort.Slice(d.Frameworks, func(i, j int) bool { return d.Frameworks[i].Name < d.Frameworks[j].Name })
		out = append(out, d)
	}
	return out, errs
}

// selectDeployments keeps the deployments --only names (by a framework's
// or the database's container name); every name must match one.
func selectDeployments(deps []Deployment, only []string) ([]Deployment, error) {
	if len(only) == 0 {
		return deps, nil
	}
	var out []Deployment
	matched := map[string]bool{}
	for _, d := range deps {
		hit := false
		for _, n := range only {
			if d.has(n) {
				matched[n], hit = true, true
			}
		}
		if hit {
			out = append(out, d)
		}
	}
	var missing []string
	for _, n := range only {
		if !matched[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, badInput("--only %s: no deployment has a framework or database container of that name (tarsup status lists them)", strings.Join(missing, ", "))
	}
	return out, nil
}

// names lists containers' names.
func names(cs []plan.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func ids(cs []plan.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func engineNames(hosts []*engine.Host) string {
	var n []string
	for _, h := range hosts {
		n = append(n, h.Name())
	}
	return strings.Join(n, ", ")
}

// locateError is the error of a framework whose database was not found.
func locateError(c plan.Container, err error) error {
	return fmt.Errorf("the database of %s on %s: %w", c.Name, c.Host, err)
}
