package report

import (
	"fmt"
	"io"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator"
)

// Events prints one line per event as it happens: to out for text output,
// to log for JSON output (stdout then carries only the report).
func Events(format string, out io.Writer, log logrus.FieldLogger) func(orchestrator.Event) {
	if format == "json" {
		return func(ev orchestrator.Event) {
			log.WithFields(logrus.Fields{"host": ev.Host, "container": ev.Container, "from": ev.From, "to": ev.To, "result": ev.Result, "detail": ev.Detail}).Info(ev.Action)
		}
	}
	return func(ev orchestrator.Event) { fmt.Fprintln(out, EventLine(ev)) }
}

// EventLine is an event's line in text output.
func EventLine(ev orchestrator.Event) string {
	line := fmt.Sprintf("%s %s %s: %s", ev.Time.Format("15:04:05"), ev.Host, ev.Container, ev.Action)
	if ev.From != "" || ev.To != "" {
		line += fmt.Sprintf(" %s -> %s", ev.From, ev.To)
	}
	if ev.Result != "" {
		line += ": " + ev.Result
	}
	if ev.Detail != "" && ev.Result != orchestrator.ResultRolledBack && ev.Result != orchestrator.ResultFailed {
		line += " (" + FirstLine(ev.Detail) + ")"
	}
	return line
}
