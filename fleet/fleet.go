// Package fleet is the workflow of tarsup's commands on a set of engines
// (status, upgrade, rollback, recover, node add, framework add): connect,
// lock where a command changes containers, make the one library call the
// command is about, release. It holds no flag and prints nothing: cmd/tarsup
// fills its Config and renders what it returns.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Config says how to reach the engines and how to recreate on them.
type Config struct {
	Specs []engine.HostSpec
	// Probe is the probe mode (health.ProbeAuto, direct, sidecar).
	Probe string
	// Exec are the executor's options; Open sets Exec.Gate.Prober.
	Exec orchestrator.ExecOptions
	// Force takes over an engine lock another tarsup may still hold.
	Force bool
	Log   logrus.FieldLogger
	// Trace, when set, records the engine calls, the stages and the
	// steps (TARSUP_TRACE); Open wraps every engine in it.
	Trace *engine.Trace
}

// Logger is cfg.Log, or a logger that writes nowhere when none is set.
func (cfg Config) Logger() logrus.FieldLogger {
	if cfg.Log != nil {
		return cfg.Log
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// Session is a command's hold on its engines: the connections, the prober,
// the executor and, when taken, every engine's lock.
type Session struct {
	Hosts  []*engine.Host
	Prober *health.Prober
	X      *orchestrator.Executor
	unlock func()
}

// Open connects to every engine of cfg and builds the executor; with lock
// it also takes every engine's lock (commands that go through
// orchestrator.Upgrade leave that to it). Close releases it all.
func Open(ctx context.Context, cfg Config, lock bool) (*Session, error) {
	prober, err := health.NewProber(cfg.Probe, "")
	if err != nil {
		return nil, err
	}
	cctx, end := cfg.Trace.Stage(ctx, "connect")
	hosts, err := engine.ConnectAll(cctx, cfg.Specs)
	end()
	if err != nil {
		return nil, err
	}
	for _, h := range hosts {
		cfg.Logger().WithFields(logrus.Fields{"host": h.Name(), "api": h.Engine.ClientVersion()}).Debug("connected")
		h.Engine = cfg.Trace.Wrap(h.Name(), h.Engine)
	}
	cfg.Exec.Gate.Prober = prober
	x := orchestrator.NewExecutor(hosts, cfg.Exec)
	x.Force = cfg.Force
	x.Trace = cfg.Trace
	s := &Session{Hosts: hosts, Prober: prober, X: x, unlock: func() {}}
	if lock {
		if s.unlock, err = x.LockAll(ctx, hosts, cfg.Exec.LockWait); err != nil {
			engine.CloseAll(hosts)
			return nil, err
		}
	}
	return s, nil
}

// Close releases the engine locks and the connections.
func (s *Session) Close() {
	s.unlock()
	engine.CloseAll(s.Hosts)
}

// StatusLookupTimeout bounds all of status's registry look-ups: the rows of
// a registry that has not answered by then are unknown.
const StatusLookupTimeout = 30 * time.Second

// StatusOptions are `tarsup status`'s choices beyond the engines.
type StatusOptions struct {
	// Only limits the rows, their probes and look-ups to these containers.
	Only []string
	// Offline skips the registry look-ups: the update column stays empty.
	Offline bool
	// Registry answers the look-ups (the engines' mirrors are added to
	// its own); nil: one with the default retries.
	Registry *images.Registry
	// AnyMajor lets a framework's newer tag be of another major version.
	AnyMajor bool
}

// Status observes every engine and returns `tarsup status`'s rows. Unless
// Offline, it looks up (manifest HEADs, framework tag lists, in parallel
// with the probes) whether each container's registry has something newer;
// a registry that does not answer leaves its rows unknown, and is no error.
func Status(ctx context.Context, cfg Config, opts StatusOptions) ([]orchestrator.StatusRow, error) {
	s, err := Open(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	states, err := orchestrator.ObserveAll(ctx, s.Hosts)
	if err != nil {
		return nil, err
	}
	cs, missing := plan.StatusScope(states, opts.Only)
	if len(missing) > 0 {
		return nil, fault.Mark(fault.BadInput, fmt.Errorf("--only %s: no Tars container of that name on any engine (tarsup status without --only lists them)", strings.Join(missing, ", ")))
	}
	var ups []orchestrator.ContainerUpdate
	var wg sync.WaitGroup
	reg := opts.Registry
	if !opts.Offline {
		if reg == nil {
			reg = &images.Registry{Retries: images.DefaultRetries}
		}
		orchestrator.WithEngineMirrors(ctx, reg, s.Hosts, cfg.Logger())
		wg.Go(func() {
			// Why a bound: status is asked by a person, or a script that
			// wants the rows; a registry that does not answer (a black-holed
			// route: 30 s per connection) must not hold them for minutes.
			lctx, cancel := context.WithTimeout(ctx, StatusLookupTimeout)
			defer cancel()
			ups = orchestrator.CheckUpdates(lctx, reg, cs, opts.AnyMajor)
		})
	}
	rows := orchestrator.StatusOnly(ctx, s.Prober, s.Hosts, states, opts.Only)
	// Why here: the database reads overlap the registry look-ups, which
	// touch no row until wg.Wait.
	s.X.AddRegistration(ctx, states, rows)
	wg.Wait()
	if !opts.Offline {
		orchestrator.ApplyUpdates(rows, ups, plan.Update{})
		if n := reg.RetryCount(); n > 0 {
			cfg.Logger().WithField("registry_retries", n).Info("registry look-ups were retried (429 or 5xx answers)")
		}
	}
	return rows, nil
}

// Upgrade runs orchestrator.Upgrade on the engines of cfg (it takes the
// engine locks and recovers interrupted upgrades itself).
func Upgrade(ctx context.Context, cfg Config, opts orchestrator.UpgradeOptions) (orchestrator.UpgradeReport, error) {
	s, err := Open(ctx, cfg, false)
	if err != nil {
		return orchestrator.UpgradeReport{}, err
	}
	defer s.Close()
	if opts.DryRun && opts.Registry != nil {
		// A dry run looks the targets up (a real run pulls through the
		// engines, which use their mirrors themselves).
		orchestrator.WithEngineMirrors(ctx, opts.Registry, s.Hosts, cfg.Logger())
	}
	rep, err := orchestrator.Upgrade(ctx, s.Hosts, s.X, opts)
	rep.RegistryRetries = opts.Registry.RetryCount()
	return rep, err
}

// Rollback puts the named containers back as they were before their last
// upgrade, under the engine locks. Every name is found first, so a bad name
// changes nothing; done is told of each container put back.
func Rollback(ctx context.Context, cfg Config, names []string, done func(plan.RollbackTarget)) error {
	s, err := Open(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	states, err := orchestrator.ObserveAll(ctx, s.Hosts)
	if err != nil {
		return err
	}
	var targets []plan.RollbackTarget
	for _, name := range names {
		t, err := plan.FindRollback(states, name)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if _, err := orchestrator.Rollback(ctx, s.X, t, nil); err != nil {
			return err
		}
		done(t)
	}
	return nil
}

// Recover finishes or undoes the interrupted upgrades on every engine, under
// the engine locks; an engine that fails does not stop the others. Once
// every engine was tried, done is given what was recovered (its error is
// returned first); the engines' errors come after, joined.
func Recover(ctx context.Context, cfg Config, done func([]plan.Recovery) error) error {
	s, err := Open(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer s.Close()
	var all []plan.Recovery
	var errs []error
	var notRun []string
	for _, h := range s.Hosts {
		if ctx.Err() != nil {
			notRun = append(notRun, h.Name())
			continue
		}
		rec, err := s.X.RecoverEngine(ctx, h)
		all = append(all, rec...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(notRun) > 0 {
		errs = append(errs, fault.Mark(fault.Interrupted, fmt.Errorf("interrupted (SIGINT/SIGTERM): engines not looked at: %s; run tarsup recover again", strings.Join(notRun, ", "))))
	}
	if err := done(all); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// Add checks req and puts its container on the one engine of cfg, under
// its lock; it returns the engine's name and the new container's ID.
func Add(ctx context.Context, cfg Config, req orchestrator.AddRequest) (host, id string, err error) {
	if err := req.Validate(); err != nil {
		return "", "", err
	}
	s, err := Open(ctx, cfg, true)
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	id, err = orchestrator.Add(ctx, s.Hosts[0], s.X, nil, req)
	return s.Hosts[0].Name(), id, err
}

// PlanRecover is `recover --dry-run`: it plans the recovery of every engine
// without taking a lock or changing anything, and returns the engines'
// plans in order. A signal (ctx cancelled) ends it with fault.Interrupted.
func PlanRecover(ctx context.Context, cfg Config) ([]plan.RecoveryPlan, error) {
	s, err := Open(ctx, cfg, false)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	defer s.Close()
	var plans []plan.RecoveryPlan
	for _, h := range s.Hosts {
		p, err := s.X.PlanRecover(ctx, h)
		if err != nil {
			return nil, interrupted(ctx, err)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// interrupted says what a signal did to a dry run: the error a cancelled
// ctx caused (a connection or a listing cut short) is an interruption
// (exit 1), not an engine that does not answer (exit 2). Why %v: the
// cause's kind must not decide the exit code.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fault.Mark(fault.Interrupted, fmt.Errorf("interrupted (SIGINT/SIGTERM) during recover --dry-run: nothing was changed (a dry run changes nothing) and no plan was printed; run it again (%v)", err))
}
