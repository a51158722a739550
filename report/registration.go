package report

import (
	"fmt"
	"io"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Registration is the registration check in the JSON report: each check
// (planned, or its result after a run) and the notes of deployments whose
// check is off and of nodes not checked. Its keys are a promise.
type Registration struct {
	Checks []RegistrationCheck     `json:"checks"`
	Notes  []plan.RegistrationNote `json:"notes,omitempty"`
}

// RegistrationCheck is one node's check: which row of which deployment's
// t_node_info, after which steps, and what came of it.
type RegistrationCheck struct {
	Host       string `json:"host"`
	Container  string `json:"container"`
	Deployment string `json:"deployment"`
	NodeName   string `json:"node_name"`
	EndpointIP string `json:"endpoint_ip"`
	// After is "after the framework steps" or "after the node steps".
	After string `json:"after"`
	Line  string `json:"line"`
	// Result is ok, restarted (registered again after its restart), not
	// registered, failed or skipped; absent in a dry run.
	Result string `json:"result,omitempty"`
	// Problem is what was wrong at the last read: inactive, old
	// heartbeat, other IP or missing; Detail says more.
	Problem string `json:"problem,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Error   string `json:"error,omitempty"`
}

func checkOf(s plan.Step) RegistrationCheck {
	return RegistrationCheck{Host: s.Host, Container: s.Container.Name, Deployment: s.Reg.Deployment, NodeName: s.Reg.NodeName,
		EndpointIP: s.Reg.EndpointIP, After: s.Cause, Line: s.String(false)}
}

// RegistrationOf is the registration part of an upgrade's JSON report: the
// results of its reregister steps after a run, else the planned ones; nil
// when there are neither checks nor notes.
func RegistrationOf(rep orchestrator.UpgradeReport) *Registration {
	out := &Registration{Checks: []RegistrationCheck{}, Notes: rep.Registration}
	for _, r := range rep.Results {
		if r.Step.Kind != plan.StepReregister {
			continue
		}
		c := checkOf(r.Step)
		c.Result = r.Result
		if !r.Reg.OK && r.Result != orchestrator.ResultSkipped {
			c.Problem, c.Detail = r.Reg.Problem, r.Reg.Detail
		}
		if r.Err != nil {
			c.Error = r.Err.Error()
		}
		out.Checks = append(out.Checks, c)
	}
	if rep.Results == nil {
		for _, ph := range rep.Plan.Phases {
			for _, s := range ph.Steps {
				if s.Kind == plan.StepReregister {
					out.Checks = append(out.Checks, checkOf(s))
				}
			}
		}
	}
	if len(out.Checks) == 0 && len(out.Notes) == 0 {
		return nil
	}
	return out
}

// WriteRegistration writes, after a run's results, what the registration
// check found: one line per node checked, and its notes.
func WriteRegistration(w io.Writer, rep orchestrator.UpgradeReport) {
	first := true
	for _, r := range rep.Results {
		if r.Step.Kind != plan.StepReregister {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nregistration in db_tars.t_node_info:")
			first = false
		}
		what := r.Result
		switch {
		case r.Result == orchestrator.ResultOK:
			what = "active again at " + r.Step.Reg.EndpointIP + ", heartbeating"
		case r.Result == orchestrator.ResultRestarted:
			what = "active again at " + r.Step.Reg.EndpointIP + ", heartbeating, after a restart"
		case r.Result == orchestrator.ResultUnregistered:
			what = fmt.Sprintf("%s (restarted once): %s: %s", r.Result, r.Reg.Problem, r.Reg.Detail)
		case r.Err != nil && r.Reg.Problem == "":
			// Why not "restarted once": a database that did not answer says
			// nothing of the node, which was left alone.
			what = r.Result + ": db_tars.t_node_info could not be read; the node was not restarted"
		case r.Err != nil:
			// Its restart failed (the error says how).
			what = fmt.Sprintf("%s: %s: %s; the restart failed", r.Result, r.Reg.Problem, r.Reg.Detail)
		}
		fmt.Fprintf(w, "  %s on %s (node IP %s) %s: %s\n", r.Step.Container.Name, r.Step.Host, r.Step.Reg.EndpointIP, r.Step.Cause, what)
	}
	WriteRegistrationNotes(w, rep.Registration)
}

// WriteRegistrationNotes writes each note of the registration check once
// (the deployments whose check is off, the nodes not checked).
func WriteRegistrationNotes(w io.Writer, notes []plan.RegistrationNote) {
	for _, n := range notes {
		fmt.Fprintln(w, n.String())
	}
}
