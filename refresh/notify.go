package refresh

import (
	"github.com/tarsup/tarsup/notify"
	"github.com/tarsup/tarsup/report"
)

// NotifyEvent is the notification's event of a refresh (command "refresh",
// or "watch" for a watch turn) whose report is rep and error err: the
// upgrade's steps, with the refresh's own summary, "changed" and report
// (what --notify-url receives, as before).
func NotifyEvent(command string, rep Report, err error) notify.Event {
	var up report.Upgrade
	if rep.Upgrade != nil {
		up = *rep.Upgrade
	}
	up.DryRun = rep.MonitorOnly
	ev := notify.UpgradeEvent(command, up, err)
	ev.Changed, ev.DryRun = rep.Changed, rep.MonitorOnly
	if rep.Summary != "" {
		ev.Summary = rep.Summary
	}
	if !rep.Time.IsZero() {
		ev.Time = rep.Time
	}
	ev.SetReport(rep)
	return ev.WithStatus()
}
