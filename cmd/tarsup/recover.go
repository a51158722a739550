package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
	"github.com/urfave/cli/v2"
)

// recoverOptions are `tarsup recover`'s inputs.
type recoverOptions struct {
	fleet  fleet.Config
	dryRun bool
	format string
	out    io.Writer
}

func recoverCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "recover",
		Usage: "finish or undo upgrades that were interrupted (tarsup killed, machine rebooted, engine restarted)",
		Flags: append(append(connFlags(), execFlags()...),
			&cli.BoolFlag{Name: "force", Usage: "take over an engine lock that another tarsup may still hold (on another machine, less than 30 minutes old)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the planned recovery and change nothing (it takes no lock, and says so when another tarsup holds one)"}),
		Action: func(c *cli.Context) error {
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			o := recoverOptions{fleet: cfg, dryRun: c.Bool("dry-run"), format: c.String("format"), out: e.stdout}
			if o.dryRun {
				return runRecoverPlan(c.Context, o)
			}
			return runRecover(c.Context, o)
		},
	}
}

// runRecover recovers every engine and reports what it did, also when an
// engine failed (its error is returned after the report).
func runRecover(ctx context.Context, o recoverOptions) error {
	return fleet.Recover(ctx, o.fleet, func(all []plan.Recovery) error {
		return report.Recoveries(o.out, o.format, all)
	})
}

// runRecoverPlan prints what `recover` would do on every engine, as text
// or JSON (the keys of a recovery's report; each result says "would: …").
func runRecoverPlan(ctx context.Context, o recoverOptions) error {
	plans, err := fleet.PlanRecover(ctx, o.fleet)
	if err != nil {
		return err
	}
	all := []plan.Recovery{}
	var text strings.Builder
	for _, p := range plans {
		all = append(all, p.Recoveries()...)
		text.WriteString(p.String())
	}
	if o.format == "json" {
		return report.WriteJSON(o.out, all)
	}
	if len(all) == 0 {
		text.WriteString("nothing to recover\n")
	}
	_, err = fmt.Fprint(o.out, text.String())
	return err
}
