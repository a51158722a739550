package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// StatusTable writes `tarsup status`'s table.
func StatusTable(w io.Writer, rows []orchestrator.StatusRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// Why a NOTE column only when needed: it flags interrupted upgrades and
	// name clashes; an ordinary table stays as it was.
	// The registration columns likewise: only where a database answered.
	notes, reg := false, false
	for _, r := range rows {
		notes = notes || r.Note != ""
		reg = reg || r.Registration != ""
	}
	header := "HOST\tNAME\tROLE\tIMAGE\tDIGEST\tVERSION\tUPDATE\tSTATE\tHEALTH\tREBUILD\tIPS"
	if reg {
		header += "\tREGISTRATION\tLAST HEARTBEAT"
	}
	if notes {
		header += "\tNOTE"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		role := r.Role
		if r.Slave {
			role += " (slave)"
		}
		rebuild := "false"
		if r.Rebuild {
			rebuild = "TRUE"
		}
		update := r.Update
		if update == "" {
			// Not looked up: --offline, or the database.
			update = "-"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.Host, r.Name, role, r.Image, r.Digest, r.Version, update, r.State, r.Health, rebuild, strings.Join(r.IPs, ","))
		if reg {
			line += "\t" + r.Registration + "\t" + r.LastHeartbeat
		}
		if notes {
			line += "\t" + r.Note
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// Recoveries writes what `tarsup recover` did: JSON (an empty list when
// nothing was to recover) or one line per container.
func Recoveries(w io.Writer, format string, all []plan.Recovery) error {
	if format == "json" {
		if all == nil {
			all = []plan.Recovery{}
		}
		return WriteJSON(w, all)
	}
	for _, r := range all {
		fmt.Fprintf(w, "%s on %s: %s: %s\n", r.Name, r.Host, r.Action, r.Result)
	}
	if len(all) == 0 {
		fmt.Fprintln(w, "nothing to recover")
	}
	return nil
}
