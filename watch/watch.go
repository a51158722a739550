// Package watch is the `tarsup watch` daemon: it runs a refresh on a cron
// schedule, one at a time and under the run lock, serves GET /v1/status,
// GET /metrics and POST /v1/update (bearer token), and notifies (package
// notify) after a run that changed something or failed. It holds no flag:
// cmd/tarsup fills its Options.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	// Why embedded zone data: the image is FROM scratch, and a schedule may
	// name a zone (CRON_TZ=Asia/Shanghai 0 3 * * *).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/notify"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/refresh"
)

// Options configure the daemon.
type Options struct {
	// Schedule says when to refresh; Spec is its text, for the log.
	Schedule Schedule
	Spec     string
	// Listener serves the HTTP endpoints; nil leaves them off.
	Listener net.Listener
	// Token is POST /v1/update's bearer token; nil turns the endpoint off.
	Token []byte
	// Notifier receives each run's event (--notify, --notify-url, as
	// --notify-on says); nil sends nothing.
	Notifier *notify.Notifier
	// LockPath is the run lock's file ("" for the default place); Getenv
	// reads the environment that default depends on.
	LockPath string
	Getenv   func(string) string
	// Refresh runs one refresh; Status reads the status rows.
	Refresh func(context.Context) (refresh.Report, error)
	// RefreshForced runs one refresh that ignores the maintenance windows
	// (POST /v1/update?force=1); nil: Refresh.
	RefreshForced func(context.Context) (refresh.Report, error)
	// Windows are the maintenance windows' specs, for the log.
	Windows []string
	Status  func(context.Context) ([]orchestrator.StatusRow, error)
	Log     logrus.FieldLogger
}

// Run runs the daemon until ctx ends, then lets the refresh under way finish
// (the executor finishes or rolls back the recreate in progress and starts
// no new step) and returns nil.
func Run(ctx context.Context, opts Options) error {
	return New(opts).Serve(ctx)
}

// Watcher is the long-running side of watch: the schedule, the HTTP
// endpoints and the notifications. It runs one refresh at a time.
type Watcher struct {
	opts    Options
	metrics *Metrics

	mu      sync.Mutex
	running bool
	runs    sync.WaitGroup

	// windowTimer runs a refresh when the next maintenance window opens,
	// after a run that left steps waiting for it.
	windowTimer *time.Timer
}

// New is a Watcher with opts; nothing runs until Serve or RunOnce.
func New(opts Options) *Watcher {
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		opts.Log = l
	}
	return &Watcher{opts: opts, metrics: &Metrics{}}
}

// ErrBusy says a refresh is already under way in this process.
var ErrBusy = errors.New("a refresh is already running")

// RunOnce runs one refresh under the run lock unless one is under way, then
// counts it and notifies. Why ctx is the process's and never a request's: a
// client that hangs up must not cut a refresh short.
func (w *Watcher) RunOnce(ctx context.Context, trigger string) (refresh.Report, error) {
	if err := w.begin(ctx); err != nil {
		return refresh.Report{}, err
	}
	defer w.end()
	log := w.opts.Log.WithField("trigger", trigger)
	held, err := lock.AcquireLock(w.opts.LockPath, w.opts.Getenv)
	if err != nil {
		log.Warn(err)
		return refresh.Report{}, err
	}
	defer func() {
		if err := held.Release(); err != nil {
			log.Warn(err)
		}
	}()
	rep, err := w.refreshFor(trigger)(ctx)
	w.followWindow(ctx, rep, log)
	w.metrics.Record(rep, err, time.Now())
	fields := logrus.Fields{"checked": rep.Checked, "tags": rep.Tags, "moved": len(rep.Moved), "upgraded": rep.Upgraded, "rolled_back": rep.RolledBack}
	if err != nil {
		log.WithFields(fields).WithError(err).Error("refresh failed")
	} else {
		log.WithFields(fields).Info(rep.Summary)
	}
	w.notify(ctx, rep, err)
	return rep, err
}

// begin marks a run under way, or says why none may start.
func (w *Watcher) begin(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		return ErrBusy
	}
	if ctx.Err() != nil {
		return fmt.Errorf("shutting down: %w", ctx.Err())
	}
	w.running = true
	w.runs.Add(1)
	return nil
}

func (w *Watcher) end() {
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
	w.runs.Done()
}

// Serve runs the schedule (and the HTTP endpoints when a listener is set)
// until ctx ends, then waits for the refresh under way and returns nil.
func (w *Watcher) Serve(ctx context.Context) error {
	c := w.scheduler(ctx)
	c.Start()
	fields := logrus.Fields{"schedule": w.opts.Spec, "next": w.opts.Schedule.Next(time.Now()).Format(time.RFC3339)}
	var srv *http.Server
	srvDone := make(chan error, 1)
	ln := w.opts.Listener
	if ln != nil {
		srv = &http.Server{Handler: w.Handler(ctx), ReadHeaderTimeout: 10 * time.Second}
		go func() { srvDone <- srv.Serve(ln) }()
		fields["http"] = ln.Addr().String()
		fields["update_endpoint"] = w.opts.Token != nil
	}
	if len(w.opts.Windows) > 0 {
		fields["windows"] = w.opts.Windows
	}
	w.opts.Log.WithFields(fields).Info("watching")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-srvDone:
	}
	w.opts.Log.Info("stopping: waiting for the refresh under way, if any (a recreate in progress finishes or rolls back)")
	<-c.Stop().Done()
	w.stopWindowTimer()
	w.runs.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("HTTP server on %s: %w", ln.Addr(), serveErr)
	}
	w.opts.Log.Info("stopped")
	return nil
}

// scheduler is the cron that runs a refresh at each turn of the schedule;
// a turn that finds the previous refresh still running is skipped.
func (w *Watcher) scheduler(ctx context.Context) *cron.Cron {
	c := cron.New()
	c.Schedule(w.opts.Schedule, cron.FuncJob(func() {
		if _, err := w.RunOnce(ctx, TriggerSchedule); errors.Is(err, ErrBusy) {
			w.opts.Log.Warn("the previous refresh is still running: this turn is skipped")
		}
	}))
	return c
}
