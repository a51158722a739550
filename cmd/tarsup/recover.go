package main

import (
	"context"
	"io"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/report"
	"github.com/urfave/cli/v2"
)

// recoverOptions are `tarsup recover`'s inputs.
type recoverOptions struct {
	fleet  fleet.Config
	format string
	out    io.Writer
}

func recoverCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "recover",
		Usage: "finish or undo upgrades that were interrupted (tarsup killed, machine rebooted, engine restarted)",
		Flags: append(append(connFlags(), execFlags()...),
			&cli.BoolFlag{Name: "force", Usage: "take over an engine lock that another tarsup may still hold (on another machine, less than 30 minutes old)"}),
		Action: func(c *cli.Context) error {
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			return runRecover(c.Context, recoverOptions{fleet: cfg, format: c.String("format"), out: e.stdout})
		},
	}
}

// runRecover recovers every engine and reports what it did, also when an
// engine failed (its error is returned after the report).
func runRecover(ctx context.Context, o recoverOptions) error {
	return fleet.Recover(ctx, o.fleet, func(all []orchestrator.Recovery) error {
		return report.Recoveries(o.out, o.format, all)
	})
}
