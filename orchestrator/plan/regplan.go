package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/swapname"
)

// Phase names the registration check works with.
const (
	PhaseNodes             = "nodes"
	PhaseCleanup           = "cleanup"
	PhaseRegAfterFramework = "registration after the framework"
	PhaseRegAfterNodes     = "registration after the nodes"
)

// Causes of the reregister steps: which steps they follow.
const (
	CauseAfterFramework = "after the framework steps"
	CauseAfterNodes     = "after the node steps"
)

// RegistrationSource is a deployment a plan touches and the framework
// container its t_node_info is read through (that framework's MYSQL_*
// variables name the database), or why there is none (Off).
type RegistrationSource struct {
	Deployment string
	Host       string
	Framework  Container
	Off        string
}

// DeploymentNodes is the pre-flight read of one deployment's t_node_info;
// Off says why there is none (the check is off for that deployment).
type DeploymentNodes struct {
	RegistrationSource
	Read NodeRead
}

// Registrations are the pre-flight reads, by deployment.
type Registrations map[string]DeploymentNodes

// RegistrationNote says why a deployment's registration check is off, or
// why a node is not checked. Its JSON keys are a promise.
type RegistrationNote struct {
	Deployment string `json:"deployment"`
	Host       string `json:"host"`
	// Container is the framework the database was to be read through, or
	// the node that is not checked.
	Container string `json:"container"`
	Reason    string `json:"reason"`
	// Node is true for a node that is not checked.
	Node bool `json:"node"`
}

// String is the note's line in the text report.
func (n RegistrationNote) String() string {
	if n.Node {
		return fmt.Sprintf("registration: %s on %s is not checked: %s", n.Container, n.Host, n.Reason)
	}
	via := ""
	if n.Container != "" {
		via = fmt.Sprintf(" (%s on %s)", n.Container, n.Host)
	}
	return fmt.Sprintf("registration check off for deployment %s%s: %s", n.Deployment, via, n.Reason)
}

// RegistrationScope lists the deployments of a plan's framework and node
// steps, each with the framework to read its t_node_info through: a
// running master first, then any running framework, then any. Why through
// a framework: its MYSQL_* variables are where Tars itself finds db_tars.
func RegistrationScope(p Plan, all []HostState) []RegistrationSource {
	depOf := nodeDeployment(all)
	out := map[string]RegistrationSource{}
	for _, st := range p.Steps() {
		c := st.Container
		var dep string
		switch c.Role {
		case images.RoleFramework:
			dep = DeploymentOf(c)
		case images.RoleNode:
			if dep, _ = depOf(c); dep == "" {
				dep = "WEB_HOST " + c.Env["WEB_HOST"]
				out[dep] = RegistrationSource{Deployment: dep, Host: c.Host,
					Off: "no framework of this node's deployment is on the engines given (nothing serves its WEB_HOST): t_node_info is read through a framework's MYSQL_* variables"}
				continue
			}
		default:
			continue
		}
		if _, ok := out[dep]; !ok {
			out[dep] = sourceOf(dep, all)
		}
	}
	var list []RegistrationSource
	for _, k := range slices.Sorted(maps.Keys(out)) {
		list = append(list, out[k])
	}
	return list
}

// SourceRank orders the frameworks a deployment's database is reached
// through (the registration check, snapshots): a running one first, then a
// master.
func SourceRank(c Container) int {
	r := 0
	if c.Running {
		r += 2
	}
	if c.Master() {
		r++
	}
	return r
}

// sourceOf picks the framework a deployment's t_node_info is read through.
func sourceOf(dep string, all []HostState) RegistrationSource {
	var best *Container
	rank := SourceRank
	for _, s := range all {
		for i, c := range s.Containers {
			if c.Role == images.RoleFramework && !swapname.IsTemporary(c.Name) && DeploymentOf(c) == dep && (best == nil || rank(c) > rank(*best)) {
				best = &s.Containers[i]
			}
		}
	}
	if best == nil {
		return RegistrationSource{Deployment: dep, Off: "no framework of it was observed"}
	}
	return RegistrationSource{Deployment: dep, Host: best.Host, Framework: *best}
}

// Notes are the deployments whose check is off, as notes.
func (regs Registrations) Notes() []RegistrationNote {
	var out []RegistrationNote
	for _, k := range slices.Sorted(maps.Keys(regs)) {
		if r := regs[k]; r.Off != "" {
			out = append(out, RegistrationNote{Deployment: r.Deployment, Host: r.Host, Container: r.Framework.Name, Reason: r.Off})
		}
	}
	return out
}

// WithRegistration adds the registration check to a plan: every running
// node of a deployment read in the pre-flight whose row was active then is
// checked after the framework steps (when the plan has some) and after the
// node steps (when it has some), each check a reregister step; all of a
// phase's checks wait at once, and a failed one ends the run. It returns
// the notes of deployments whose check is off and of nodes not checked.
// With pol.RegisterTimeout zero it plans nothing. It is pure.
func WithRegistration(p Plan, regs Registrations, all []HostState, pol Policy) (Plan, []RegistrationNote) {
	if pol.RegisterTimeout <= 0 || len(regs) == 0 {
		return p, nil
	}
	notes := regs.Notes()
	recreated, framework := map[string]bool{}, false
	for _, st := range p.Steps() {
		framework = framework || st.Container.Role == images.RoleFramework || st.Container.Role == images.RoleWeb
		if st.Container.Role == images.RoleNode && st.Kind == StepRecreate {
			recreated[st.Container.ID] = true
		}
	}
	checks, skipped := regChecks(regs, all, pol)
	notes = append(notes, skipped...)
	if len(checks) == 0 {
		return p, notes
	}
	i := slices.IndexFunc(p.Phases, func(ph Phase) bool { return ph.Name == PhaseNodes || ph.Name == PhaseCleanup })
	if i < 0 {
		i = len(p.Phases)
	}
	head, rest := p.Phases[:i], p.Phases[i:]
	var nodes []Phase
	if len(rest) > 0 && rest[0].Name == PhaseNodes {
		nodes, rest = rest[:1], rest[1:]
	}
	phases := slices.Clone(head)
	if framework {
		phases = append(phases, regPhase(PhaseRegAfterFramework, CauseAfterFramework, checks, nil))
	}
	phases = append(phases, nodes...)
	if len(recreated) > 0 {
		phases = append(phases, regPhase(PhaseRegAfterNodes, CauseAfterNodes, checks, recreated))
	}
	p.Phases = append(phases, rest...)
	// Why again: the checks added count in the window's limits.
	pol.applyWindow(&p)
	return p, notes
}

// regPhase is a phase of checks: every check at once, a failure ends the
// run. A check of a node recreated before it waits for that recreate.
func regPhase(name, cause string, checks []Step, recreated map[string]bool) Phase {
	steps := make([]Step, len(checks))
	for i, st := range checks {
		st.Cause = cause
		if recreated[st.Container.ID] {
			st.After, st.AfterNames = []string{st.Container.ID}, []string{st.Container.Name}
		}
		steps[i] = st
	}
	return Phase{Name: name, Steps: steps, Parallel: len(steps), StopOnFailure: true, Checks: true}
}

// regChecks plans a check of every running node whose deployment was read
// and whose row was active then; the others are notes.
func regChecks(regs Registrations, all []HostState, pol Policy) ([]Step, []RegistrationNote) {
	depOf := nodeDeployment(all)
	var checks []Step
	var notes []RegistrationNote
	for _, s := range all {
		for _, c := range s.Containers {
			if c.Role != images.RoleNode || !c.Running || swapname.IsTemporary(c.Name) {
				continue
			}
			dep, _ := depOf(c)
			reg, ok := regs[dep]
			if !ok || reg.Off != "" {
				continue
			}
			row, found := MatchNode(c, reg.Read.Rows)
			switch {
			case !found:
				notes = append(notes, RegistrationNote{Deployment: dep, Host: c.Host, Container: c.Name, Node: true,
					Reason: "no row of db_tars.t_node_info names it (" + strings.Join(NodeIdentities(c), ", ") + ") before the run"})
				continue
			case row.PresentState != RegActive:
				notes = append(notes, RegistrationNote{Deployment: dep, Host: c.Host, Container: c.Name, Node: true,
					Reason: fmt.Sprintf("its row %s was %s before the run", row.NodeName, orNone(row.PresentState))})
				continue
			}
			checks = append(checks, Step{Kind: StepReregister, Host: c.Host, Container: c, From: c.Image, To: c.Image,
				StopTimeout: pol.stopTimeout(c), GateRole: c.Role,
				Reg: RegCheck{Deployment: dep, NodeName: row.NodeName, EndpointIP: row.EndpointIP, Timeout: pol.RegisterTimeout}})
		}
	}
	sortByHost(checks)
	return checks, notes
}

// ReregisterLine renders a reregister step, e.g. "tars-node1: reregister:
// active again at 172.25.0.5 in db_tars.t_node_info and heartbeating,
// within 2m0s, else restart once and wait 2m0s more: after the framework
// steps".
func (s Step) ReregisterLine(withHost bool) string {
	row := ""
	if s.Reg.NodeName != s.Reg.EndpointIP {
		row = " (row " + s.Reg.NodeName + ")"
	}
	return fmt.Sprintf("%s%s: reregister: active again at %s%s in db_tars.t_node_info and heartbeating, within %s, else restart once and wait %s more: %s",
		s.hostPrefix(withHost), s.Container.Name, s.Reg.EndpointIP, row, s.Reg.Timeout, s.Reg.Timeout, s.Cause)
}
