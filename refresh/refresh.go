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

// Status is the status JSON's rows: the same as `tarsup status --format json`.
func (r *Refresher) Status(ctx context.Context) ([]orchestrator.StatusRow, error) {
	states, err := orchestrator.ObserveAll(ctx, r.hosts)
	if err != nil {
		return nil, err
	}
	return orchestrator.Status(ctx, r.prober, r.hosts, states), nil
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
	r, err := Open(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	defer r.Close()
	return r.Run(ctx)
}
