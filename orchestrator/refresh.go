package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/window"
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
	Checked func(plan.RefreshCheck)
	// Windows are the maintenance windows (--window): the look-ups run at
	// any time, but steps start only inside one, and only those that can
	// finish before it closes. Empty: no limit.
	Windows window.Set
	// Force ignores Windows (watch's POST /v1/update?force=1).
	Force bool
	// MinAge holds back an image whose registry creation time is younger
	// than this (--min-age), or unknown; 0 takes every image.
	MinAge time.Duration
	// Now is the clock windows and MinAge are judged by (time.Now when nil).
	Now func() time.Time
}

// RefreshReport is what a refresh found and did.
type RefreshReport struct {
	Check plan.RefreshCheck
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
	return len(r.Recovered) > 0 || (r.Upgrade != nil && !r.Upgrade.Plan.Empty() && !allWaiting(r.Upgrade.Results))
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
	if opts.Registry == nil {
		// Why here: the check and the upgrade's dry run share one, so a
		// tag is asked about once.
		opts.Registry = &images.Registry{Retries: images.DefaultRetries}
	}
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
	if rep.Check, err = admit(ctx, states, rep.Check, opts, len(hosts) > 1); err != nil {
		return rep, err
	}
	if opts.Checked != nil {
		opts.Checked(rep.Check)
	}
	if !rep.Check.Changes() || !rep.Check.Window.Admits() {
		return rep, nil
	}
	scope, err := plan.RefreshScope(states, opts.Only)
	if err != nil {
		return rep, err
	}
	uo := opts.Upgrade
	uo.Request = RefreshRequest(scope, rep.Check)
	uo.Request.AllowIPChange = opts.Upgrade.Request.AllowIPChange
	uo.DryRun = opts.MonitorOnly
	uo.Registry = opts.Registry
	uo.States = states
	if w := rep.Check.Window; w != nil && !w.Forced {
		uo.WindowCloses = w.Closes
	}
	up, err := Upgrade(ctx, hosts, x, uo)
	up.RegistryRetries = opts.Registry.RetryCount()
	if w := rep.Check.Window; w != nil {
		w.Waiting = waitingNames(up.Results, len(hosts) > 1)
	}
	rep.Recovered = append(rep.Recovered, up.Recovered...)
	up.Recovered = nil
	up.PendingRecovery = nil
	rep.Upgrade = &up
	return rep, err
}

// RefreshRequest is the upgrade request that carries out a check: the
// containers whose tag moved, by name, and, when a newer framework tag was
// found, that tag for every framework and web container in scope. It is pure.
func RefreshRequest(scope []plan.Container, check plan.RefreshCheck) plan.Request {
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
			if c.Pinned() {
				// A pin is the operator's decision: --to-latest moves the
				// others (the version-skew rule then says whether it may).
				continue
			}
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
func CheckRefresh(ctx context.Context, states []plan.HostState, opts RefreshOptions) (plan.RefreshCheck, error) {
	all, err := plan.RefreshScope(states, opts.Only)
	if err != nil {
		return plan.RefreshCheck{}, err
	}
	scope, pinned := plan.SplitPinned(all)
	reg := opts.Registry
	if reg == nil {
		reg = &images.Registry{Retries: images.DefaultRetries}
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
		return plan.RefreshCheck{}, fault.Mark(fault.Unreachable, err)
	}
	check, err := plan.CompareDigests(scope, digests)
	check.Pinned = pinned
	if err != nil {
		return check, err
	}
	if len(all) == 0 && len(opts.Only) == 0 {
		check.NoTars = true
		for _, s := range states {
			check.Engines = append(check.Engines, s.Host)
		}
	}
	if opts.ToLatest {
		if tagErr != nil {
			return check, tagErr
		}
		check.NewerTag, check.NewerFrom, err = plan.NewestFramework(scope, tags, opts.AnyMajor)
	}
	return check, err
}

// frameworkTags lists the tags of every framework repository in scope that
// runs a version tag.
func frameworkTags(ctx context.Context, reg *images.Registry, scope []plan.Container) (map[string][]string, error) {
	repos := map[string]images.Ref{}
	for _, c := range scope {
		if c.Role != images.RoleFramework {
			continue
		}
		if r, err := images.Parse(c.Image); err == nil && plan.IsVersion(r.Tag()) {
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
