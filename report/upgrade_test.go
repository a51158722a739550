package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestStepJSONPins: the dry run's JSON names the pinned addresses (pins)
// and those allowed to change (ip_changes) on each step.
func TestStepJSONPins(t *testing.T) {
	st := plan.Step{Host: "h1", Container: plan.Container{Name: "tars-framework"}, From: "tarscloud/framework:v3.0.15", To: "tarscloud/framework:v3.0.16",
		Pins:      []plan.Pin{{Network: "tars-net", IP: "172.25.0.10", Dynamic: true}},
		IPChanges: []plan.LostAddress{{Network: "bridge", IP: "172.17.0.3", Reason: "the default bridge network takes no fixed address"}}}
	raw, err := json.Marshal(StepOf(st))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"pins":[{"network":"tars-net","ip":"172.25.0.10","dynamic":true}]`, `"ip_changes":[{"network":"bridge","ip":"172.17.0.3"`, `; pins 172.25.0.10 on tars-net`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("step JSON %s\nlacks %s", raw, want)
		}
	}
}

// TestHooksReport: the JSON plan lists each step's hooks and their
// policy; a result keeps its warnings, and the text summary says so.
func TestHooksReport(t *testing.T) {
	st := plan.Step{Host: "h1", Container: plan.Container{Name: "tars-node", ID: "c1"}, From: "tarscloud/tars-node:latest", To: "tarscloud/tars-node:stable",
		Kind: plan.StepRecreate, Hooks: []plan.Hook{{When: plan.HookPreUpgrade, Name: "--pre-upgrade", Command: "backup", Argv: []string{"sh", "-c", "backup"}}},
		HookTimeout: 90 * time.Second, PostHookFailure: plan.PostHookWarn}
	rep := orchestrator.UpgradeReport{Plan: plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: []plan.Step{st}}}},
		Results: []orchestrator.StepResult{{Step: st, Result: orchestrator.ResultUpgraded, Warnings: []string{"tars-node on h1 kept the new container (--post-hook-failure warn): post-upgrade hook failed"}}}}
	var b strings.Builder
	if err := WriteUpgrade(&b, "json", false, rep, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"hooks": [`, `"when": "pre-upgrade"`, `"name": "--pre-upgrade"`, `"command": "backup"`, `"in_container": false`,
		`"hook_timeout": 90`, `"post_hook_failure": "warn"`, `"warnings": [`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteUpgrade(&b, "text", false, rep, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "upgraded (warning: a post hook failed)") || !strings.Contains(b.String(), "\nwarning: tars-node on h1 kept the new container") {
		t.Errorf("text:\n%s", b.String())
	}
}
