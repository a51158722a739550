package plan

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/swapname"
)

// AfterVersion is the version a container will run once the plan is done.
func AfterVersion(c Container, step *Step) string {
	if step == nil {
		return c.Version
	}
	if step.Target.Config != nil {
		if v := step.Target.Config.Labels[OCIVersionLabel]; v != "" {
			return v
		}
	}
	return TagOf(step.To)
}

// checkSkew refuses a plan after which the framework containers of one
// deployment would run different versions, or a node would run a version
// older than its framework. A deployment is the frameworks that share a
// database (MYSQL_HOST) and the nodes whose WEB_HOST names one of them: one
// engine may carry several independent Tars deployments (labs, compose
// projects), and their versions are nobody else's business.
func checkSkew(steps []Step, all []HostState) error {
	byID := map[string]*Step{}
	for i := range steps {
		byID[steps[i].Container.ID] = &steps[i]
	}

	frameworks := map[string]map[string][]string{} // deployment -> version -> containers
	depOf := nodeDeployment(all)
	var nodes []Container
	for _, s := range all {
		for _, c := range s.Containers {
			if swapname.IsTemporary(c.Name) {
				continue
			}
			switch c.Role {
			case images.RoleFramework:
				dep := DeploymentOf(c)
				if frameworks[dep] == nil {
					frameworks[dep] = map[string][]string{}
				}
				v := AfterVersion(c, byID[c.ID])
				frameworks[dep][v] = append(frameworks[dep][v], c.Name+"@"+c.Host)
			case images.RoleNode:
				nodes = append(nodes, c)
			}
		}
	}
	// Only the deployments this plan touches are judged: an untouched one's
	// versions are not this run's business.
	touched := map[string]bool{}
	for _, st := range steps {
		switch st.Container.Role {
		case images.RoleFramework:
			touched[DeploymentOf(st.Container)] = true
		case images.RoleNode:
			if dep, named := depOf(st.Container); named {
				touched[dep] = true
			}
		}
	}
	for _, dep := range slices.Sorted(maps.Keys(frameworks)) {
		versions := frameworks[dep]
		if len(versions) <= 1 || !touched[dep] {
			continue
		}
		var parts []string
		for v, names := range versions {
			parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(names, ", ")))
		}
		sort.Strings(parts)
		return fault.Mark(fault.Refused, fmt.Errorf("refused: after this plan the framework would run different versions (%s); framework components depend on each other's versions, so upgrade every framework container of a deployment together (drop --only, or name them all)", strings.Join(parts, "; ")))
	}
	for _, n := range nodes {
		dep, _ := depOf(n)
		if dep == "" || (!touched[dep] && byID[n.ID] == nil) {
			continue
		}
		nv := AfterVersion(n, byID[n.ID])
		for fv := range frameworks[dep] {
			if cmp, known := images.Compare(nv, fv); known && cmp < 0 {
				return fault.Mark(fault.Refused, fmt.Errorf("refused: node %s@%s would run %s, older than its framework's %s; run tarsnode at the framework's version (move the node's tag first, or --node-image)", n.Name, n.Host, nv, fv))
			}
		}
	}
	return nil
}

// nodeDeployment returns what names a node's deployment: the deployment of
// the framework its WEB_HOST names (named true), else the only deployment
// there is, else "".
func nodeDeployment(all []HostState) func(Container) (dep string, named bool) {
	reach := map[string]string{}
	deps := map[string]bool{}
	for _, s := range all {
		for _, c := range s.Containers {
			if c.Role != images.RoleFramework || swapname.IsTemporary(c.Name) {
				continue
			}
			dep := DeploymentOf(c)
			deps[dep] = true
			for _, n := range dbNames(c) {
				reach[n] = dep
			}
		}
	}
	return func(n Container) (string, bool) {
		if dep, ok := reach[webHostOf(n)]; ok {
			return dep, true
		}
		if len(deps) == 1 {
			for d := range deps {
				return d, false
			}
		}
		return "", false
	}
}

// DeploymentOf names a framework's deployment by its database.
func DeploymentOf(c Container) string {
	host := c.Env["MYSQL_HOST"]
	if host == "" {
		host = c.Env["DBIP"]
	}
	port := c.Env["MYSQL_PORT"]
	if port == "" {
		port = "3306"
	}
	return host + ":" + port
}

// webHostOf returns the host part of a node's WEB_HOST.
func webHostOf(c Container) string {
	u, err := url.Parse(c.Env["WEB_HOST"])
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// PreviousSpec is the configuration that puts c back as it is now: its own
// image (by repo digest, so a floating tag cannot swap it) and settings.
func PreviousSpec(c Container, apiVersion string) Spec {
	return previousSpec(c, apiVersion, nil)
}

// previousSpec is PreviousSpec knowing the engine's networks, so that a
// rollback asks for the same addresses.
func previousSpec(c Container, apiVersion string, nets map[string]NetworkFacts) Spec {
	s := Derive(DeriveInput{Old: c.Inspect, OldImage: c.ImageInfo, NewImage: c.ImageInfo,
		NewRef: c.Image, Role: c.Role, APIVersion: apiVersion, Networks: nets})
	s.ImageID = c.ImageID
	if d := images.RepoDigest(c.ImageInfo.RepoDigests, c.Image); d != "" {
		s.RepoDigest = images.RepositoryOf(c.Image) + "@" + d
	}
	return s
}

// interleaveHosts reorders steps sorted by host so that consecutive steps go
// to different hosts, round robin: a batch of --parallel nodes then spreads
// its pulls, stops and starts over the engines instead of loading one.
func interleaveHosts(steps []Step) []Step {
	var hosts []string
	byHost := map[string][]Step{}
	for _, st := range steps {
		if _, ok := byHost[st.Host]; !ok {
			hosts = append(hosts, st.Host)
		}
		byHost[st.Host] = append(byHost[st.Host], st)
	}
	out := make([]Step, 0, len(steps))
	for len(out) < len(steps) {
		for _, h := range hosts {
			if q := byHost[h]; len(q) > 0 {
				out = append(out, q[0])
				byHost[h] = q[1:]
			}
		}
	}
	return out
}
