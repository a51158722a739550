package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/images"
)

// Event is one thing that happened, reported as it happens.
type Event struct {
	Time      time.Time `json:"time"`
	Host      string    `json:"host"`
	Container string    `json:"container"`
	Action    string    `json:"action"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"`
	Result    string    `json:"result,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Step results.
const (
	ResultUpgraded   = "upgraded"
	ResultRolledBack = "rolled back"
	ResultFailed     = "failed"
	ResultSkipped    = "skipped"
	ResultLeft       = "left for inspection"
	ResultOK         = "ok"
	ResultRestarted  = "restarted"
	ResultUnhealthy  = "unhealthy"
)

// StepResult is the outcome of one step.
type StepResult struct {
	Step   Step
	Result string
	Err    error
	// NewID is the ID of the container that now holds the name.
	NewID string
	// Interrupted marks a step that did not run because the run was
	// cancelled (SIGINT, SIGTERM) before it started.
	Interrupted bool
}

// ErrInterrupted marks a run that was cancelled between steps: the step under
// way finished (or rolled back) and the steps after it did not run (exit 1).
var ErrInterrupted = errors.New("interrupted")

// ExecOptions tune the executor; the decisions are all in the plan.
type ExecOptions struct {
	Gate Gate
	// StopTimeout is how long a container gets to stop before it is killed,
	// unless its own configuration says otherwise.
	StopTimeout time.Duration
	// NoRollback leaves a failed new container in place for inspection.
	NoRollback bool
	// Cleanup removes the old image when no container uses it any more.
	Cleanup bool
	// MaxFailures is how many failed node steps are tolerated before no new
	// node step starts.
	MaxFailures int
	// LockWait is how long to wait for another tarsup's engine lock.
	LockWait time.Duration
	// Report receives events as they happen; nil drops them.
	Report func(Event)
}

// Executor walks a plan against the engines.
type Executor struct {
	Hosts map[string]*Host
	Opts  ExecOptions
	// Self is written on every swap this executor journals; recovery leaves
	// alone the swaps of other live owners.
	Self Owner
	// Force makes LockAll take over engine locks that may still be held.
	Force bool

	mu   sync.Mutex
	held map[*Host]string // engine locks this executor holds: the lock container's ID
}

// NewExecutor indexes hosts by name.
func NewExecutor(hosts []*Host, opts ExecOptions) *Executor {
	m := make(map[string]*Host, len(hosts))
	for _, h := range hosts {
		m[h.Name()] = h
	}
	return &Executor{Hosts: m, Opts: opts, Self: ThisProcess()}
}

func (x *Executor) report(e Event) {
	if x.Opts.Report != nil {
		e.Time = time.Now()
		x.Opts.Report(e)
	}
}

// Run walks the plan phase by phase. A failed framework step ends the run; in
// the node phase, once more than MaxFailures steps failed, no new step starts.
// Cancelling ctx never interrupts a recreate midway: the step under way
// finishes or rolls back, and no new step starts. A cancelled run is an error
// (ErrInterrupted) that names the steps that did not run and, first, any
// framework hosts it left on different versions.
func (x *Executor) Run(ctx context.Context, p Plan) ([]StepResult, error) {
	var results []StepResult
	failures := 0
	for _, ph := range p.Phases {
		phaseResults, phaseFailures := x.runPhase(ctx, ph, &failures)
		results = append(results, phaseResults...)
		if phaseFailures > 0 && ph.Name != "nodes" {
			results = append(results, skipRest(p, ph.Name)...)
			break
		}
	}
	if ctx.Err() != nil {
		for i := range results {
			results[i].Interrupted = results[i].Result == ResultSkipped
		}
	}
	err := resultsError(results)
	if ierr := interruptedError(p, results); ierr != nil {
		if err != nil {
			ierr = &kindError{kind: kindOf(err), err: errors.Join(ierr, err)}
		}
		return results, ierr
	}
	if split := VersionSplit(p, results); err != nil && split != "" {
		// Why first: a slave that failed after its master was upgraded
		// leaves the very state the version-skew rule refuses.
		err = &kindError{kind: kindOf(err), err: fmt.Errorf("%s\n%w", split, err)}
	}
	return results, err
}

// NotRun returns the steps a cancelled run did not start.
func NotRun(results []StepResult) []StepResult {
	var out []StepResult
	for _, r := range results {
		if r.Interrupted {
			out = append(out, r)
		}
	}
	return out
}

// interruptedError says what a cancelled run left undone; nil when nothing.
func interruptedError(p Plan, results []StepResult) error {
	notRun := NotRun(results)
	if len(notRun) == 0 {
		return nil
	}
	var names []string
	for _, r := range notRun {
		names = append(names, stepName(p, r.Step)+" ("+stepWhat(p, r.Step)+")")
	}
	msg := fmt.Sprintf("interrupted: the step under way finished; %d step(s) did not run: %s", len(notRun), strings.Join(names, ", "))
	if split := VersionSplit(p, results); split != "" {
		msg = split + "\n" + msg
	}
	return withKind(ErrInterrupted, errors.New(msg))
}

// stepName names a step's container, with its host when the plan spans several.
func stepName(p Plan, s Step) string {
	if p.MultiHost {
		return s.Container.Name + " on " + s.Host
	}
	return s.Container.Name
}

// stepWhat says what a step does, in a few words.
func stepWhat(p Plan, s Step) string {
	for _, ph := range p.Phases {
		if ph.Kind != PhaseRecheck {
			continue
		}
		for _, r := range ph.Steps {
			if r.Container.ID == s.Container.ID {
				return "re-check"
			}
		}
	}
	return "recreate " + s.FromLabel() + " -> " + s.ToLabel()
}

// VersionSplit says, after a run that did not finish, which framework hosts
// of one deployment now run different versions (the state the version-skew
// rule refuses) and how to finish; "" when there are none.
func VersionSplit(p Plan, results []StepResult) string {
	type host struct{ name, version string }
	byDep := map[string][]host{}
	var deps []string
	upgradedTo := map[string]map[string]bool{} // deployment -> the commands that finish it
	for _, r := range results {
		c := r.Step.Container
		if c.Role != images.RoleFramework || stepWhat(p, r.Step) == "re-check" {
			continue
		}
		dep := deploymentOf(c)
		if _, ok := byDep[dep]; !ok {
			deps = append(deps, dep)
			upgradedTo[dep] = map[string]bool{}
		}
		v := c.Version
		if r.Result == ResultUpgraded {
			v = afterVersion(c, &r.Step)
			how := "the same tarsup upgrade"
			if strings.HasPrefix(r.Step.Cause, "--to ") {
				how = "tarsup upgrade " + r.Step.Cause
			}
			upgradedTo[dep][how] = true
		}
		byDep[dep] = append(byDep[dep], host{stepName(p, r.Step), v})
	}
	var out []string
	for _, dep := range deps {
		hosts := byDep[dep]
		versions := map[string]bool{}
		var parts []string
		for _, h := range hosts {
			versions[h.version] = true
			parts = append(parts, h.name+" "+h.version)
		}
		if len(versions) < 2 || len(upgradedTo[dep]) == 0 {
			continue
		}
		finish := "run the same tarsup upgrade again to finish"
		if len(upgradedTo[dep]) == 1 {
			for how := range upgradedTo[dep] {
				finish = "run " + how + " again to finish"
			}
		}
		out = append(out, "framework hosts are on different versions now: "+strings.Join(parts, ", ")+": "+finish)
	}
	return strings.Join(out, "\n")
}

func skipRest(p Plan, after string) []StepResult {
	var out []StepResult
	seen := false
	for _, ph := range p.Phases {
		if seen {
			for _, s := range ph.Steps {
				out = append(out, StepResult{Step: s, Result: ResultSkipped})
			}
		}
		seen = seen || ph.Name == after
	}
	return out
}

func (x *Executor) runPhase(ctx context.Context, ph Phase, failures *int) ([]StepResult, int) {
	results := make([]StepResult, len(ph.Steps))
	par := max(ph.Parallel, 1)
	sem := make(chan struct{}, par)
	var mu sync.Mutex
	var wg sync.WaitGroup
	phaseFailures := 0
	for i, st := range ph.Steps {
		sem <- struct{}{}
		mu.Lock()
		stop := *failures > x.Opts.MaxFailures || (ph.Name != "nodes" && phaseFailures > 0) || ctx.Err() != nil
		mu.Unlock()
		if stop {
			<-sem
			results[i] = StepResult{Step: st, Result: ResultSkipped}
			detail := ""
			if ctx.Err() != nil {
				detail = "interrupted: not run"
			}
			x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "skip", From: st.FromLabel(), To: st.ToLabel(), Result: ResultSkipped, Detail: detail})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var r StepResult
			if ph.Kind == PhaseRecheck {
				r = x.recheck(ctx, st)
			} else {
				r = x.step(ctx, st)
			}
			mu.Lock()
			results[i] = r
			if r.Err != nil {
				*failures++
				phaseFailures++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results, phaseFailures
}

func resultsError(results []StepResult) error {
	var errs []error
	rolledBack := false
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
			rolledBack = rolledBack || r.Result == ResultRolledBack
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	if rolledBack {
		return withKind(ErrRolledBack, err)
	}
	return err
}

func (x *Executor) step(ctx context.Context, st Step) StepResult {
	h, ok := x.Hosts[st.Host]
	if !ok {
		return StepResult{Step: st, Result: ResultFailed, Err: fmt.Errorf("no connection to %s", st.Host)}
	}
	x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "recreate", From: st.FromLabel(), To: st.ToLabel(), Result: "started", Detail: st.Cause})
	if st.Before.State != "" && !st.Before.Healthy() {
		x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "health before", Result: st.Before.State, Detail: st.Before.Detail})
	}
	newID, res, err := x.replace(ctx, h, st.Container, st.Spec, st.Previous, st.Restore)
	r := StepResult{Step: st, Result: res, Err: err, NewID: newID}
	detail := ""
	if err != nil {
		detail = err.Error()
	}
	x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "recreate", From: st.FromLabel(), To: st.ToLabel(), Result: res, Detail: detail})
	if err == nil && x.Opts.Cleanup {
		x.removeImageIfUnused(ctx, h, st.Container.ImageID, st.Container.Name)
	}
	return r
}

func newTxnID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Replace swaps old for a container made from spec, keeping old until the new
// one passed the health gate:
//
//	create NAME.tarsup-new (journal labels) -> stop old -> rename old to
//	NAME.tarsup-old -> rename new to NAME -> start -> gate -> remove old
//
// On a failure after the old container stopped it rolls back (unless
// NoRollback). Why this order: creating first binds no port and no IP, so
// the downtime is stop + two renames + start; and the labels written at
// create time let `recover` finish or undo the swap after a kill at any point.
// Cancelling ctx does not interrupt it once the old container is touched.
// A rollback gates the old container for health (RestoreHealthy).
func (x *Executor) Replace(ctx context.Context, h *Host, old Container, spec Spec, prev Spec) (string, string, error) {
	return x.replace(ctx, h, old, spec, prev, RestoreHealthy)
}

// replace is Replace with the plan's demand on a rolled-back old container
// (Step.Restore), journalled so that `recover` asks the same.
func (x *Executor) replace(ctx context.Context, h *Host, old Container, spec Spec, prev Spec, restore string) (string, string, error) {
	name := old.Name
	if restore == "" {
		restore = RestoreHealthy
	}
	fail := func(err error) (string, string, error) {
		return "", ResultFailed, fmt.Errorf("recreate %s on %s: %w", name, h.Name(), err)
	}
	prevLabel, err := EncodeSpec(prev)
	if err != nil {
		return fail(err)
	}
	cfg := *spec.Config
	cfg.Image = spec.Image
	cfg.Labels = maps.Clone(cfg.Labels)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[LabelTxn] = newTxnID()
	cfg.Labels[LabelTxnName] = name
	cfg.Labels[LabelTxnOld] = old.ID
	cfg.Labels[LabelTxnOldRunning] = strconv.FormatBool(old.Running)
	cfg.Labels[LabelPrevious] = prevLabel
	cfg.Labels[LabelTxnOwner] = x.Self.String()
	cfg.Labels[LabelTxnStarted] = time.Now().UTC().Format(time.RFC3339)
	cfg.Labels[LabelTxnRestore] = restore

	nc := &network.NetworkingConfig{}
	if spec.Primary != "" && spec.Networks[spec.Primary] != nil {
		nc.EndpointsConfig = map[string]*network.EndpointSettings{spec.Primary: spec.Networks[spec.Primary]}
	}
	created, err := h.Engine.ContainerCreate(ctx, &cfg, spec.HostConfig, nc, nil, name+suffixNew)
	if err != nil {
		return fail(fmt.Errorf("create %s: %w", name+suffixNew, err))
	}
	newID := created.ID
	for n, ep := range spec.Networks {
		if n == spec.Primary {
			continue
		}
		if err := h.Engine.NetworkConnect(ctx, n, newID, ep); err != nil {
			x.discard(ctx, h, newID)
			return fail(fmt.Errorf("connect %s to network %s: %w", name+suffixNew, n, err))
		}
	}
	// From here on the old container is touched: finish or roll back even
	// if the caller gives up (SIGTERM).
	ctx = context.WithoutCancel(ctx)
	x.report(Event{Host: h.Name(), Container: name, Action: "stop old", Detail: old.ShortID()})
	if old.Running {
		if err := h.Engine.ContainerStop(ctx, old.ID, x.stopOptions(old)); err != nil {
			x.discard(ctx, h, newID)
			x.restart(ctx, h, old)
			return fail(fmt.Errorf("stop old container: %w", err))
		}
	}
	if err := h.Engine.ContainerRename(ctx, old.ID, name+suffixOld); err != nil {
		return x.rollback(ctx, h, old, newID, false, restore, fmt.Errorf("rename old container aside: %w", err))
	}
	if err := h.Engine.ContainerRename(ctx, newID, name); err != nil {
		return x.rollback(ctx, h, old, newID, true, restore, fmt.Errorf("give the new container the name: %w", err))
	}
	if !old.Running {
		// Why: a stopped container stays stopped; it runs the new image when
		// the operator starts it. There is nothing to gate.
		if err := h.Engine.ContainerRemove(ctx, old.ID, container.RemoveOptions{}); err != nil && !isNotFound(err) {
			x.report(Event{Host: h.Name(), Container: name, Action: "remove old", Result: "failed", Detail: err.Error()})
		}
		return newID, ResultUpgraded, nil
	}
	if err := h.Engine.ContainerStart(ctx, newID, container.StartOptions{}); err != nil {
		return x.rollback(ctx, h, old, newID, true, restore, fmt.Errorf("start new container: %w", err))
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "health gate", Detail: short(newID)})
	if err := x.Opts.Gate.Wait(ctx, h, newID, images.Classify(spec.Image, cfg.Labels)); err != nil {
		return x.rollback(ctx, h, old, newID, true, restore, fmt.Errorf("health gate: %w", err))
	}
	if err := h.Engine.ContainerRemove(ctx, old.ID, container.RemoveOptions{}); err != nil && !isNotFound(err) {
		// The upgrade worked; only the old container is left over. `recover`
		// removes it later (its successor holds the name and is healthy).
		x.report(Event{Host: h.Name(), Container: name, Action: "remove old", Result: "failed", Detail: err.Error()})
	}
	return newID, ResultUpgraded, nil
}

func (x *Executor) stopOptions(c Container) container.StopOptions {
	if c.Inspect.Config != nil && c.Inspect.Config.StopTimeout != nil {
		return container.StopOptions{Timeout: c.Inspect.Config.StopTimeout}
	}
	secs := int(x.Opts.StopTimeout / time.Second)
	if x.Opts.StopTimeout <= 0 {
		secs = 30
	}
	return container.StopOptions{Timeout: &secs}
}

// discard removes a new container that never took over.
func (x *Executor) discard(ctx context.Context, h *Host, id string) {
	_ = h.Engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
}

// restart starts old again if it was running.
func (x *Executor) restart(ctx context.Context, h *Host, old Container) {
	if old.Running {
		_ = h.Engine.ContainerStart(ctx, old.ID, container.StartOptions{})
	}
}

// rollback puts old back under its name. renamed says whether old was
// already renamed aside; restore is what the old container's gate asks of
// it (RestoreRunning: only that it runs, as before the upgrade).
//
// Why the failed container is renamed before it is stopped: the rename is
// the journal's record that the gate failed (the engine keeps it; labels
// cannot change). A kill after it leaves NAME free, and `recover` then
// undoes the swap at once instead of gating the failed container again; a
// stop first would leave it holding NAME for the whole stop timeout.
func (x *Executor) rollback(ctx context.Context, h *Host, old Container, newID string, renamed bool, restore string, cause error) (string, string, error) {
	name := old.Name
	base := fmt.Errorf("recreate %s on %s: %w", name, h.Name(), cause)
	if x.Opts.NoRollback {
		x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "skipped (--no-rollback)"})
		return newID, ResultLeft, fmt.Errorf("%w\nthe failed new container %s is left for inspection and the old one is kept as %s (stopped); `tarsup recover` rolls back when you are done", base, short(newID), name+suffixOld)
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "started", Detail: cause.Error()})
	var errs []error
	// Why rename first: the name moving to NAME.tarsup-failed is the
	// engine's record that the gate failed (recover then undoes at once).
	// The engine refuses to rename a container while it is restarting
	// ("sandbox not found" on 20.10): then stop it and rename it stopped.
	err := h.Engine.ContainerRename(ctx, newID, name+suffixFailed)
	_ = h.Engine.ContainerStop(ctx, newID, x.stopOptions(old))
	if err != nil && !isNotFound(err) {
		err = h.Engine.ContainerRename(ctx, newID, name+suffixFailed)
	}
	if err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("rename the new container %s to %s: %w", short(newID), name+suffixFailed, err))
	}
	if renamed {
		if err := h.Engine.ContainerRename(ctx, old.ID, name); err != nil {
			errs = append(errs, fmt.Errorf("rename the old container %s back to %s: %w", old.ShortID(), name, err))
		}
	}
	if len(errs) == 0 && old.Running {
		x.repin(ctx, h, old)
		if err := h.Engine.ContainerStart(ctx, old.ID, container.StartOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("start the old container %s: %w", old.ShortID(), err))
		} else if err := x.Opts.Gate.Restore(ctx, h, old.ID, old.Role, restore); err != nil {
			what := "not healthy"
			if restore == RestoreRunning {
				what = "did not stay up"
			}
			errs = append(errs, fmt.Errorf("the old container %s is back but %s: %w", old.ShortID(), what, err))
		}
	}
	if len(errs) > 0 {
		return "", ResultFailed, fmt.Errorf("%w\nROLLBACK FAILED: %w\nstate: old container %s (meant to be %s), new container %s (%s).\nto fix: run `tarsup recover --host %s`; by hand: docker rm -f %s; docker rename %s %s; docker start %s",
			base, errors.Join(errs...), old.ShortID(), name, short(newID), name+suffixFailed, h.Spec.URL,
			short(newID), old.ShortID(), name, name)
	}
	if err := h.Engine.ContainerRemove(ctx, newID, container.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		x.report(Event{Host: h.Name(), Container: name, Action: "remove failed container", Result: "failed", Detail: err.Error()})
	}
	if restore == RestoreRunning && old.Running {
		x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "done", Detail: "the old container runs as before; it was not healthy before the upgrade either"})
		return old.ID, ResultRolledBack, fmt.Errorf("%w\nrolled back: the old container %s runs again as before the upgrade; it was not healthy before the upgrade either (see the plan), so only that it runs was checked", base, old.ShortID())
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "rollback", Result: "done"})
	return old.ID, ResultRolledBack, base
}

// removeImageIfUnused removes an old image no container uses any more: each
// tag that still points at it (the last removal deletes it), or the image
// itself when a floating tag has moved on and left it untagged.
func (x *Executor) removeImageIfUnused(ctx context.Context, h *Host, imageID, name string) {
	list, err := h.Engine.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return
	}
	for _, c := range list {
		if c.ImageID == imageID {
			return
		}
	}
	img, err := h.Engine.ImageInspect(ctx, imageID)
	if err != nil {
		return
	}
	refs := img.RepoTags
	if len(refs) == 0 {
		refs = []string{imageID}
	}
	res := "done"
	for _, ref := range refs {
		if _, err := h.Engine.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil && !isNotFound(err) {
			res = "failed: " + err.Error()
		}
	}
	x.report(Event{Host: h.Name(), Container: name, Action: "remove old image", Result: res, Detail: short(imageID)})
}

// recheckWait is how long a node may take to answer again after a framework
// upgrade before it is restarted.
const recheckWait = 30 * time.Second

// recheck probes a node that answered before the framework upgrade; one that
// no longer does is restarted once, gated, and reported.
func (x *Executor) recheck(ctx context.Context, st Step) StepResult {
	h, ok := x.Hosts[st.Host]
	if !ok {
		return StepResult{Step: st, Result: ResultFailed, Err: fmt.Errorf("no connection to %s", st.Host)}
	}
	c := st.Container
	deadline := time.Now().Add(min(recheckWait, x.Opts.Gate.Timeout))
	var err error
	for {
		if err = x.Opts.Gate.Prober.Probe(ctx, h, c); err == nil {
			x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: ResultOK})
			return StepResult{Step: st, Result: ResultOK, NewID: c.ID}
		}
		if time.Now().After(deadline) || sleep(ctx, time.Second) != nil {
			break
		}
	}
	x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: "restarting", Detail: err.Error()})
	ctx = context.WithoutCancel(ctx)
	if serr := h.Engine.ContainerStop(ctx, c.ID, x.stopOptions(c)); serr != nil {
		err = serr
	} else if serr := h.Engine.ContainerStart(ctx, c.ID, container.StartOptions{}); serr != nil {
		err = serr
	} else if err = x.Opts.Gate.Wait(ctx, h, c.ID, c.Role); err == nil {
		x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: ResultRestarted})
		return StepResult{Step: st, Result: ResultRestarted, NewID: c.ID}
	}
	err = fmt.Errorf("node %s on %s does not answer after the framework upgrade, even after a restart: %w", c.Name, st.Host, err)
	x.report(Event{Host: st.Host, Container: c.Name, Action: "re-check", Result: ResultUnhealthy, Detail: err.Error()})
	return StepResult{Step: st, Result: ResultUnhealthy, Err: err}
}
