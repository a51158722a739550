package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// UpgradeOptions are the inputs of an upgrade beyond the engines.
type UpgradeOptions struct {
	Request  plan.Request
	DryRun   bool
	Parallel int
	// Keychain supplies registry credentials (the Docker config and its
	// credential helpers when nil).
	Keychain authn.Keychain
	// Registry answers the dry run's digest look-ups (no pull).
	Registry *images.Registry
	// Progress receives pull progress; TTY selects the terminal display.
	Progress io.Writer
	TTY      bool
	// Labels, when set, gives each candidate its label overrides once its
	// target is resolved (pulled, or only looked up in a dry run).
	Labels LabelFunc
	// Observed, when set, sees the engines' states once the locks are held
	// and interrupted upgrades are recovered, and returns the request to
	// select with instead of Request; nil ends the upgrade there as one that
	// found no Tars container of Scope. Why a hook: compose matches its
	// services to containers by name, which holds only after recovery, and
	// writes its files before any pull; one lock, recovery and observation
	// serve both.
	Observed func(ctx context.Context, states []plan.HostState) (*plan.Request, error)
	// Scope names what Observed limits the upgrade to ("compose project
	// tars"), for NothingToDo.
	Scope string
	// States, when set, are the engines' states the caller observed
	// already (a refresh's): the upgrade plans from them rather than
	// observing again, unless it recovered an engine or an engine's
	// containers changed since (see observeOnce).
	States []plan.HostState
	// WindowCloses, when set, is when the maintenance window the upgrade
	// runs in closes: the plan starts no step its gate could carry past it
	// (plan.Policy.Closes).
	WindowCloses time.Time
}

// LabelFunc returns the labels a candidate's new container gets over the
// ones it copies from the old. target.Image is the pulled image's inspection
// (empty in a dry run). Why a hook: what the labels must say (compose's
// config-hash) is known only after the pull, and only to the caller.
type LabelFunc func(ctx context.Context, c plan.Candidate, target plan.Resolved) (map[string]string, error)

// UpgradeReport is what an upgrade did, or would do.
type UpgradeReport struct {
	Recovered []plan.Recovery
	// PendingRecovery lists the engines a dry run found with an interrupted
	// upgrade (a real run recovers them first).
	PendingRecovery []string
	Plan            plan.Plan
	Results         []StepResult
	// Engines names the engines the upgrade observed.
	Engines []string
	// NoTars is true when those engines run no Tars container (framework,
	// node or web) at all: the plan is empty because there was nothing to
	// look at, not because everything is current.
	NoTars bool
	// Scope names what the upgrade was limited to when that is not every
	// container of the engines ("compose project tars"), for NothingToDo.
	Scope string
	// Registration says which deployments' registration check is off, and
	// which nodes are not checked, and why.
	Registration []plan.RegistrationNote
	// RegistryRetries counts the registry requests of the run's look-ups
	// that were sent again (429, 5xx); the caller that owns the registry
	// fills it in.
	RegistryRetries int
	// SnapshotNotes say, after a framework step rolled back, whether the
	// schema changed since its deployment's snapshot and how to restore it.
	SnapshotNotes []plan.SnapshotNote
}

// NothingToDo is what an upgrade with an empty plan says: that no Tars
// container was found on which engines, and how tarsup recognises one, or
// else that every Tars container runs its target image.
func (r UpgradeReport) NothingToDo() string {
	if r.NoTars {
		return plan.NoTarsFound(r.Engines, r.Scope) + "\n"
	}
	return r.Plan.String()
}

// noteFound records the engines observed and whether they hold any Tars
// container an upgrade could select. It is pure.
func (r *UpgradeReport) noteFound(states []plan.HostState, cands []plan.Candidate, req plan.Request) {
	r.Engines = nil
	for _, s := range states {
		r.Engines = append(r.Engines, s.Host)
	}
	// Why only without --only: Select rejects an --only name it cannot
	// find, so an empty selection there is another matter.
	r.NoTars = len(cands) == 0 && len(req.Only) == 0
}

// Upgrade observes every engine, recovers interrupted upgrades, selects and
// pulls the target images on every engine that needs them, plans, and (unless
// a dry run) executes. Nothing is changed before every pull succeeded, the
// plan passed every safety rule and the pre-flight probe showed that every
// gate the plan needs can probe its container.
func Upgrade(ctx context.Context, hosts []*engine.Host, x *Executor, opts UpgradeOptions) (UpgradeReport, error) {
	var rep UpgradeReport
	if !opts.DryRun {
		lctx, end := x.Trace.Stage(ctx, "lock")
		unlock, err := x.LockAll(lctx, hosts, x.Opts.LockWait)
		end()
		if err != nil {
			return rep, err
		}
		defer func() {
			_, end := x.Trace.Stage(ctx, "unlock")
			unlock()
			end()
		}()
	}
	var err error
	rctx, end := x.Trace.Stage(ctx, "recover")
	rep.Recovered, rep.PendingRecovery, err = x.RecoverPending(rctx, hosts, opts.DryRun)
	if end(); err != nil {
		return rep, err
	}
	octx, end := x.Trace.Stage(ctx, "observe")
	states, err := observeOnce(octx, hosts, opts.States, len(rep.Recovered) > 0)
	if end(); err != nil {
		return rep, err
	}
	req := opts.Request
	if opts.Observed != nil {
		r, err := opts.Observed(ctx, states)
		if err != nil || r == nil {
			rep.noteFound(states, nil, plan.Request{})
			rep.Scope = opts.Scope
			return rep, err
		}
		req = *r
	}
	cands, err := plan.Select(states, req)
	if err != nil {
		return rep, err
	}
	rep.noteFound(states, cands, req)
	resolved, err := resolveAll(ctx, x, cands, opts)
	if err != nil {
		return rep, err
	}
	if err := labelAll(ctx, opts.Labels, cands, resolved); err != nil {
		return rep, err
	}
	if err := x.planUpgrade(ctx, &rep, cands, resolved, states, opts); err != nil || opts.DryRun || rep.Plan.Empty() {
		return rep, err
	}
	rctx, end = x.Trace.Stage(ctx, "run")
	defer end()
	return rep, x.runWithSnapshots(rctx, &rep)
}

// resolveAll pulls every candidate's target (a dry run only looks it up).
func resolveAll(ctx context.Context, x *Executor, cands []plan.Candidate, opts UpgradeOptions) (map[string]plan.Resolved, error) {
	ctx, end := x.Trace.Stage(ctx, "pull")
	defer end()
	var resolved map[string]plan.Resolved
	var err error
	if opts.DryRun {
		resolved, err = lookUp(ctx, opts.Registry, cands)
	} else {
		resolved, err = pullAll(ctx, x.Hosts, cands, opts)
	}
	if err != nil {
		return nil, interruptedBefore(ctx, "pull", err)
	}
	return resolved, nil
}

// planUpgrade plans the upgrade into rep.Plan: a draft first, then with
// what the pre-flight probe and the registration read found.
func (x *Executor) planUpgrade(ctx context.Context, rep *UpgradeReport, cands []plan.Candidate, resolved map[string]plan.Resolved, states []plan.HostState, opts UpgradeOptions) error {
	// Why a draft first: the pre-flight probes exactly the containers the
	// plan replaces and the nodes a re-check could use, and its findings
	// are part of the plan (a dry run shows them too).
	pol := x.Opts.Policy(opts.Parallel)
	pol.Closes = opts.WindowCloses
	draft, err := plan.BuildPlan(cands, resolved, states, pol, plan.AssumeHealthy(states))
	if err != nil || draft.Empty() {
		rep.Plan = draft
		return err
	}
	var before plan.Preflight
	if x.Opts.Gate.Prober != nil {
		pctx, end := x.Trace.Stage(ctx, "preflight")
		before, err = x.Opts.Gate.Prober.Preflight(pctx, x.Hosts, draft)
		if end(); err != nil {
			return interruptedBefore(ctx, "pre-flight probe", err)
		}
	}
	var regs plan.Registrations
	if x.Opts.RegisterTimeout > 0 {
		rctx, end := x.Trace.Stage(ctx, "registration")
		regs, err = x.ReadRegistrations(rctx, draft, states)
		if end(); err != nil {
			return interruptedBefore(ctx, "registration read", err)
		}
	}
	if rep.Plan, err = plan.BuildPlan(cands, resolved, states, pol, before); err != nil {
		return err
	}
	rep.Plan, rep.Registration = plan.WithRegistration(rep.Plan, regs, states, pol)
	sctx, end := x.Trace.Stage(ctx, "snapshots")
	defer end()
	return x.planSnapshots(sctx, rep, states)
}

// labelAll gives each candidate the label overrides the hook returns
// (none without a hook).
func labelAll(ctx context.Context, labels LabelFunc, cands []plan.Candidate, resolved map[string]plan.Resolved) error {
	if labels == nil {
		return nil
	}
	for i, c := range cands {
		var err error
		if cands[i].Labels, err = labels(ctx, c, resolved[plan.ResolveKey(c.Host, c.Target)]); err != nil {
			return fmt.Errorf("labels of the new %s on %s: %w\nnothing was changed", c.Container.Name, c.Host, err)
		}
	}
	return nil
}

// interruptedBefore says what a signal did to a run that had changed
// nothing yet: an error that a cancelled ctx caused in the pull or the
// pre-flight probe is an interruption (exit 1), not a bad input or a probe
// that "cannot work" (exit 2, with a fix that fixes nothing). Why %v: the
// cause's kind must not decide the exit code.
func interruptedBefore(ctx context.Context, during string, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fault.Mark(fault.Interrupted, fmt.Errorf("interrupted (SIGINT/SIGTERM) during the %s, before the upgrade changed any container: nothing was changed; run the same command again to upgrade (%v)", during, err))
}

// RecoverPending recovers every engine that holds an interrupted upgrade;
// with dryRun it only names them. The caller holds the engine locks (a dry
// run needs none: it changes nothing).
func (x *Executor) RecoverPending(ctx context.Context, hosts []*engine.Host, dryRun bool) (recovered []plan.Recovery, pending []string, err error) {
	for _, h := range hosts {
		needs, err := NeedsRecovery(ctx, h)
		if err != nil {
			return recovered, pending, err
		}
		if !needs {
			continue
		}
		if dryRun {
			pending = append(pending, h.Name())
			continue
		}
		rec, err := x.Recover(ctx, h)
		recovered = append(recovered, rec...)
		if err != nil {
			return recovered, pending, fmt.Errorf("an earlier upgrade on %s was interrupted and could not be recovered: %w", h.Name(), err)
		}
	}
	return recovered, pending, nil
}

// lookUp asks the registry for each target's digest: a dry run pulls nothing.
func lookUp(ctx context.Context, reg *images.Registry, cands []plan.Candidate) (map[string]plan.Resolved, error) {
	if reg == nil {
		reg = &images.Registry{Retries: images.DefaultRetries}
	}
	var refs []images.Ref
	for _, c := range cands {
		r, err := images.Parse(c.Target)
		if err != nil {
			return nil, fault.Mark(fault.BadInput, err)
		}
		refs = append(refs, r)
	}
	res, err := reg.Digests(ctx, refs)
	if err != nil {
		return nil, err
	}
	out := map[string]plan.Resolved{}
	for _, c := range cands {
		r, _ := images.Parse(c.Target)
		d := res[r.Key()]
		if d.Err != nil {
			return nil, fmt.Errorf("look up %s: %w", c.Target, d.Err)
		}
		out[plan.ResolveKey(c.Host, c.Target)] = plan.Resolved{Digest: d.Digest}
	}
	return out, nil
}

// pullAll pulls every distinct target once per engine, engines in parallel,
// and inspects what it pulled.
func pullAll(ctx context.Context, hosts map[string]*engine.Host, cands []plan.Candidate, opts UpgradeOptions) (map[string]plan.Resolved, error) {
	perHost := map[string][]string{}
	seen := map[string]bool{}
	for _, c := range cands {
		k := plan.ResolveKey(c.Host, c.Target)
		if !seen[k] {
			seen[k] = true
			perHost[c.Host] = append(perHost[c.Host], c.Target)
		}
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	out := map[string]plan.Resolved{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	names := make([]string, 0, len(perHost))
	for n := range perHost {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		h := hosts[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ref := range perHost[name] {
				res, err := pullOne(ctx, h, kc, ref, opts)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					out[plan.ResolveKey(name, ref)] = res
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		err := errors.Join(errs...)
		for _, e := range errs {
			if k := fault.Of(e); k != nil {
				return nil, fault.Mark(k, fmt.Errorf("%w\nnothing was changed", err))
			}
		}
		return nil, fmt.Errorf("%w\nnothing was changed", err)
	}
	return out, nil
}

func pullOne(ctx context.Context, h *engine.Host, kc authn.Keychain, ref string, opts UpgradeOptions) (plan.Resolved, error) {
	r, err := images.Parse(ref)
	if err != nil {
		return plan.Resolved{}, fault.Mark(fault.BadInput, err)
	}
	if kc == nil {
		// Why: Add (node add, framework add) passes no keychain of its own.
		kc = authn.DefaultKeychain
	}
	auth, err := images.PullAuth(ctx, kc, r)
	if err != nil {
		return plan.Resolved{}, fmt.Errorf("credentials for %s: %w", ref, err)
	}
	digest, err := images.Pull(ctx, h.Engine, r, auth, opts.Progress, opts.TTY)
	if err != nil {
		return plan.Resolved{}, fmt.Errorf("pull %s on %s: %w", ref, h.Name(), err)
	}
	img, err := h.Engine.ImageInspect(ctx, ref)
	if err != nil {
		return plan.Resolved{}, fmt.Errorf("inspect %s on %s after the pull: %w", ref, h.Name(), err)
	}
	return plan.Resolved{Image: img, Digest: digest}, nil
}
