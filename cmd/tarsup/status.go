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
	status fleet.StatusOptions
	format string // table or json
	out    io.Writer
}

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "list the Tars containers on every engine: role, image, version, whether an update is available, state, health, REBUILD",
		UsageText: "tarsup status [--host URL]... [--format table|json] [--only NAME]... [--offline] [--any-major] [--registry-retries N] [--registry-mirror URL]...\n\n" +
			"   UPDATE (JSON \"update\"): none, digest moved, newer tag vX.Y.Z (a framework: the newest release in its major version,\n" +
			"   or any with --any-major), unknown (the registry did not answer, or the image has no digest from it), pinned\n" +
			"   (the container runs an image named by digest: refresh and watch leave it); - with --offline and for the database.\n" +
			"   The look-ups are manifest HEADs, one per repository:tag, and the framework repositories' tag lists.",
		Flags: append(append(connFlags(),
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
			&cli.StringSliceFlag{Name: "only", Usage: "list (probe and look up) only these container `NAME`s (repeatable)"},
			&cli.BoolFlag{Name: "offline", Usage: "ask no registry: the UPDATE column shows - (JSON \"update\": \"\")"},
			&cli.BoolFlag{Name: "any-major", Usage: "a framework's newer tag may be of another major version (as refresh --to-latest --any-major)"},
		), registryFlags()...),
		Action: func(c *cli.Context) error {
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			so := fleet.StatusOptions{Only: c.StringSlice("only"), Offline: c.Bool("offline"), AnyMajor: c.Bool("any-major"), Registry: registryOf(c, e)}
			return runStatus(c.Context, statusOptions{fleet: cfg, status: so, format: c.String("format"), out: e.stdout})
		},
	}
}

func runStatus(ctx context.Context, o statusOptions) error {
	rows, err := fleet.Status(ctx, o.fleet, o.status)
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
