package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/urfave/cli/v2"
)

// rollbackOptions are `tarsup rollback`'s inputs.
type rollbackOptions struct {
	fleet fleet.Config
	names []string
	out   io.Writer
}

func rollbackCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "put containers back as they were before their last upgrade (image and configuration), through the health gate",
		UsageText: "tarsup rollback [--host URL]... NAME... (flags may also follow the NAMEs)",
		ArgsUsage: "NAME...",
		Flags:     append(connFlags(), execFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("rollback needs the NAME of at least one container")
			}
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			return runRollback(c.Context, rollbackOptions{fleet: cfg, names: c.Args().Slice(), out: e.stdout})
		},
	}
}

func runRollback(ctx context.Context, o rollbackOptions) error {
	return fleet.Rollback(ctx, o.fleet, o.names, func(t plan.RollbackTarget) {
		fmt.Fprintf(o.out, "%s on %s: rolled back to %s\n", t.Container.Name, t.Host, t.Previous.Image)
	})
}
