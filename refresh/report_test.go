package refresh

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

func upgraded() orchestrator.UpgradeReport {
	node := plan.Container{Name: "tars-node", Role: images.RoleNode, Env: map[string]string{}}
	node2 := plan.Container{Name: "tars-node2", Role: images.RoleNode, Env: map[string]string{}}
	s1 := plan.Step{Host: "h", Container: node, From: "tarscloud/tars-node:latest", To: "tarscloud/tars-node:latest", Cause: "tag moved", Kind: plan.StepRecreate}
	s2 := plan.Step{Host: "h", Container: node2, From: "tarscloud/tars-node:latest", To: "tarscloud/tars-node:latest", Cause: "tag moved", Kind: plan.StepRecreate}
	return orchestrator.UpgradeReport{
		Plan: plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: []plan.Step{s1, s2}}}},
		Results: []orchestrator.StepResult{
			{Step: s1, Result: orchestrator.ResultUpgraded},
			{Step: s2, Result: orchestrator.ResultRolledBack, Err: errors.New("health gate")},
		},
	}
}

// TestNewReport: the refresh JSON counts the upgraded and rolled-back
// containers, says a failure in its summary (first line only), and always
// has a moved list (never null) and the keys scripts read.
func TestNewReport(t *testing.T) {
	up := upgraded()
	check := plan.RefreshCheck{Checked: 2, Tags: 1, Moved: []plan.Moved{{Host: "h", Name: "tars-node"}, {Host: "h", Name: "tars-node2"}}}
	rep := NewReport(time.Now(), false, orchestrator.RefreshReport{Check: check, Upgrade: &up}, errors.New("tars-node2 rolled back\nmore detail"))
	if rep.Upgraded != 1 || rep.RolledBack != 1 || rep.Success || !rep.Changed {
		t.Errorf("upgraded %d rolled back %d success %v changed %v, want 1 1 false true", rep.Upgraded, rep.RolledBack, rep.Success, rep.Changed)
	}
	if want := "refresh: 2 containers checked, 1 tag, 2 moved; failed: tars-node2 rolled back"; rep.Summary != want {
		t.Errorf("summary %q\nwant %q", rep.Summary, want)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"time":`, `"seconds":`, `"success":false`, `"monitor_only":false`, `"changed":true`, `"checked":2`, `"upgraded":1`, `"rolled_back":1`, `"upgrade":{`, `"error":"tars-node2 rolled back\nmore detail"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("report JSON lacks %s:\n%s", key, b)
		}
	}

	quiet := NewReport(time.Now(), true, orchestrator.RefreshReport{Check: plan.RefreshCheck{Checked: 3}}, nil)
	b, _ = json.Marshal(quiet)
	if !strings.Contains(string(b), `"moved":[]`) || !quiet.Success || quiet.Changed || quiet.Upgrade != nil {
		t.Errorf("nothing moved: %s", b)
	}
}

// TestWriteTextMonitorOnly: with --monitor-only the text report is the plan
// that would run and says nothing changed; a real run prints the summary table.
func TestWriteTextMonitorOnly(t *testing.T) {
	up := upgraded()
	up.Results = nil
	var buf bytes.Buffer
	if err := WriteText(&buf, orchestrator.RefreshReport{Upgrade: &up}, true, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "would run:\n") || !strings.HasSuffix(buf.String(), "monitor only: nothing was changed\n") {
		t.Errorf("monitor-only text:\n%s", buf.String())
	}
	up = upgraded()
	buf.Reset()
	if err := WriteText(&buf, orchestrator.RefreshReport{Upgrade: &up, Recovered: []plan.Recovery{{Host: "h", Name: "fw", Action: "finished", Result: "ok"}}}, false, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "recovered fw on h: finished: ok\n") || !strings.Contains(buf.String(), "HOST") || !strings.Contains(buf.String(), "rolled back") {
		t.Errorf("run text:\n%s", buf.String())
	}
}
