package main

import (
	"errors"
	"fmt"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

func recoverCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "recover",
		Usage: "finish or undo upgrades that were interrupted (tarsup killed, machine rebooted, engine restarted)",
		Flags: append(append(connFlags(), execFlags()...),
			&cli.BoolFlag{Name: "force", Usage: "take over an engine lock that another tarsup may still hold (on another machine, less than 30 minutes old)"}),
		Action: func(c *cli.Context) error {
			s, closeSession, err := openSession(c, e, true)
			if err != nil {
				return err
			}
			defer closeSession()
			var all []orchestrator.Recovery
			var errs []error
			for _, h := range s.hosts {
				rec, err := s.x.Recover(c.Context, h)
				all = append(all, rec...)
				if err != nil {
					errs = append(errs, err)
				}
			}
			if c.String("format") == "json" {
				if all == nil {
					all = []orchestrator.Recovery{}
				}
				if err := writeJSON(e.stdout, all); err != nil {
					return err
				}
			} else {
				for _, r := range all {
					fmt.Fprintf(e.stdout, "%s on %s: %s: %s\n", r.Name, r.Host, r.Action, r.Result)
				}
				if len(all) == 0 {
					fmt.Fprintln(e.stdout, "nothing to recover")
				}
			}
			return errors.Join(errs...)
		},
	}
}
