package watch

import (
	"context"

	"github.com/tarsup/tarsup/refresh"
)

// notify sends the event of one watch turn. It runs even while shutting
// down (ctx cancelled): the run it reports has happened. A notification
// that fails is logged by the notifier, and the watch goes on.
func (w *Watcher) notify(ctx context.Context, rep refresh.Report, err error) {
	_ = w.opts.Notifier.Notify(ctx, refresh.NotifyEvent("watch", rep, err))
}
