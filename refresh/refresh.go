// Package refresh is the refresh workflow `tarsup refresh` runs once and
// `tarsup watch` on every turn: connect to the engines, compare each Tars
// container's tag with its registry, recreate what moved, and report it
// (text or one JSON line). It holds no flag: cmd/tarsup fills its Config.
package refresh

import (
	"context"
	"io"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/notify"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
)

// Config is what a Refresher needs: the engines and how to recreate on
// them, what to refresh, and where the reports go.
type Config struct {
	Fleet   fleet.Config
	Refresh orchestrator.RefreshOptions
	// Format is "text" or "json"; Out receives the reports.
	Format string
	Out    io.Writer
	// Notifier receives the event of a `tarsup refresh` (Once); nil sends
	// nothing. (A watch notifies each turn itself.)
	Notifier *notify.Notifier
	// Updates makes each run end with every container's update state
	// (Report.Updates), from the run's own look-ups where it made them:
	// watch's per-container metrics and /v1/status.
	Updates bool
}

// Refresher runs refreshes against engines it stays connected to: once for
// `refresh`, on every turn for `watch`.
type Refresher struct {
	hosts  []*engine.Host
	prober *health.Prober
	x      *orchestrator.Executor
	cfg    Config
	log    logrus.FieldLogger
	close  func()
}

// Open connects to every engine of cfg and builds the executor. Close
// releases the connections.
func Open(ctx context.Context, cfg Config) (*Refresher, error) {
	s, err := fleet.Open(ctx, cfg.Fleet, false)
	if err != nil {
		return nil, err
	}
	r := New(s.Hosts, s.Prober, s.X, cfg)
	r.close = s.Close
	return r, nil
}

// New is a Refresher on engines already connected; Close leaves them be.
func New(hosts []*engine.Host, prober *health.Prober, x *orchestrator.Executor, cfg Config) *Refresher {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	return &Refresher{hosts: hosts, prober: prober, x: x, cfg: cfg, log: cfg.Fleet.Logger(), close: func() {}}
}

// Close releases the engines' connections.
func (r *Refresher) Close() { r.close() }

// Run refreshes once and writes its report: in text, the summary line first
// (the only line when nothing moved, or outside the maintenance windows),
// then what happens; in JSON, one line.
func (r *Refresher) Run(ctx context.Context) (Report, error) {
	return r.run(ctx, false)
}

// RunForced is Run ignoring the maintenance windows (watch's POST
// /v1/update?force=1); --min-age still applies.
func (r *Refresher) RunForced(ctx context.Context) (Report, error) {
	return r.run(ctx, true)
}

func (r *Refresher) run(ctx context.Context, force bool) (Report, error) {
	opts := r.cfg.Refresh
	opts.Force = force
	reg := r.registry(ctx)
	opts.Registry = reg
	multiHost := len(r.hosts) > 1
	if r.cfg.Format == "text" {
		opts.Checked = func(c plan.RefreshCheck) { WriteCheck(r.cfg.Out, c, multiHost) }
	}
	start := time.Now()
	rep, err := orchestrator.Refresh(ctx, r.hosts, r.x, opts)
	if rep.Upgrade == nil || opts.MonitorOnly {
		for _, h := range rep.PendingRecovery {
			r.log.WithField("host", h).Warn("an upgrade is under way or was interrupted on this engine: refresh left it alone; if no other tarsup is running, run tarsup recover")
		}
	}
	out := NewReport(start, opts.MonitorOnly, rep, err)
	if r.cfg.Updates && ctx.Err() == nil {
		out.Updates, out.UpdatesAt = r.updates(ctx, reg)
	}
	out.RegistryRetries = reg.RetryCount()
	r.log.WithFields(logrus.Fields{"checked": out.Checked, "tags": out.Tags, "moved": len(out.Moved), "upgraded": out.Upgraded,
		"rolled_back": out.RolledBack, "seconds": time.Since(start).Seconds()}).Debug("refresh done")
	var werr error
	if r.cfg.Format == "json" {
		werr = report.WriteCompactJSON(r.cfg.Out, out)
	} else {
		werr = WriteText(r.cfg.Out, rep, opts.MonitorOnly, err)
	}
	if err != nil {
		return out, err
	}
	return out, werr
}

// registry is this run's registry client: the configured one's settings,
// nothing remembered from an earlier run (a watch turn asks anew), and the
// engines' own Docker Hub mirrors after the configured ones.
func (r *Refresher) registry(ctx context.Context) *images.Registry {
	reg := &images.Registry{Retries: images.DefaultRetries}
	if base := r.cfg.Refresh.Registry; base != nil {
		reg = base.Fresh()
	}
	orchestrator.WithEngineMirrors(ctx, reg, r.hosts, r.log)
	return reg
}

// updates is every in-scope container's update state after the run, from
// the run's look-ups (reg remembers them: a tag the check asked about is
// not asked again); nil when the engines could not be read.
func (r *Refresher) updates(ctx context.Context, reg *images.Registry) ([]orchestrator.ContainerUpdate, time.Time) {
	states, err := orchestrator.ObserveAll(ctx, r.hosts)
	if err != nil {
		r.log.WithError(err).Warn("the update state of the containers was not looked up")
		return nil, time.Time{}
	}
	cs, _ := plan.StatusScope(states, r.cfg.Refresh.Only)
	return orchestrator.CheckUpdates(ctx, reg, cs, r.cfg.Refresh.AnyMajor), time.Now()
}

// Status is the status JSON's rows: the same as `tarsup status --format json`.
func (r *Refresher) Status(ctx context.Context) ([]orchestrator.StatusRow, error) {
	states, err := orchestrator.ObserveAll(ctx, r.hosts)
	if err != nil {
		return nil, err
	}
	rows := orchestrator.Status(ctx, r.prober, r.hosts, states)
	r.x.AddRegistration(ctx, states, rows)
	return rows, nil
}

// Once is `tarsup refresh`: it takes the run lock at lockPath (the default
// place when ""), connects, refreshes once and reports. Why the lock before
// connecting: a second run must exit at once, even when an engine is slow
// to answer.
func Once(ctx context.Context, cfg Config, lockPath string, getenv func(string) string) (Report, error) {
	lock, err := lock.AcquireLock(lockPath, getenv)
	if err != nil {
		return Report{}, err
	}
	defer func() {
		if err := lock.Release(); err != nil {
			cfg.Fleet.Logger().Warn(err)
		}
	}()
	cfg.Fleet.Logger().WithField("lock", lock.Path).Debug("run lock held")
	start := time.Now()
	rep, err := open(ctx, cfg)
	if err != nil && rep.Time.IsZero() {
		// No engine, no report on stdout; the notification still says why.
		rep = NewReport(start, cfg.Refresh.MonitorOnly, orchestrator.RefreshReport{}, err)
	}
	// A failed notification is logged by the notifier; it never changes
	// the run's outcome.
	_ = cfg.Notifier.Notify(ctx, NotifyEvent("refresh", rep, err))
	return rep, err
}

// open connects to the engines and refreshes once.
func open(ctx context.Context, cfg Config) (Report, error) {
	r, err := Open(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	defer r.Close()
	return r.Run(ctx)
}
