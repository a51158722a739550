package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
)

// Event is what a notification tells, and what --notify-template runs
// over: its fields are a promise to operators' templates (README,
// "Notifications"): add, don't rename.
type Event struct {
	// Command is the run's command: upgrade, compose upgrade, refresh, or
	// watch (one turn of it).
	Command string
	// Machine is the host name of the machine tarsup runs on.
	Machine string
	// Time is when the run started (UTC).
	Time time.Time
	// Status is one word for the outcome: failed, changed, would change
	// (a dry run or --monitor-only that found work), or unchanged.
	Status string
	// Changed: containers were (or, in a dry run, would be) recreated, or
	// an interrupted upgrade was recovered. Failed: the run failed (its
	// exit code is not 0). DryRun: --dry-run or --monitor-only.
	Changed, Failed, DryRun bool
	// ExitCode is the run's exit code (for a watch turn: the one `tarsup
	// refresh` would have).
	ExitCode int
	// Summary is one line: "2 upgraded, 1 rolled back", or refresh's
	// "refresh: 4 containers checked, 3 tags, 2 moved".
	Summary string
	// Error is the run's error message ("" when it succeeded).
	Error string
	// Steps are the containers the run recreated (or planned to): the
	// results of a run, else its plan.
	Steps []Step
	// Upgraded and RolledBack count the steps with those results.
	Upgraded, RolledBack int
	// Report is the command's JSON report (what --format json prints),
	// decoded: its keys are the JSON keys (.Report.moved, .Report.upgrade).
	Report map[string]any

	// reportJSON is the report as --notify-url POSTs it.
	reportJSON []byte
}

// Step is one container's step in an Event.
type Step struct {
	Host, Container, Role string
	// From and To are the short names of the old and new image (the tag,
	// or the whole reference when the repository changes); FromDigest and
	// ToDigest their digests, abbreviated.
	From, To, FromDigest, ToDigest string
	// Result is upgraded, rolled back, failed, left for inspection, ok,
	// restarted..., "planned" in a dry run, "not run" for a step that did
	// not run.
	Result string
	// Error is why the step failed ("" when it did not).
	Error string
}

// Results a step of an Event can have besides the executor's.
const (
	ResultPlanned = "planned"
	ResultNotRun  = "not run"
)

// Statuses of an Event.
const (
	StatusFailed      = "failed"
	StatusChanged     = "changed"
	StatusWouldChange = "would change"
	StatusUnchanged   = "unchanged"
)

// UpgradeEvent is the Event of an upgrade (command "upgrade" or "compose
// upgrade") whose JSON report is up and whose error is runErr. Changed
// has the meaning of refresh's JSON key "changed": the plan had steps, or
// an interrupted upgrade was recovered.
func UpgradeEvent(command string, up report.Upgrade, runErr error) Event {
	if runErr != nil && up.Error == "" {
		up.Error = runErr.Error()
	}
	ev := Event{
		Command:  command,
		Time:     time.Now().UTC(),
		Changed:  len(up.Plan) > 0 || len(up.Recovered) > 0,
		Failed:   runErr != nil,
		DryRun:   up.DryRun,
		ExitCode: fault.ExitCode(runErr),
		Error:    up.Error,
		Steps:    steps(up),
	}
	for _, s := range ev.Steps {
		switch s.Result {
		case orchestrator.ResultUpgraded:
			ev.Upgraded++
		case orchestrator.ResultRolledBack:
			ev.RolledBack++
		}
	}
	ev.Summary = upgradeSummary(ev)
	ev.SetReport(up)
	return ev.WithStatus()
}

// WithStatus sets Status from Failed, Changed and DryRun.
func (ev Event) WithStatus() Event {
	switch {
	case ev.Failed:
		ev.Status = StatusFailed
	case ev.Changed && ev.DryRun:
		ev.Status = StatusWouldChange
	case ev.Changed:
		ev.Status = StatusChanged
	default:
		ev.Status = StatusUnchanged
	}
	return ev
}

// SetReport makes v (the command's JSON report) the event's Report, and
// what --notify-url POSTs: v's JSON, byte for byte as json.Marshal gives it.
func (ev *Event) SetReport(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(fmt.Sprintf(`{"error":%q}`, "encode the report: "+err.Error()))
	}
	ev.reportJSON = data
	ev.Report = map[string]any{}
	_ = json.Unmarshal(data, &ev.Report)
}

// ReportJSON is the report as --notify-url POSTs it.
func (ev Event) ReportJSON() []byte { return ev.reportJSON }

func steps(up report.Upgrade) []Step {
	var out []Step
	if len(up.Results) > 0 {
		for _, r := range up.Results {
			s := stepOf(r.Step)
			s.Result, s.Error = r.Result, r.Error
			if r.Interrupted {
				s.Result = ResultNotRun
			}
			out = append(out, s)
		}
		return out
	}
	for _, p := range up.Plan {
		s := stepOf(p)
		s.Result = ResultNotRun
		if up.DryRun {
			s.Result = ResultPlanned
		}
		out = append(out, s)
	}
	return out
}

func stepOf(s report.Step) Step {
	ps := plan.Step{From: s.From, To: s.To}
	return Step{Host: s.Host, Container: s.Container, Role: s.Role, From: ps.FromLabel(), To: ps.ToLabel(),
		FromDigest: plan.Abbrev(s.FromDigest), ToDigest: plan.Abbrev(s.ToDigest)}
}

// upgradeSummary counts the results ("2 upgraded, 1 rolled back"), or
// says what a dry run found, and adds the error's first line.
func upgradeSummary(ev Event) string {
	var counts []string
	n := map[string]int{}
	for _, s := range ev.Steps {
		if n[s.Result] == 0 {
			counts = append(counts, s.Result)
		}
		n[s.Result]++
	}
	var parts []string
	for _, r := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n[r], r))
	}
	sum := strings.Join(parts, ", ")
	switch {
	case len(ev.Steps) == 0 && !ev.Failed:
		sum = "nothing to do"
	case ev.DryRun && !ev.Failed:
		sum = "dry run: " + sum + ", nothing was changed"
	}
	if ev.Failed {
		if sum != "" {
			sum += "; "
		}
		sum += "failed: " + report.FirstLine(ev.Error)
	}
	return sum
}
