package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// RefreshOptions are the inputs of a refresh beyond the engines.
type RefreshOptions struct {
	// Registry answers the look-ups: one manifest HEAD per distinct
	// repository:tag, and with ToLatest one tag list per framework repository.
	Registry *images.Registry
	// Only limits the refresh to these container names.
	Only []string
	// ToLatest also looks for a newer framework release tag and moves every
	// framework (and web) container to the newest.
	ToLatest bool
	// AnyMajor lets ToLatest cross to another major version.
	AnyMajor bool
	// MonitorOnly reports what would change and changes nothing: no pull, no
	// recovery, no container touched.
	MonitorOnly bool
	// Upgrade holds the upgrade's options (parallel, executor, keychain,
	// progress). Refresh sets its Request (keeping its AllowIPChange),
	// DryRun and Registry.
	Upgrade UpgradeOptions
	// Checked, when set, receives the check's result before anything is
	// pulled or changed (so that a report can say what moved first).
	Checked func(RefreshCheck)
}

// Moved is a container whose tag points at another digest than the one it runs.
type Moved struct {
	Host  string `json:"host"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Image string `json:"image"`
	// From is the digest the container runs, To the one its tag points at now.
	From string `json:"from"`
	To   string `json:"to"`
}

// Unchecked is a container a refresh could not compare and leaves alone.
type Unchecked struct {
	Host   string `json:"host"`
	Name   string `json:"name"`
	Image  string `json:"image"`
	Reason string `json:"reason"`
}

// RefreshCheck is what the registry look-ups found. It is plain data.
type RefreshCheck struct {
	// Checked counts the containers compared with their registry.
	Checked int `json:"checked"`
	// Tags counts the distinct repository:tag looked up.
	Tags      int         `json:"tags"`
	Moved     []Moved     `json:"moved"`
	Unchecked []Unchecked `json:"unchecked,omitempty"`
	// NewerTag is the newest framework release tag found with ToLatest, ""
	// when there is none; NewerFrom the tag it replaces.
	NewerTag  string `json:"newer_tag,omitempty"`
	NewerFrom string `json:"newer_from,omitempty"`
	// NoTars is true when the engines (Engines) run no Tars container at
	// all; Summary then says so (the JSON report carries it in "summary").
	NoTars  bool     `json:"-"`
	Engines []string `json:"-"`
}

// Changes reports whether the check found anything to do.
func (c RefreshCheck) Changes() bool { return len(c.Moved) > 0 || c.NewerTag != "" }

// Summary is the one line a refresh prints, e.g.
// "refresh: 12 containers checked, 3 tags, nothing moved".
func (c RefreshCheck) Summary() string {
	if c.NoTars {
		return "refresh: " + NoTarsFound(c.Engines, "")
	}
	s := fmt.Sprintf("refresh: %d %s checked, %d %s", c.Checked, plural(c.Checked, "container"), c.Tags, plural(c.Tags, "tag"))
	var what []string
	if len(c.Moved) > 0 {
		what = append(what, fmt.Sprintf("%d moved", len(c.Moved)))
	}
	if c.NewerTag != "" {
		what = append(what, fmt.Sprintf("framework %s -> %s", c.NewerFrom, c.NewerTag))
	}
	if len(what) == 0 {
		s += ", nothing moved"
	} else {
		s += ", " + strings.Join(what, ", ")
	}
	if n := len(c.Unchecked); n > 0 {
		s += fmt.Sprintf(", %d not comparable (left alone)", n)
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Line renders one moved container, e.g.
// "tars-node1: latest moved sha256:cccc… -> sha256:dddd…".
func (m Moved) Line(withHost bool) string {
	h := ""
	if withHost {
		h = m.Host + " "
	}
	return fmt.Sprintf("%s%s: %s moved %s -> %s", h, m.Name, plan.TagOf(m.Image), plan.Abbrev(m.From), plan.Abbrev(m.To))
}

// RefreshReport is what a refresh found and did.
type RefreshReport struct {
	Check RefreshCheck
	// PendingRecovery lists the engines that held an upgrade under way or
	// interrupted when the refresh began.
	PendingRecovery []string
	// Recovered is what the upgrade's recovery of interrupted upgrades did.
	Recovered []plan.Recovery
	// Upgrade is the upgrade of what moved (a dry run when MonitorOnly);
	// nil when nothing moved.
	Upgrade *UpgradeReport
}

// Changed reports whether the refresh changed (or, monitor-only, would
// change) any container.
func (r RefreshReport) Changed() bool {
	return len(r.Recovered) > 0 || (r.Upgrade != nil && !r.Upgrade.Plan.Empty())
}

// Refresh brings the Tars containers up to date with their own tags. It asks
// the registry for the current digest of each container's tag (manifest
// HEADs, once per repository:tag, in parallel) and compares it with the
// digest the container runs. When nothing moved it pulls nothing and
// touches no container. Otherwise it runs Upgrade limited to the containers
// whose tag moved (and, with ToLatest, the frameworks), so pre-flight, order,
// gates and rollback are the upgrade's. MonitorOnly makes that upgrade a dry
// run.
//
// An engine that holds an upgrade under way or interrupted is reported
// (PendingRecovery). When nothing moved, the refresh leaves it alone, as it
// leaves everything alone. When something moved, the upgrade takes each
// engine's lock first: a live tarsup's upgrade holds that lock, so the
// refresh gives up (exit 3) without touching it, while an interrupted one is
// recovered, as `tarsup upgrade` does, before anything else.
func Refresh(ctx context.Context, hosts []*engine.Host, x *Executor, opts RefreshOptions) (RefreshReport, error) {
	var rep RefreshReport
	for _, h := range hosts {
		pending, err := NeedsRecovery(ctx, h)
		if err != nil {
			return rep, err
		}
		if pending {
			rep.PendingRecovery = append(rep.PendingRecovery, h.Name())
		}
	}
	states, err := ObserveAll(ctx, hosts)
	if err != nil {
		return rep, err
	}
	rep.Check, err = CheckRefresh(ctx, states, opts)
	if err != nil {
		return rep, err
	}
	if opts.Checked != nil {
		opts.Checked(rep.Check)
	}
	if !rep.Check.Changes() {
		return rep, nil
	}
	scope, err := RefreshScope(states, opts.Only)
	if err != nil {
		return rep, err
	}
	uo := opts.Upgrade
	uo.Request = RefreshRequest(scope, rep.Check)
	uo.Request.AllowIPChange = opts.Upgrade.Request.AllowIPChange
	uo.DryRun = opts.MonitorOnly
	uo.Registry = opts.Registry
	uo.States = states
	up, err := Upgrade(ctx, hosts, x, uo)
	rep.Recovered = append(rep.Recovered, up.Recovered...)
	up.Recovered = nil
	up.PendingRecovery = nil
	rep.Upgrade = &up
	return rep, err
}

// RefreshRequest is the upgrade request that carries out a check: the
// containers whose tag moved, by name, and, when a newer framework tag was
// found, that tag for every framework and web container in scope. It is pure.
func RefreshRequest(scope []plan.Container, check RefreshCheck) plan.Request {
	req := plan.Request{To: check.NewerTag}
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			req.Only = append(req.Only, name)
		}
	}
	for _, m := range check.Moved {
		add(m.Name)
	}
	if check.NewerTag != "" {
		for _, c := range scope {
			if c.Role == images.RoleFramework || c.Role == images.RoleWeb {
				add(c.Name)
			}
		}
	}
	sort.Strings(req.Only)
	return req
}

// CheckRefresh looks up the current digest of every in-scope container's tag
// and, with ToLatest, the framework repositories' tags; it pulls nothing.
func CheckRefresh(ctx context.Context, states []plan.HostState, opts RefreshOptions) (RefreshCheck, error) {
	scope, err := RefreshScope(states, opts.Only)
	if err != nil {
		return RefreshCheck{}, err
	}
	reg := opts.Registry
	if reg == nil {
		reg = &images.Registry{}
	}
	var refs []images.Ref
	for _, c := range scope {
		if r, err := images.Parse(c.Image); err == nil {
			refs = append(refs, r)
		}
	}
	var tags map[string][]string
	var tagErr error
	var wg sync.WaitGroup
	if opts.ToLatest {
		// Why beside the HEADs: the tag lists are independent look-ups.
		wg.Go(func() { tags, tagErr = frameworkTags(ctx, reg, scope) })
	}
	digests, err := reg.Digests(ctx, refs)
	wg.Wait()
	if err != nil {
		return RefreshCheck{}, fault.Mark(fault.Unreachable, err)
	}
	check, err := CompareDigests(scope, digests)
	if err != nil {
		return check, err
	}
	if len(scope) == 0 && len(opts.Only) == 0 {
		check.NoTars = true
		for _, s := range states {
			check.Engines = append(check.Engines, s.Host)
		}
	}
	if opts.ToLatest {
		if tagErr != nil {
			return check, tagErr
		}
		check.NewerTag, check.NewerFrom, err = NewestFramework(scope, tags, opts.AnyMajor)
	}
	return check, err
}

// RefreshScope returns the containers a refresh compares: framework, node
// and web containers (never the database), limited to only when given. Like
// Select, it refuses the database named in only and rejects unknown names.
// Unlike Select, it does not refuse REBUILD=true here: that applies when the
// container is about to be recreated, which the upgrade decides. It is pure.
func RefreshScope(states []plan.HostState, only []string) ([]plan.Container, error) {
	scope, missing := plan.InScope(states, only)
	out := scope[:0]
	for _, c := range scope {
		if c.Role == images.RoleDB {
			return nil, fault.Mark(fault.Refused, fmt.Errorf("refused: %s on %s is the Tars database container: tarsup never recreates it; drop it from --only", c.Name, c.Host))
		}
		out = append(out, c)
	}
	if len(missing) > 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("--only %s: no Tars container of that name on any engine (tarsup status lists them)", strings.Join(missing, ", ")))
	}
	return out, nil
}

// CompareDigests decides which containers moved: those whose tag points at a
// digest that none of the container image's digests in its own repository
// is. A container whose image has no digest from its repository (built or
// loaded locally) cannot be compared and is left alone. A failed look-up
// fails the check, naming every failed reference: nothing is changed on a
// partial view. It is pure.
func CompareDigests(scope []plan.Container, digests map[string]images.DigestResult) (RefreshCheck, error) {
	check := RefreshCheck{Moved: []Moved{}}
	keys := map[string]bool{}
	var errs []error
	failed := map[string]bool{}
	for _, c := range scope {
		r, err := images.Parse(c.Image)
		if err != nil {
			check.Unchecked = append(check.Unchecked, Unchecked{Host: c.Host, Name: c.Name, Image: c.Image, Reason: "not an image reference: " + err.Error()})
			continue
		}
		key := r.Key()
		res, ok := digests[key]
		if !ok {
			return check, fmt.Errorf("no look-up result for %s (%s on %s): this is a bug in tarsup", key, c.Name, c.Host)
		}
		keys[key] = true
		if res.Err != nil {
			if !failed[key] {
				failed[key] = true
				errs = append(errs, fmt.Errorf("look up %s: %w", key, res.Err))
			}
			continue
		}
		own := map[string]bool{}
		for _, d := range images.RepoDigests(c.RepoDigests, r.Repository()) {
			own[d] = true
		}
		if len(own) == 0 {
			check.Unchecked = append(check.Unchecked, Unchecked{Host: c.Host, Name: c.Name, Image: c.Image,
				Reason: "its image has no digest from " + r.Repository() + " (built or loaded locally?); use tarsup upgrade to move it"})
			continue
		}
		check.Checked++
		if !own[res.Digest] {
			from := c.Digest()
			if len(own) == 1 {
				for d := range own {
					from = d
				}
			}
			check.Moved = append(check.Moved, Moved{Host: c.Host, Name: c.Name, Role: string(c.Role), Image: r.String(), From: from, To: res.Digest})
		}
	}
	check.Tags = len(keys)
	if len(errs) > 0 {
		err := errors.Join(errs...)
		return check, fmt.Errorf("%w\nnothing was changed (limit the refresh with --only to leave those images out)", err)
	}
	return check, nil
}

// frameworkTags lists the tags of every framework repository in scope that
// runs a version tag.
func frameworkTags(ctx context.Context, reg *images.Registry, scope []plan.Container) (map[string][]string, error) {
	repos := map[string]images.Ref{}
	for _, c := range scope {
		if c.Role != images.RoleFramework {
			continue
		}
		if r, err := images.Parse(c.Image); err == nil && isVersion(r.Tag()) {
			repos[r.Repository()] = r
		}
	}
	out := map[string][]string{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for repo, r := range repos {
		wg.Go(func() {
			tags, err := reg.Tags(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("--to-latest: %w", err))
				return
			}
			out[repo] = tags
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w\nnothing was changed", errors.Join(errs...))
	}
	return out, nil
}

func isVersion(tag string) bool {
	_, ok := images.Compare(tag, tag)
	return ok
}

// NewestFramework picks the newest release tag the framework containers in
// scope can move to: newer than the newest version they run, within that
// major version unless anyMajor, and present in every framework repository
// (mirrors must have it too). tags maps a repository to its tags. It returns
// "" when there is nothing newer or no framework runs a version tag. It is
// pure.
func NewestFramework(scope []plan.Container, tags map[string][]string, anyMajor bool) (tag, from string, err error) {
	var fws []images.Ref
	for _, c := range scope {
		if c.Role != images.RoleFramework {
			continue
		}
		r, err := images.Parse(c.Image)
		if err != nil || !isVersion(r.Tag()) {
			continue
		}
		fws = append(fws, r)
		if cmp, _ := images.Compare(r.Tag(), from); from == "" || cmp > 0 {
			from = r.Tag()
		}
	}
	if from == "" {
		return "", "", nil
	}
	for _, r := range fws {
		t, ok := images.NewestVersion(tags[r.Repository()], from, !anyMajor)
		if !ok {
			continue
		}
		if cmp, _ := images.Compare(t, tag); tag == "" || cmp > 0 {
			tag = t
		}
	}
	if tag == "" {
		return "", "", nil
	}
	for _, r := range fws {
		if !hasTag(tags[r.Repository()], tag) {
			return "", "", fault.Mark(fault.BadInput, fmt.Errorf("--to-latest: the newest framework release is %s, but %s has no tag %s; the framework must move as one (mirror the tag there, or name a tag with tarsup upgrade --to)", tag, r.Repository(), tag))
		}
	}
	return tag, from, nil
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}
