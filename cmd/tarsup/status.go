package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "list the Tars containers on every engine: role, image, version, state, health, REBUILD",
		Flags: append(connFlags(),
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
		),
		Action: func(c *cli.Context) error {
			format := c.String("format")
			hosts, prober, err := connect(c.Context, c, e)
			if err != nil {
				return err
			}
			defer orchestrator.CloseAll(hosts)
			states, err := orchestrator.ObserveAll(c.Context, hosts)
			if err != nil {
				return err
			}
			rows := orchestrator.Status(c.Context, prober, states)
			if format == "json" {
				return writeJSON(e.stdout, rows)
			}
			return statusTable(e.stdout, rows)
		},
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

func statusTable(w io.Writer, rows []orchestrator.StatusRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// Why a NOTE column only when needed: it flags interrupted upgrades and
	// name clashes; an ordinary table stays as it was.
	notes := false
	for _, r := range rows {
		notes = notes || r.Note != ""
	}
	header := "HOST\tNAME\tROLE\tIMAGE\tDIGEST\tVERSION\tSTATE\tHEALTH\tREBUILD\tIPS"
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
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.Host, r.Name, role, r.Image, r.Digest, r.Version, r.State, r.Health, rebuild, strings.Join(r.IPs, ","))
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
