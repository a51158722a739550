package refresh

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
)

// TestNotifyEvent: a refresh's event carries the refresh's own summary,
// "changed" and JSON report (byte for byte what --notify-url received
// before), with the upgrade's steps.
func TestNotifyEvent(t *testing.T) {
	step := report.Step{Host: "h", Container: "tars-node", Role: "node", From: "r/tarscloud/tars-node:latest", To: "r/tarscloud/tars-node:latest",
		FromDigest: "sha256:1111111111111", ToDigest: "sha256:2222222222222"}
	rep := Report{Success: true, Changed: true, Summary: "refresh: 1 container checked, 1 tag, 1 moved",
		RefreshCheck: plan.RefreshCheck{Checked: 1, Tags: 1, Moved: []plan.Moved{{Host: "h", Name: "tars-node"}}}, Upgraded: 1,
		Upgrade: &report.Upgrade{Plan: []report.Step{step}, Results: []report.Result{{Step: step, Result: "upgraded"}}}}
	ev := NotifyEvent("refresh", rep, nil)
	if ev.Summary != rep.Summary || !ev.Changed || ev.Status != "changed" || len(ev.Steps) != 1 || ev.Steps[0].From != "latest" || ev.Upgraded != 1 {
		t.Errorf("%+v", ev)
	}
	want, _ := json.Marshal(rep)
	if !bytes.Equal(ev.ReportJSON(), want) || ev.Report["checked"] != float64(1) {
		t.Errorf("report %s\nwant %s", ev.ReportJSON(), want)
	}

	mon := Report{MonitorOnly: true, Changed: true, Summary: "refresh: 1 moved", Upgrade: &report.Upgrade{Plan: []report.Step{step}}}
	if ev := NotifyEvent("watch", mon, nil); ev.Status != "would change" || ev.Steps[0].Result != "planned" || ev.Command != "watch" {
		t.Errorf("monitor only: %+v", ev)
	}
	failed := Report{Summary: "refresh: 0 containers checked, 0 tags, nothing moved; failed: registry unreachable", Error: "registry unreachable"}
	if ev := NotifyEvent("refresh", failed, errors.New("registry unreachable")); ev.Status != "failed" || ev.ExitCode != 1 || ev.Summary != failed.Summary {
		t.Errorf("failed: %+v", ev)
	}
}
