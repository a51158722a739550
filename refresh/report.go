package refresh

import (
	"fmt"
	"io"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
)

// Report is the machine report of a refresh: `refresh --format json`
// prints it as one line, watch's --notify-url receives it. Its keys are a
// promise to operators' scripts: add, don't rename.
type Report struct {
	Time        time.Time `json:"time"`
	Seconds     float64   `json:"seconds"`
	Success     bool      `json:"success"`
	MonitorOnly bool      `json:"monitor_only"`
	// Changed is true when containers were recreated or recovered (with
	// monitor_only: would be recreated).
	Changed bool   `json:"changed"`
	Summary string `json:"summary"`
	plan.RefreshCheck
	PendingRecovery []string        `json:"pending_recovery,omitempty"`
	Recovered       []plan.Recovery `json:"recovered,omitempty"`
	Upgraded        int             `json:"upgraded"`
	RolledBack      int             `json:"rolled_back"`
	Upgrade         *report.Upgrade `json:"upgrade,omitempty"`
	Error           string          `json:"error,omitempty"`
	// RegistryRetries counts the registry requests the run sent again
	// after a 429 or 5xx (--registry-retries).
	RegistryRetries int `json:"registry_retries"`
	// Updates is every container's update state after the run, and
	// UpdatesAt when it was looked up (Config.Updates: watch's metrics and
	// /v1/status); not in the JSON report.
	Updates   []orchestrator.ContainerUpdate `json:"-"`
	UpdatesAt time.Time                      `json:"-"`
}

// NewReport is the report of a refresh that started at start.
func NewReport(start time.Time, monitorOnly bool, rep orchestrator.RefreshReport, err error) Report {
	out := Report{
		Time:            start.UTC(),
		Seconds:         time.Since(start).Seconds(),
		Success:         err == nil,
		MonitorOnly:     monitorOnly,
		Changed:         rep.Changed(),
		Summary:         rep.Check.Summary(),
		RefreshCheck:    rep.Check,
		PendingRecovery: rep.PendingRecovery,
		Recovered:       rep.Recovered,
	}
	if out.Moved == nil {
		out.Moved = []plan.Moved{}
	}
	if err != nil {
		out.Error = err.Error()
		out.Summary += "; failed: " + report.FirstLine(out.Error)
	}
	if up := rep.Upgrade; up != nil {
		uj := report.UpgradeOf(monitorOnly, *up)
		for _, res := range up.Results {
			switch res.Result {
			case orchestrator.ResultUpgraded:
				out.Upgraded++
			case orchestrator.ResultRolledBack:
				out.RolledBack++
			}
		}
		out.Upgrade = &uj
	}
	return out
}

// WriteCheck prints the summary line and one line per container that moved,
// that is held back by --min-age, or that could not be compared. Outside a
// maintenance window it prints the summary line alone: it says when the
// next window opens, and nothing starts before.
func WriteCheck(w io.Writer, c plan.RefreshCheck, withHost bool) {
	fmt.Fprintln(w, c.Summary())
	if !c.Window.Admits() {
		return
	}
	for _, cl := range c.Cooling {
		fmt.Fprintln(w, "  "+cl.Line(withHost))
	}
	for _, m := range c.Moved {
		fmt.Fprintln(w, "  "+m.Line(withHost))
	}
	for _, u := range c.Unchecked {
		fmt.Fprintf(w, "  %s on %s: not compared: %s\n", u.Name, u.Host, u.Reason)
	}
}

// WriteText prints what followed the check: recoveries and the upgrade's
// summary table, or with monitorOnly the plan that would run.
func WriteText(w io.Writer, rep orchestrator.RefreshReport, monitorOnly bool, runErr error) error {
	report.WriteRecovered(w, rep.Recovered)
	if rep.Upgrade == nil {
		return nil
	}
	if monitorOnly {
		if runErr != nil {
			return nil
		}
		fmt.Fprint(w, "would run:\n"+rep.Upgrade.Plan.String())
		report.WriteRegistrationNotes(w, rep.Upgrade.Registration)
		fmt.Fprintln(w, "monitor only: nothing was changed")
		return nil
	}
	if err := report.WriteUpgrade(w, "text", false, *rep.Upgrade, runErr); err != nil {
		return err
	}
	if line := rep.Check.Window.WaitingLine(); line != "" {
		fmt.Fprintln(w, line)
	}
	return nil
}
