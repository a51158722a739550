package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator"
)

// TestEvents: text output prints one line per event on stdout (the detail's
// first line, not for a failure whose error follows); JSON output sends
// events to the log, keeping stdout for the report.
func TestEvents(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := orchestrator.Event{Time: at, Host: "h", Container: "tars-node", Action: "recreate", From: "a", To: "b", Result: "healthy", Detail: "took 3s\nmore"}
	if got, want := EventLine(ev), "03:04:05 h tars-node: recreate a -> b: healthy (took 3s)"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	ev.Result = orchestrator.ResultRolledBack
	if got := EventLine(ev); strings.Contains(got, "took 3s") {
		t.Errorf("a rolled-back event repeats its detail: %q", got)
	}
	var out, logs bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	Events("json", &out, log)(ev)
	if out.Len() != 0 || !strings.Contains(logs.String(), `"container":"tars-node"`) {
		t.Errorf("json events: stdout %q, log %q", out.String(), logs.String())
	}
	Events("text", &out, log)(orchestrator.Event{Time: at, Host: "h", Container: "c", Action: "pull"})
	if out.String() != "03:04:05 h c: pull\n" {
		t.Errorf("text event %q", out.String())
	}
}
