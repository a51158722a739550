package watch

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/refresh"
)

// What starts a run: the log's "trigger".
const (
	// TriggerSchedule is a turn of --schedule.
	TriggerSchedule = "schedule"
	// TriggerHTTP is POST /v1/update.
	TriggerHTTP = "http"
	// TriggerForced is POST /v1/update?force=1: the run ignores the
	// maintenance windows.
	TriggerForced = "http-force"
	// TriggerWindow is the opening of the maintenance window that an
	// earlier run left steps waiting for.
	TriggerWindow = "window"
)

// windowSlack is how long after a window's opening its run starts: the
// timer follows the monotonic clock and the window the wall clock, so a
// run exactly at the opening could still see it closed.
const windowSlack = time.Second

// refreshFor is the refresh a trigger runs: a forced one ignores the
// maintenance windows.
func (w *Watcher) refreshFor(trigger string) func(context.Context) (refresh.Report, error) {
	if trigger == TriggerForced && w.opts.RefreshForced != nil {
		return w.opts.RefreshForced
	}
	return w.opts.Refresh
}

// followWindow waits for the next maintenance window after a run that left
// steps waiting for it (outside a window, or one closing too soon): a
// refresh runs when it opens, beside the schedule. Why: a schedule such as
// @daily may never fire inside a short window.
func (w *Watcher) followWindow(ctx context.Context, rep refresh.Report, log logrus.FieldLogger) {
	win := rep.Window
	if win == nil || len(win.Waiting) == 0 || win.NextOpen.IsZero() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.windowTimer != nil {
		w.windowTimer.Stop()
	}
	log.WithFields(logrus.Fields{"next_open": win.NextOpen.Format(time.RFC3339), "zone": win.Zone, "waiting": win.Waiting}).
		Info("steps wait for the next maintenance window: a refresh runs when it opens")
	w.armWindow(ctx, time.Until(win.NextOpen)+windowSlack)
}

// armWindow runs the window's refresh after d. Why again when busy: the
// timer may fire while the run that armed it (or another) is still under
// way, and a run that started before the window opened does not cover it.
// The caller holds w.mu.
func (w *Watcher) armWindow(ctx context.Context, d time.Duration) {
	w.windowTimer = time.AfterFunc(d, func() {
		if _, err := w.RunOnce(ctx, TriggerWindow); errors.Is(err, ErrBusy) {
			w.opts.Log.Debug("the maintenance window opened while a refresh was running: its run follows that one")
			w.mu.Lock()
			defer w.mu.Unlock()
			w.armWindow(ctx, windowSlack)
		}
	})
}

// stopWindowTimer cancels the run planned for the next window.
func (w *Watcher) stopWindowTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.windowTimer != nil {
		w.windowTimer.Stop()
	}
}
