package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
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
	// ResultHookSkipped is a step a failed pre hook (pre-upgrade,
	// pre-stop) skipped: its container was not changed.
	ResultHookSkipped = "skipped (pre hook failed)"
	ResultLeft        = "left for inspection"
	ResultOK          = "ok"
	ResultRestarted   = "restarted"
	ResultUnhealthy   = "unhealthy"
	// ResultUnregistered: a node not registered again in t_node_info,
	// even after its restart.
	ResultUnregistered = "not registered"
	// ResultWaiting is a step not started because the maintenance window
	// closes before it could finish (its NotAfter passed), or because an
	// earlier one was held back so.
	ResultWaiting = "waits for the next window"
)

// StepResult is the outcome of one step.
type StepResult struct {
	Step   plan.Step
	Result string
	Err    error
	// NewID is the ID of the container that now holds the name.
	NewID string
	// Interrupted marks a step that did not run because the run was
	// cancelled (SIGINT, SIGTERM) before it started.
	Interrupted bool
	// Reg is a reregister step's last verdict.
	Reg plan.Verdict
	// Warnings are the failures of post hooks the step kept going past
	// (--post-hook-failure warn).
	Warnings []string
}

// ExecOptions tune the executor. StopTimeout, NoRollback, Cleanup and
// MaxFailures are the operator's policy: the executor never reads them while
// acting; Upgrade and Recover hand them to the planner (Policy), which
// writes them into the plan's phases and steps.
type ExecOptions struct {
	Gate health.Gate
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
	// RegisterTimeout bounds each wait of the registration check
	// (--register-timeout); zero turns the check off.
	RegisterTimeout time.Duration
	// RegisterRequired makes a deployment whose t_node_info cannot be read
	// fail the pre-flight (the operator gave --register-timeout).
	RegisterRequired bool
	// RegisterInterval is how often a check reads t_node_info
	// (DefaultRegisterInterval when zero).
	RegisterInterval time.Duration
	// Report receives events as they happen; nil drops them.
	Report func(Event)
	// Hooks are the operator's hooks of each recreate an upgrade plans.
	Hooks plan.HookPolicy
	// Log receives the hooks' output, a line at a time; nil drops it.
	Log logrus.FieldLogger
	// Snapshots takes the database snapshots before an upgrade's first
	// stop (package backup); nil takes none (--no-backup).
	Snapshots Snapshots
	// Announce is the --announce mode, for the planner (plan.AnnounceAuto
	// when empty).
	Announce string
}

// Executor walks a plan against the engines.
type Executor struct {
	Hosts map[string]*engine.Host
	Opts  ExecOptions
	// Self is written on every swap this executor journals; recovery leaves
	// alone the swaps of other live owners.
	Self owner.Owner
	// Force makes LockAll take over engine locks that may still be held.
	Force bool
	// Nodes reads the deployments' t_node_info for the registration
	// check; nil turns it off.
	Nodes NodeLocator
	// Trace records the stages, the steps and their events (TARSUP_TRACE);
	// nil records nothing. The hosts' engines record their calls in it
	// when wrapped by Trace.Wrap.
	Trace *engine.Trace

	locks   lock.Engines          // the engine locks this executor holds
	watches map[string]*nodeWatch // the t_node_info reads, by deployment
	lanes   *lanes                // each engine's recreate before its gate (Run)
}

// NewExecutor indexes hosts by name; the registration check and status
// read t_node_info through package tarsdb.
func NewExecutor(hosts []*engine.Host, opts ExecOptions) *Executor {
	m := make(map[string]*engine.Host, len(hosts))
	for _, h := range hosts {
		m[h.Name()] = h
	}
	return &Executor{Hosts: m, Opts: opts, Self: owner.ThisProcess(), Nodes: TarsDBNodes{}}
}

// Emit reports an event as the executor's own are (Opts.Report), for the
// workflows built on it (snapshots, restore).
func (x *Executor) Emit(e Event) { x.report(e) }

func (x *Executor) report(e Event) {
	x.Trace.Event(e.Host, e.Container, e.Action)
	if e.Action == eventGate {
		x.lanes.leave(e.Host, e.Container)
	}
	if x.Opts.Report != nil {
		e.Time = time.Now()
		x.Opts.Report(e)
	}
}

// Policy is the operator's policy from these options, for the planner.
func (o ExecOptions) Policy(parallel int) plan.Policy {
	return plan.Policy{Parallel: parallel, MaxFailures: o.MaxFailures, StopTimeout: o.StopTimeout, NoRollback: o.NoRollback, Cleanup: o.Cleanup,
		RegisterTimeout: o.RegisterTimeout, Hooks: o.Hooks, GateTime: o.Gate.Timeout + o.Gate.Monitor, Announce: o.Announce}
}

// Run walks the plan phase by phase, each as its policy says: a phase that
// stops on failure ends the run at its first failed step; in the others, no
// new step starts once more than MaxFailures failed. A phase marked Always
// (the cleanup) runs even then. Cancelling ctx never interrupts a recreate
// midway: the step under way finishes or rolls back, and no new step starts.
// A cancelled run is an error (fault.Interrupted) that names the steps that did
// not run and, first, any framework hosts it left on different versions.
// The results hold no cleanup step: those are reported as events.
func (x *Executor) Run(ctx context.Context, p plan.Plan) ([]StepResult, error) {
	var results []StepResult
	done := map[string]string{}
	var w windowRun
	ended := false
	if x.lanes == nil {
		x.lanes = newLanes()
	}
	for _, ph := range p.Phases {
		if held := w.holds(ph); (ended || held) && !ph.Always {
			for _, s := range ph.Steps {
				if ended {
					results = append(results, StepResult{Step: s, Result: ResultSkipped})
				} else {
					results = append(results, x.wait(s, false))
				}
			}
			continue
		}
		pctx, end := x.Trace.Stage(ctx, "phase "+ph.Name)
		phaseResults, failed, phaseClosed := x.runPhase(pctx, ph, done)
		end()
		for _, r := range phaseResults {
			if r.Step.Recreates() {
				done[r.Step.Container.ID] = r.Result
			}
		}
		results = append(results, phaseResults...)
		ended = ended || (failed > 0 && ph.StopOnFailure)
		w.ran(ph, phaseResults, phaseClosed)
	}
	results = slices.DeleteFunc(results, func(r StepResult) bool { return r.Step.Kind == plan.StepCleanupImage })
	if ctx.Err() != nil {
		for i := range results {
			results[i].Interrupted = results[i].Result == ResultSkipped
		}
	}
	err := resultsError(results)
	if ierr := interruptedError(p, results); ierr != nil {
		if err != nil {
			ierr = markLike(err, errors.Join(ierr, err))
		}
		return results, ierr
	}
	if split := VersionSplit(p, results); err != nil && split != "" {
		// Why first: a slave that failed after its master was upgraded
		// leaves the very state the version-skew rule refuses.
		err = markLike(err, fmt.Errorf("%s\n%w", split, err))
	}
	return results, err
}

// runPhase runs a phase's steps, Parallel at once, and returns their
// results, how many failed, and whether the maintenance window held a step
// back (then no later step starts either). done holds the results of the
// earlier phases' recreates by container ID (what a cleanup step and a
// reregister step wait for). Steps start in the plan's order; a recreate
// also waits for its engine's lane (see lanes).
func (x *Executor) runPhase(ctx context.Context, ph plan.Phase, done map[string]string) ([]StepResult, int, bool) {
	results := make([]StepResult, len(ph.Steps))
	sem := make(chan struct{}, max(ph.Parallel, 1))
	var mu sync.Mutex
	var wg sync.WaitGroup
	failed, closed := 0, false
	began := time.Now()
	for i, st := range ph.Steps {
		sem <- struct{}{}
		lane := st.Recreates()
		if lane {
			x.lanes.enter(ctx, st.Host, st.Container.Name)
		}
		mu.Lock()
		stop := failed > ph.MaxFailures || (ph.StopOnFailure && failed > 0) || ctx.Err() != nil
		mu.Unlock()
		if stop {
			x.lanes.leave(st.Host, st.Container.Name)
			<-sem
			results[i] = x.skip(ctx, st)
			continue
		}
		// Why checked here, as each step is about to start: a step that
		// starts later than its NotAfter could still run when the window
		// closes.
		late := !st.NotAfter.IsZero() && time.Now().After(st.NotAfter)
		if closed || late {
			x.lanes.leave(st.Host, st.Container.Name)
			<-sem
			results[i] = x.wait(st, late && !closed)
			closed = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sctx, tr := x.Trace.Step(ctx, ph.Name, st.Host, st.Container.Name, string(st.Kind), began)
			r := x.do(sctx, st, done)
			tr.Done(r.Result)
			if lane {
				x.lanes.leave(st.Host, st.Container.Name)
			}
			mu.Lock()
			results[i] = r
			if r.Err != nil {
				failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results, failed, closed
}

// windowRun follows what the maintenance window held back during a run.
// Once it held a step back, no later phase starts, but for a phase of
// checks (Phase.Checks) when a recreate since the previous checks
// upgraded: it checks what the window admitted.
type windowRun struct {
	closed  bool // a step was held back
	pending bool // a recreate upgraded since the last phase of checks
	checked bool // the last phase run or held was one of checks
}

// holds reports whether the window holds back the phase.
func (w *windowRun) holds(ph plan.Phase) bool {
	if !w.closed {
		return false
	}
	checks := ph.Checks
	defer func() { w.checked = checks }()
	if checks {
		return !w.pending
	}
	if w.checked {
		w.pending = false
	}
	return true
}

// ran records a phase that ran.
func (w *windowRun) ran(ph plan.Phase, results []StepResult, closed bool) {
	checks := ph.Checks
	if !checks && w.checked {
		w.pending = false
	}
	w.checked = checks
	for _, r := range results {
		w.pending = w.pending || (r.Step.Recreates() && r.Result == ResultUpgraded)
	}
	w.closed = w.closed || closed
}

// wait records a step the maintenance window holds back: late, its own
// NotAfter passed; else an earlier step was held back, and the steps keep
// their order.
func (x *Executor) wait(st plan.Step, late bool) StepResult {
	detail := "an earlier step waits for the next window, so this one does too"
	if late {
		detail = "the maintenance window closes too soon for it: it had to start by " + st.NotAfter.Format(time.RFC3339)
	}
	x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "wait", From: st.FromLabel(), To: st.ToLabel(), Result: ResultWaiting, Detail: detail})
	return StepResult{Step: st, Result: ResultWaiting}
}

// skip records a step that does not run.
func (x *Executor) skip(ctx context.Context, st plan.Step) StepResult {
	detail := ""
	if ctx.Err() != nil {
		detail = "interrupted: not run"
	}
	x.report(Event{Host: st.Host, Container: st.Container.Name, Action: "skip", From: st.FromLabel(), To: st.ToLabel(), Result: ResultSkipped, Detail: detail})
	return StepResult{Step: st, Result: ResultSkipped}
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
		return fault.Mark(fault.RolledBack, err)
	}
	return err
}
