package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestUpgradeJSONInterrupted: a run cut short by a signal names what did not
// run and the version split, with keys added beside the existing ones.
func TestUpgradeJSONInterrupted(t *testing.T) {
	fw := plan.Container{Name: "fw", Role: images.RoleFramework, Version: "v3.0.15", Env: map[string]string{}}
	fw2 := plan.Container{Name: "fw2", Role: images.RoleFramework, Slave: true, Version: "v3.0.15", Env: map[string]string{}}
	s1 := plan.Step{Host: "h", Container: fw, From: "tarscloud/framework:v3.0.15", To: "tarscloud/framework:v3.0.16", Cause: "--to v3.0.16"}
	s2 := plan.Step{Host: "h", Container: fw2, From: "tarscloud/framework:v3.0.15", To: "tarscloud/framework:v3.0.16", Cause: "--to v3.0.16"}
	rep := orchestrator.UpgradeReport{
		Plan: plan.Plan{Phases: []plan.Phase{
			{Name: "framework master", Steps: []plan.Step{s1}},
			{Name: "framework hosts", Steps: []plan.Step{s2}},
		}},
		Results: []orchestrator.StepResult{
			{Step: s1, Result: orchestrator.ResultUpgraded},
			{Step: s2, Result: orchestrator.ResultSkipped, Interrupted: true},
		},
	}
	b, err := json.Marshal(UpgradeOf(false, rep))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"interrupted":true`, `"not_run":["fw2"]`,
		`"version_split":"framework hosts are on different versions now: fw v3.0.16, fw2 v3.0.15: run tarsup upgrade --to v3.0.16 again to finish"`,
		`"result":"skipped"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
}

// TestStatusTableNote: the NOTE column appears only when a row has a note.
func TestStatusTableNote(t *testing.T) {
	var plain, noted bytes.Buffer
	rows := []orchestrator.StatusRow{{Host: "h", Name: "fw", Role: "framework"}}
	if err := StatusTable(&plain, rows); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "NOTE") {
		t.Errorf("a NOTE column without notes:\n%s", plain.String())
	}
	rows = append(rows, orchestrator.StatusRow{Host: "h", Name: "fw.tarsup-old", Role: "framework", Interrupted: true, Note: orchestrator.NoteInterrupted})
	if err := StatusTable(&noted, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(noted.String(), "NOTE") || !strings.Contains(noted.String(), "interrupted upgrade, run tarsup recover") {
		t.Errorf("no note in the table:\n%s", noted.String())
	}
}
