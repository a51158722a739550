package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

func regStep(name, ip string) plan.Step {
	return plan.Step{Kind: plan.StepReregister, Host: "h", Container: plan.Container{Name: name, Role: images.RoleNode}, Cause: plan.CauseAfterFramework,
		Reg: plan.RegCheck{Deployment: "db:3306", NodeName: ip, EndpointIP: ip}}
}

// TestRegistrationReport: the text and JSON reports carry each node's
// check (and not in the recreate results), and the notes of what is not
// checked, once.
func TestRegistrationReport(t *testing.T) {
	ok, bad, unread := regStep("n1", "10.0.0.5"), regStep("n2", "10.0.0.6"), regStep("n3", "10.0.0.7")
	fw := plan.Step{Kind: plan.StepRecreate, Host: "h", Container: plan.Container{Name: "fw", Role: images.RoleFramework}, From: "tarscloud/framework:v3.0.15", To: "tarscloud/framework:v3.0.16"}
	note := plan.RegistrationNote{Deployment: "other:3306", Host: "h", Container: "fw2", Reason: "its database was not found: x"}
	rep := orchestrator.UpgradeReport{
		Plan: plan.Plan{Phases: []plan.Phase{{Name: "framework master", Steps: []plan.Step{fw}}, {Name: plan.PhaseRegAfterFramework, Steps: []plan.Step{ok, bad}}}},
		Results: []orchestrator.StepResult{
			{Step: fw, Result: orchestrator.ResultUpgraded},
			{Step: ok, Result: orchestrator.ResultOK, Reg: plan.Verdict{OK: true}},
			{Step: bad, Result: orchestrator.ResultUnregistered, Err: errors.New("node n2 on h (node IP 10.0.0.6) is not registered again"),
				Reg: plan.Verdict{Problem: plan.ProblemInactive, Detail: "present_state is inactive"}},
			{Step: unread, Result: orchestrator.ResultFailed, Err: errors.New("db_tars.t_node_info could not be read for 30s")},
		},
		Registration: []plan.RegistrationNote{note},
	}
	var text bytes.Buffer
	if err := WriteUpgrade(&text, "text", false, rep, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"n1 on h (node IP 10.0.0.5) after the framework steps: active again at 10.0.0.5, heartbeating\n",
		"n2 on h (node IP 10.0.0.6) after the framework steps: not registered (restarted once): inactive: present_state is inactive\n",
		// The database did not answer: the node was not restarted.
		"n3 on h (node IP 10.0.0.7) after the framework steps: failed: db_tars.t_node_info could not be read; the node was not restarted\n",
		"registration check off for deployment other:3306 (fw2 on h): its database was not found: x\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Count(text.String(), "registration check off") != 1 || strings.Contains(text.String(), "\nh   n1") {
		t.Errorf("the note once, and no check in the results table:\n%s", text.String())
	}
	b, err := json.Marshal(UpgradeOf(false, rep))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results      []Result     `json:"results"`
		Registration Registration `json:"registration"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 || len(got.Registration.Checks) != 3 || len(got.Registration.Notes) != 1 {
		t.Fatalf("JSON %s: want the recreate's result only, three checks, one note", b)
	}
	c := got.Registration.Checks[1]
	if c.Container != "n2" || c.EndpointIP != "10.0.0.6" || c.Result != orchestrator.ResultUnregistered || c.Problem != plan.ProblemInactive || c.Error == "" || c.After != plan.CauseAfterFramework {
		t.Errorf("check %+v", c)
	}
	// A dry run lists the planned checks.
	rep.Results = nil
	if r := RegistrationOf(rep); r == nil || len(r.Checks) != 2 || r.Checks[0].Result != "" || !strings.Contains(r.Checks[0].Line, "n1: reregister: active again at 10.0.0.5") {
		t.Errorf("dry run registration %+v", r)
	}
}

// TestStatusTableRegistration: the registration columns appear where a
// database answered; non-node rows leave them empty.
func TestStatusTableRegistration(t *testing.T) {
	var b bytes.Buffer
	rows := []orchestrator.StatusRow{{Host: "h", Name: "fw", Role: "framework"}, {Host: "h", Name: "n1", Role: "node", Registration: plan.RegActive, LastHeartbeat: "2026-11-25T10:00:00Z"}}
	if err := StatusTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[0], "REGISTRATION") || !strings.Contains(lines[0], "LAST HEARTBEAT") || !strings.HasSuffix(strings.Join(strings.Fields(lines[2]), " "), "active 2026-11-25T10:00:00Z") {
		t.Errorf("table:\n%s", b.String())
	}
	b.Reset()
	if err := StatusTable(&b, rows[:1]); err != nil || strings.Contains(b.String(), "REGISTRATION") {
		t.Errorf("no database answered, yet:\n%s", b.String())
	}
}
