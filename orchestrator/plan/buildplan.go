package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
)

// Policy is what the operator asked of the run, beyond its targets: the
// planner writes it into the phases and steps, so the dry run shows it and
// the executor only obeys it.
type Policy struct {
	// Parallel is how many nodes are recreated (or re-checked) at once.
	Parallel int
	// MaxFailures is how many failed node steps are tolerated before no new
	// node step starts.
	MaxFailures int
	// StopTimeout is how long a container gets to stop unless its own
	// configuration says otherwise (30 s when zero).
	StopTimeout time.Duration
	// NoRollback leaves a failed new container in place for inspection.
	NoRollback bool
	// Cleanup removes each old image once no container uses it any more.
	Cleanup bool
	// RegisterTimeout bounds each wait of a registration check
	// (--register-timeout); zero plans none.
	RegisterTimeout time.Duration
	// Hooks are the hooks of every recreate the plan makes of a candidate.
	Hooks HookPolicy
	// Closes is when the maintenance window the run starts in closes
	// (zero: no window): no step starts that could run past it.
	Closes time.Time
	// GateTime is the longest a health gate takes: --health-timeout, then
	// --monitor.
	GateTime time.Duration
	// Announce is the --announce mode (AnnounceAuto when empty).
	Announce string
}

// StopTimeoutOf is the seconds c gets to stop: its own, else the policy's,
// else 30 (what a step of c would say).
func (pol Policy) StopTimeoutOf(c Container) int { return pol.stopTimeout(c) }

// stopTimeout is the seconds a container gets to stop: its own, else the
// policy's, else 30.
func (pol Policy) stopTimeout(c Container) int {
	if c.Inspect.Config != nil && c.Inspect.Config.StopTimeout != nil {
		return *c.Inspect.Config.StopTimeout
	}
	if pol.StopTimeout <= 0 {
		return 30
	}
	return int(pol.StopTimeout / time.Second)
}

// planInput is what BuildPlan indexes once from the observation.
type planInput struct {
	resolved map[string]Resolved
	api      map[string]string
	nets     map[string]map[string]NetworkFacts
	before   Preflight
	pol      Policy
}

// BuildPlan keeps the candidates whose target differs from what they run and
// orders them the Tars way: framework masters (with any separate web), then
// the other framework hosts one at a time, then the nodes, pol.Parallel at
// once. It refuses version skew. It is pure.
//
// before holds what the pre-flight probe found, by container ID: each step
// carries its container's finding and the rollback's demand that follows
// from it, and the nodes that answered before and are not recreated are
// re-checked after the framework. With pol.Cleanup, a last phase removes
// each old image that no container observed uses once its users upgraded.
func BuildPlan(cands []Candidate, resolved map[string]Resolved, all []HostState, pol Policy, before Preflight) (Plan, error) {
	in := planInput{resolved: resolved, api: map[string]string{}, nets: map[string]map[string]NetworkFacts{}, before: before, pol: pol}
	hosts := map[string]bool{}
	for _, s := range all {
		hosts[s.Host] = true
		in.api[s.Host] = s.APIVersion
		in.nets[s.Host] = s.Networks
	}
	var masters, slaves, nodes, webs []Step
	var refusals []error
	for _, c := range cands {
		st, keep, err := in.recreateStep(c)
		if err != nil {
			refusals = append(refusals, err)
		}
		if !keep || err != nil {
			continue
		}
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
		return Plan{}, refusalError(refusals)
	}
	if err := webAlone(webs, len(masters)+len(slaves)); err != nil {
		return Plan{}, err
	}
	steps := slices.Concat(masters, webs, slaves, nodes)
	if err := checkSkew(steps, all); err != nil {
		return Plan{}, err
	}
	if err := checkClashes(steps, all); err != nil {
		return Plan{}, err
	}
	for _, l := range [][]Step{masters, slaves, nodes} {
		sortByHost(l)
	}
	nodes = interleaveHosts(nodes)
	par := max(pol.Parallel, 1)
	p := Plan{MultiHost: len(hosts) > 1}
	for _, ph := range []Phase{
		{Name: "framework master", Steps: slices.Concat(masters, webs), Parallel: 1, StopOnFailure: true},
		{Name: "framework hosts", Steps: slaves, Parallel: 1, StopOnFailure: true},
		{Name: "node re-check", Steps: rechecks(masters, slaves, nodes, all, before, pol), Parallel: par, StopOnFailure: true, Checks: true},
		{Name: PhaseNodes, Steps: nodes, Parallel: par, MaxFailures: pol.MaxFailures},
		{Name: PhaseCleanup, Steps: cleanups(steps, all, resolved, pol), Parallel: 1, Always: true},
	} {
		if len(ph.Steps) > 0 {
			p.Phases = append(p.Phases, ph)
		}
	}
	pol.applyAnnounce(&p, all)
	pol.applyWindow(&p)
	return p, nil
}

// recreateStep plans one candidate's recreate; keep is false when it runs
// its target already, err a refusal.
func (in planInput) recreateStep(c Candidate) (st Step, keep bool, err error) {
	r := in.resolved[ResolveKey(c.Host, c.Target)]
	st = Step{Host: c.Host, Container: c.Container, From: c.Container.Image, To: c.Target,
		FromDigest: c.Container.Digest(), Target: r.Image, Cause: c.Cause, Labels: c.Labels}
	st.ToDigest = r.Digest
	if d := images.RepoDigest(r.Image.RepoDigests, c.Target); d != "" {
		st.ToDigest = d
	}
	if !changes(c, r) {
		return st, false, nil
	}
	if st.Cause == "" {
		st.Cause = "tag " + TagOf(c.Target) + " moved"
	}
	if err := recreatable(c, r); err != nil {
		return st, false, err
	}
	api, nets := in.api[c.Host], in.nets[c.Host]
	st.Spec = Derive(DeriveInput{Old: c.Container.Inspect, OldImage: c.Container.ImageInfo, NewImage: r.Image,
		NewRef: c.Target, Role: c.Container.Role, APIVersion: api, Networks: nets, Labels: c.Labels})
	st.Previous = previousSpec(c.Container, api, nets)
	var lost []LostAddress
	st.Pins, lost = PinAddresses(c.Container.Inspect, nets, api)
	if len(lost) > 0 {
		if !c.AllowIPChange {
			return st, false, lostError(c, lost)
		}
		st.IPChanges = lost
	}
	st.Before = in.before[c.Container.ID]
	st.Restore = st.Before.Restore()
	in.pol.RecreatePolicy(&st)
	if err := in.pol.Hooks.Apply(&st); err != nil {
		return st, false, err
	}
	return st, true, nil
}

// RecreatePolicy gives a recreate step its kind and what its execution
// obeys: a stopped container stays stopped and is not gated; the gate judges
// the new container by the role its image and labels give it.
func (pol Policy) RecreatePolicy(st *Step) {
	st.Kind = StepRecreate
	if !st.Container.Running {
		st.Kind = StepRecreateStopped
	}
	st.StopTimeout = pol.stopTimeout(st.Container)
	st.NoRollback = pol.NoRollback
	var labels map[string]string
	if st.Spec.Config != nil {
		labels = st.Spec.Config.Labels
	}
	st.GateRole = images.Classify(st.Spec.Image, labels)
}

// RollbackStep is the recreate that puts t back as it was before its last
// upgrade, gated like an upgrade's. It is pure.
func RollbackStep(t RollbackTarget, ref string, img image.InspectResponse, apiVersion string, pol Policy) Step {
	spec := t.Previous
	spec.Image = ref
	st := Step{Host: t.Host, Container: t.Container, From: t.Container.Image, To: ref,
		FromDigest: t.Container.Digest(), ToDigest: images.RepoDigest(img.RepoDigests, ref), Target: img, Cause: "rollback",
		Spec: spec, Previous: PreviousSpec(t.Container, apiVersion)}
	pol.RecreatePolicy(&st)
	return st
}

// webAlone refuses upgrading tarsweb without any framework container.
func webAlone(webs []Step, frameworks int) error {
	if len(webs) == 0 || frameworks > 0 {
		return nil
	}
	var names []string
	for _, w := range webs {
		names = append(names, w.Container.Name)
	}
	return fault.Mark(fault.Refused, fmt.Errorf("refused: tarsweb (%s) would be upgraded without the framework; the Tars docs forbid updating tarsweb alone. Upgrade the framework with it (--to TAG)", strings.Join(names, ", ")))
}

func sortByHost(l []Step) {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Host != l[j].Host {
			return l[i].Host < l[j].Host
		}
		return l[i].Container.Name < l[j].Container.Name
	})
}

// rechecks plans the re-check of each node that answered before, is not
// recreated, and belongs to a deployment whose framework is upgraded.
func rechecks(masters, slaves, nodes []Step, all []HostState, before Preflight, pol Policy) []Step {
	if len(masters)+len(slaves) == 0 {
		return nil
	}
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
		upgraded[DeploymentOf(f.Container)] = true
	}
	depOf := nodeDeployment(all)
	var out []Step
	for _, s := range all {
		for _, c := range s.Containers {
			dep, _ := depOf(c)
			if c.Role == images.RoleNode && before[c.ID].Healthy() && !planned[c.ID] && upgraded[dep] {
				out = append(out, Step{Kind: StepRecheck, Host: c.Host, Container: c, From: c.Image, To: c.Image,
					Cause: "the framework was upgraded", Before: before[c.ID], StopTimeout: pol.stopTimeout(c), GateRole: c.Role})
			}
		}
	}
	return out
}

// cleanups plans, with pol.Cleanup, the removal of each image the recreated
// containers ran that no other container observed uses, once all of its
// users on that engine upgraded. Why from the observation: the plan (and
// the dry run) says what will go; the executor lists no containers.
func cleanups(steps []Step, all []HostState, resolved map[string]Resolved, pol Policy) []Step {
	if !pol.Cleanup {
		return nil
	}
	users := map[string][]string{}
	for _, s := range all {
		for img, ids := range s.ImageUsers {
			users[ResolveKey(s.Host, img)] = ids
		}
	}
	var out []Step
	index := map[string]int{}
	for _, st := range steps {
		img := st.Container.ImageID
		k := ResolveKey(st.Host, img)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Step{Kind: StepCleanupImage, Host: st.Host, Container: st.Container, Image: img,
				ImageTags: stillTagged(st.Host, img, st.Container.ImageInfo.RepoTags, resolved), Cause: "no other container uses it"})
		}
		out[i].After = append(out[i].After, st.Container.ID)
		out[i].AfterNames = append(out[i].AfterNames, st.Container.Name)
	}
	kept := out[:0]
	for _, c := range out {
		if onlyPlanned(users[ResolveKey(c.Host, c.Image)], c.After) {
			kept = append(kept, c)
		}
	}
	return kept
}

// stillTagged drops the tags that this run's pulls moved to another image:
// removing one would untag the new image. An image left with no tag is
// removed by its ID.
func stillTagged(host, img string, tags []string, resolved map[string]Resolved) []string {
	var out []string
	for _, t := range tags {
		if r, ok := resolved[ResolveKey(host, images.Normalize(t))]; ok && r.Image.ID != "" && r.Image.ID != img {
			continue
		}
		if r, ok := resolved[ResolveKey(host, t)]; ok && r.Image.ID != "" && r.Image.ID != img {
			continue
		}
		out = append(out, t)
	}
	return out
}

// onlyPlanned reports whether every user of an image is one of the planned ones.
func onlyPlanned(users, planned []string) bool {
	for _, u := range users {
		if !slices.Contains(planned, u) {
			return false
		}
	}
	return true
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

// TagOf is the tag of an image reference (the reference itself when it
// does not parse).
func TagOf(ref string) string {
	if r, err := images.Parse(ref); err == nil {
		return r.Tag()
	}
	return ref
}
