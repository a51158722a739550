package main

import (
	"fmt"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

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
			s, closeSession, err := openSession(c, e, true)
			if err != nil {
				return err
			}
			defer closeSession()
			states, err := orchestrator.ObserveAll(c.Context, s.hosts)
			if err != nil {
				return err
			}
			// Find every target first: a bad name changes nothing.
			var targets []orchestrator.RollbackTarget
			for _, name := range c.Args().Slice() {
				t, err := orchestrator.FindRollback(states, name)
				if err != nil {
					return err
				}
				targets = append(targets, t)
			}
			for _, t := range targets {
				if _, err := orchestrator.Rollback(c.Context, s.x, t, nil); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s on %s: rolled back to %s\n", t.Container.Name, t.Host.Name(), t.Previous.Image)
			}
			return nil
		},
	}
}
