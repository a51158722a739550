package orchestrator

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/swapname"
)

// RebuildDrops names what REBUILD=true drops (deploy/docker-init.sh).
const RebuildDrops = "db_tars, tars_stat, tars_property, db_tars_web, db_user_system and db_cache_web (every deployed service, config and user)"

// Request is what the operator asked for.
type Request struct {
	// To moves every framework (and web) container to this tag in its own repository.
	To string
	// FrameworkImage and NodeImage name the target images outright.
	FrameworkImage string
	NodeImage      string
	// Only limits the work to these container names.
	Only []string
	// AllowIPChange lets a container whose address cannot be kept (the
	// default bridge; a network without a configured subnet on an old
	// engine) be recreated anyway, with whatever address the engine gives.
	AllowIPChange bool
}

// Candidate is a container in scope and the reference it should run.
type Candidate struct {
	Host      string
	Container Container
	Target    string
	// Cause says why the target differs, or "" when only a moved digest would make a change.
	Cause string
	// AllowIPChange is the request's --allow-ip-change.
	AllowIPChange bool
	// Labels are set on the new container over the ones it copies from the
	// old (compose's config-hash, say): decided by the caller, shown in the
	// dry run. Nil for none.
	Labels map[string]string
}

// Select decides which containers are in scope and what each should run. It is
// pure. It refuses (fault.Refused) the db container named with --only and a
// framework with REBUILD=true; it rejects (fault.BadInput) unknown names and bad
// references.
func Select(states []HostState, req Request) ([]Candidate, error) {
	scope, missing := inScope(states, req.Only)
	var out []Candidate
	var refusals []error
	for _, c := range scope {
		if c.Role == images.RoleDB {
			refusals = append(refusals, fmt.Errorf("%s on %s is the Tars database container: tarsup never recreates it (a Tars upgrade must not touch MySQL); drop it from --only", c.Name, c.Host))
			continue
		}
		if c.Rebuild {
			refusals = append(refusals, fmt.Errorf("%s on %s has REBUILD=true: its next start drops %s. Recreate it with REBUILD=false (or remove the variable) and run tarsup again; tarsup never sets REBUILD=true", c.Name, c.Host, RebuildDrops))
		}
		cand, err := target(c, req)
		if err != nil {
			return nil, err
		}
		out = append(out, cand)
	}
	if len(missing) > 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("--only %s: no Tars container of that name on any engine (tarsup status lists them)", strings.Join(missing, ", ")))
	}
	if len(refusals) > 0 {
		return nil, fault.Mark(fault.Refused, fmt.Errorf("refused: %w", errors.Join(refusals...)))
	}
	return out, nil
}

// target works out the reference a container should run (images.Retarget's
// rule) and refuses a named image of another role.
func target(c Container, req Request) (Candidate, error) {
	cand := Candidate{Host: c.Host, Container: c, Target: c.Image, AllowIPChange: req.AllowIPChange}
	to, flag, err := images.Retarget(c.Role, c.Image, req.To, req.FrameworkImage, req.NodeImage)
	var retag *images.RetagError
	switch {
	case errors.As(err, &retag):
		return cand, fault.Mark(fault.BadInput, fmt.Errorf("%s on %s runs %q, which is not an image reference tarsup can retag; use --framework-image: %w", c.Name, c.Host, c.Image, retag.Err))
	case err != nil:
		return cand, fault.Mark(fault.BadInput, err)
	case flag == images.FlagFrameworkImage || flag == images.FlagNodeImage:
		ref := req.NodeImage
		if flag == images.FlagFrameworkImage {
			ref = req.FrameworkImage
		}
		// Why before any pull: the name alone tells a mysql or tars-node
		// image from a framework one, and pulling it everywhere only to be
		// gated as the wrong role and rolled back minutes later helps no one.
		if got, bad := images.RoleMismatch(c.Role, ref, nil); bad {
			return cand, fault.Mark(fault.Refused, fmt.Errorf("refused: %s %s names a %s image (by its name), but %s on %s is a %s container; name a %s image%s", flag, ref, got, c.Name, c.Host, c.Role, c.Role, roleHint(c.Role)))
		}
	}
	if flag == "" || to == images.Normalize(c.Image) {
		return cand, nil
	}
	cand.Target, cand.Cause = to, flag+" "+to
	if flag == images.FlagTo {
		cand.Cause = flag + " " + req.To
	}
	return cand, nil
}

// roleHint names the images of a role, for a refusal's fix.
func roleHint(r images.Role) string {
	switch r {
	case images.RoleFramework:
		return " (tarscloud/framework or tarscloud/tars, or a mirror of one)"
	case images.RoleNode:
		return " (tarscloud/tars-node, or a mirror of it)"
	}
	return ""
}

// Resolved is what is known of a target image on one engine: after a pull,
// its inspection; in a dry run, at most the registry's digest.
type Resolved struct {
	Image image.InspectResponse
	// Digest is the registry's manifest digest of the target tag, if known.
	Digest string
}

// ResolveKey names a target reference on one host.
func ResolveKey(host, ref string) string { return host + " " + ref }

// Step is one recreate: a container, what it runs and what it will run.
type Step struct {
	Host       string
	Container  Container
	From, To   string // references
	FromDigest string
	ToDigest   string
	Target     image.InspectResponse
	Cause      string
	// Spec is the new container's configuration; Previous the old one's,
	// kept on the new container for `tarsup rollback`.
	Spec     Spec
	Previous Spec
	// Pins are the addresses the new container asks for (the old one's);
	// IPChanges those it cannot keep, allowed by --allow-ip-change.
	Pins      []Pin
	IPChanges []LostAddress
	// Labels are the candidate's label overrides, already in Spec.
	Labels map[string]string
	// Before is what the pre-flight probe found of the container: was it
	// healthy before the upgrade (yes, no and why, not probed).
	Before HealthBefore
	// Restore is what a rollback asks of the old container once it is
	// back: RestoreHealthy, or RestoreRunning when it was not healthy
	// before ("" counts as RestoreHealthy).
	Restore string
}

// Phase kinds.
const (
	// PhaseRecreate recreates each step's container.
	PhaseRecreate = "recreate"
	// PhaseRecheck probes each step's node after a framework upgrade, and
	// restarts once the ones that no longer answer.
	PhaseRecheck = "recheck"
)

// Phase is a group of steps run in order; Parallel > 1 lets that many run at once.
type Phase struct {
	Name     string
	Kind     string
	Steps    []Step
	Parallel int
}

// Plan is the ordered work of an upgrade.
type Plan struct {
	Phases []Phase
	// MultiHost makes each step name its host.
	MultiHost bool
}

// Empty reports whether the plan recreates nothing.
func (p Plan) Empty() bool { return len(p.Steps()) == 0 }

// Steps returns every recreate step in order.
func (p Plan) Steps() []Step {
	var out []Step
	for _, ph := range p.Phases {
		if ph.Kind == PhaseRecreate {
			out = append(out, ph.Steps...)
		}
	}
	return out
}

// String is the dry run: one line per step with its cause.
func (p Plan) String() string {
	var b strings.Builder
	for _, l := range p.lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "nothing to do: every Tars container runs its target image\n"
	}
	return b.String()
}

// Lines renders the plan's steps with their phases' kinds.
func (p Plan) lines() []string {
	var out []string
	for _, ph := range p.Phases {
		for _, s := range ph.Steps {
			if ph.Kind == PhaseRecheck {
				out = append(out, s.RecheckLine(p.MultiHost))
			} else {
				out = append(out, s.Line(p.MultiHost))
			}
		}
	}
	return out
}

// RecheckLine renders a re-check step.
func (s Step) RecheckLine(withHost bool) string {
	h := ""
	if withHost {
		h = s.Host + " "
	}
	return fmt.Sprintf("%s%s: re-check (probe, restart once if it does not answer): %s", h, s.Container.Name, s.Cause)
}

// Line renders one step, e.g.
// "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:ab12… -> sha256:cd34…): --to v3.0.16".
func (s Step) Line(withHost bool) string {
	var b strings.Builder
	if withHost {
		b.WriteString(s.Host + " ")
	}
	fmt.Fprintf(&b, "%s: recreate %s -> %s (%s -> %s)", s.Container.Name, s.FromLabel(), s.ToLabel(), abbrev(s.FromDigest), abbrev(s.ToDigest))
	if s.Cause != "" {
		b.WriteString(": " + s.Cause)
	}
	if len(s.Pins) > 0 {
		var parts []string
		for _, p := range s.Pins {
			parts = append(parts, p.IP+" on "+p.Network)
		}
		b.WriteString("; pins " + strings.Join(parts, ", "))
	}
	if len(s.IPChanges) > 0 {
		var parts []string
		for _, l := range s.IPChanges {
			parts = append(parts, l.IP+" on "+l.Network)
		}
		b.WriteString("; may change " + strings.Join(parts, ", ") + " (--allow-ip-change)")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		fmt.Fprintf(&b, "; label %s -> %s", k, s.Labels[k])
	}
	if s.Before.State != "" && !s.Before.Healthy() {
		fmt.Fprintf(&b, " (%s before: %s)", s.Before.State, s.Before.Detail)
	}
	return b.String()
}

// FromLabel is the old side's short name: the tag, or the whole reference when
// the repository changes.
func (s Step) FromLabel() string { return sideLabel(s.From, s.To) }

// ToLabel is the new side's short name.
func (s Step) ToLabel() string { return sideLabel(s.To, s.From) }

func sideLabel(ref, other string) string {
	r, err := images.Parse(ref)
	if err != nil {
		return ref
	}
	o, err := images.Parse(other)
	if err != nil || o.Repository() != r.Repository() {
		return r.String()
	}
	if r.Digest() != "" && r.Tag() == "latest" && !strings.Contains(ref, ":latest") {
		return "@" + abbrev(r.Digest())
	}
	return r.Tag()
}

func abbrev(d string) string {
	if d == "" {
		return "unknown"
	}
	if strings.HasPrefix(d, "sha256:") && len(d) > 11 {
		return d[:11] + "…"
	}
	return d
}

// BuildPlan keeps the candidates whose target differs from what they run and
// orders them the Tars way: framework masters (with any separate web), then
// the other framework hosts one at a time, then the nodes, parallel at most
// `parallel` at once. It refuses version skew. It is pure.
//
// before holds what the pre-flight probe found, by container ID: each step
// carries its container's finding and the rollback's demand that follows
// from it, and the nodes that answered before and are not recreated are
// re-checked after the framework.
func BuildPlan(cands []Candidate, resolved map[string]Resolved, all []HostState, parallel int, before Preflight) (Plan, error) {
	var masters, slaves, nodes, webs []Step
	hosts := map[string]bool{}
	api := map[string]string{}
	nets := map[string]map[string]NetworkFacts{}
	for _, s := range all {
		hosts[s.Host.Name()] = true
		api[s.Host.Name()] = s.APIVersion
		nets[s.Host.Name()] = s.Networks
	}
	var refusals []error
	for _, c := range cands {
		r := resolved[ResolveKey(c.Host, c.Target)]
		st := Step{Host: c.Host, Container: c.Container, From: c.Container.Image, To: c.Target,
			FromDigest: c.Container.Digest(), Target: r.Image, Cause: c.Cause, Labels: c.Labels}
		st.ToDigest = r.Digest
		if d := images.RepoDigest(r.Image.RepoDigests, c.Target); d != "" {
			st.ToDigest = d
		}
		if !changes(c, r) {
			continue
		}
		if st.Cause == "" {
			st.Cause = "tag " + tagOf(c.Target) + " moved"
		}
		if err := recreatable(c, r); err != nil {
			refusals = append(refusals, err)
			continue
		}
		st.Spec = Derive(DeriveInput{Old: c.Container.Inspect, OldImage: c.Container.ImageInfo, NewImage: r.Image,
			NewRef: c.Target, Role: c.Container.Role, APIVersion: api[c.Host], Networks: nets[c.Host], Labels: c.Labels})
		st.Previous = previousSpec(c.Container, api[c.Host], nets[c.Host])
		var lost []LostAddress
		st.Pins, lost = PinAddresses(c.Container.Inspect, nets[c.Host], api[c.Host])
		if len(lost) > 0 {
			if !c.AllowIPChange {
				refusals = append(refusals, lostError(c, lost))
				continue
			}
			st.IPChanges = lost
		}
		st.Before = before[c.Container.ID]
		st.Restore = st.Before.Restore()
		switch {
		case c.Container.Role == images.RoleWeb:
			webs = append(webs, st)
		case c.Container.Master():
			masters = append(masters, st)
		case c.Container.Role == images.RoleFramework:
			slaves = append(slaves, st)
		default:
			nodes = append(nodes, st)
		}
	}
	if len(refusals) > 0 {
		return Plan{}, fault.Mark(fault.Refused, fmt.Errorf("refused: %w", errors.Join(refusals...)))
	}
	if len(webs) > 0 && len(masters)+len(slaves) == 0 {
		var names []string
		for _, w := range webs {
			names = append(names, w.Container.Name)
		}
		return Plan{}, fault.Mark(fault.Refused, fmt.Errorf("refused: tarsweb (%s) would be upgraded without the framework; the Tars docs forbid updating tarsweb alone. Upgrade the framework with it (--to TAG)", strings.Join(names, ", ")))
	}
	steps := slices.Concat(masters, webs, slaves, nodes)
	if err := checkSkew(steps, all); err != nil {
		return Plan{}, err
	}
	if err := checkClashes(steps, all); err != nil {
		return Plan{}, err
	}
	for _, l := range [][]Step{masters, slaves, nodes} {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].Host != l[j].Host {
				return l[i].Host < l[j].Host
			}
			return l[i].Container.Name < l[j].Container.Name
		})
	}
	nodes = interleaveHosts(nodes)
	if parallel < 1 {
		parallel = 1
	}
	p := Plan{MultiHost: len(hosts) > 1}
	var rechecks []Step
	if len(masters)+len(slaves) > 0 {
		// Why: real tarsnodes fetch from the framework's web and register
		// with its registry; after a framework upgrade, a node that answered
		// before must answer again.
		planned := map[string]bool{}
		for _, n := range nodes {
			planned[n.Container.ID] = true
		}
		// Why only those deployments: a node of another deployment (on the
		// same engines) does not depend on these frameworks, and restarting
		// it would be work nobody asked for.
		upgraded := map[string]bool{}
		for _, f := range slices.Concat(masters, slaves) {
			upgraded[deploymentOf(f.Container)] = true
		}
		depOf := nodeDeployment(all)
		for _, s := range all {
			for _, c := range s.Containers {
				dep, _ := depOf(c)
				if c.Role == images.RoleNode && before[c.ID].Healthy() && !planned[c.ID] && upgraded[dep] {
					rechecks = append(rechecks, Step{Host: c.Host, Container: c, From: c.Image, To: c.Image, Cause: "the framework was upgraded", Before: before[c.ID]})
				}
			}
		}
	}
	for _, ph := range []Phase{
		{Name: "framework master", Kind: PhaseRecreate, Steps: slices.Concat(masters, webs), Parallel: 1},
		{Name: "framework hosts", Kind: PhaseRecreate, Steps: slaves, Parallel: 1},
		{Name: "node re-check", Kind: PhaseRecheck, Steps: rechecks, Parallel: parallel},
		{Name: "nodes", Kind: PhaseRecreate, Steps: nodes, Parallel: parallel},
	} {
		if len(ph.Steps) > 0 {
			p.Phases = append(p.Phases, ph)
		}
	}
	return p, nil
}

// recreatable refuses a container that a recreate would lose, and a pulled
// target whose own tarsup.role label says it is for another role.
func recreatable(c Candidate, r Resolved) error {
	in := c.Container.Inspect
	if in.HostConfig != nil && in.HostConfig.AutoRemove {
		// Why: stopping it makes the engine remove it and its anonymous
		// volumes, so there is no old container to roll back to, and
		// `recover` finds nothing.
		return fmt.Errorf("%s on %s was started with --rm: stopping it removes it (and its anonymous volumes), so a failed upgrade could not roll back. Recreate it without --rm: docker run ... --restart always (as TarsDocs), then run tarsup again", c.Container.Name, c.Host)
	}
	if r.Image.Config != nil {
		if got, bad := images.RoleMismatch(c.Container.Role, c.Target, r.Image.Config.Labels); bad {
			return fmt.Errorf("%s (the image pulled for %s on %s) is a %s image (its %s label, or its name), not a %s one; name a %s image%s", c.Target, c.Container.Name, c.Host, got, images.RoleLabel, c.Container.Role, c.Container.Role, roleHint(c.Container.Role))
		}
	}
	return nil
}

// lostError explains the addresses a recreate cannot keep, and the fix.
func lostError(c Candidate, lost []LostAddress) error {
	var parts []string
	for _, l := range lost {
		parts = append(parts, fmt.Sprintf("%s on %s (%s)", l.IP, l.Network, l.Reason))
	}
	return fmt.Errorf("%s on %s would not keep its address %s; Tars records the IPs of its framework and nodes (t_node_info), and one that comes back with another IP is a new, unregistered node. Move it to a user-defined network with a subnet (docker network create --subnet ...; docker run --network NAME --ip ADDRESS), or pass --allow-ip-change to accept a new address", c.Container.Name, c.Host, strings.Join(parts, ", "))
}

// changes reports whether a candidate must be recreated.
func changes(c Candidate, r Resolved) bool {
	if images.Normalize(c.Target) != images.Normalize(c.Container.Image) {
		return true
	}
	if r.Image.ID != "" {
		return r.Image.ID != c.Container.ImageID
	}
	if r.Digest != "" {
		for _, d := range c.Container.RepoDigests {
			if strings.HasSuffix(d, "@"+r.Digest) {
				return false
			}
		}
		return true
	}
	return false
}

func tagOf(ref string) string {
	if r, err := images.Parse(ref); err == nil {
		return r.Tag()
	}
	return ref
}

// afterVersion is the version a container will run once the plan is done.
func afterVersion(c Container, step *Step) string {
	if step == nil {
		return c.Version
	}
	if step.Target.Config != nil {
		if v := step.Target.Config.Labels[OCIVersionLabel]; v != "" {
			return v
		}
	}
	return tagOf(step.To)
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
				dep := deploymentOf(c)
				if frameworks[dep] == nil {
					frameworks[dep] = map[string][]string{}
				}
				v := afterVersion(c, byID[c.ID])
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
			touched[deploymentOf(st.Container)] = true
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
		nv := afterVersion(n, byID[n.ID])
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
			dep := deploymentOf(c)
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

// deploymentOf names a framework's deployment by its database.
func deploymentOf(c Container) string {
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
