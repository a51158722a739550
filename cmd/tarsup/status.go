package main

import (
	"context"
	"io"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/report"
	"github.com/urfave/cli/v2"
)

// statusOptions are `tarsup status`'s inputs.
type statusOptions struct {
	fleet  fleet.Config
	format string // table or json
	out    io.Writer
}

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "list the Tars containers on every engine: role, image, version, state, health, REBUILD",
		Flags: append(connFlags(),
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			return runStatus(c.Context, statusOptions{fleet: cfg, format: c.String("format"), out: e.stdout})
		},
	}
}

func runStatus(ctx context.Context, o statusOptions) error {
	rows, err := fleet.Status(ctx, o.fleet)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return report.WriteJSON(o.out, rows)
	}
	return report.StatusTable(o.out, rows)
}

// writeJSON writes v indented, as every --format json does.
func writeJSON(w io.Writer, v any) error { return report.WriteJSON(w, v) }
