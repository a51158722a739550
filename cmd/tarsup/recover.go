package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

func recoverCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "recover",
		Usage: "finish or undo upgrades that were interrupted (tarsup killed, machine rebooted, engine restarted)",
		Flags: append(append(connFlags(), execFlags()...),
			&cli.BoolFlag{Name: "force", Usage: "take over an engine lock that another tarsup may still hold (on another machine, less than 30 minutes old)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the planned recovery and change nothing (takes no lock)"}),
		Action: func(c *cli.Context) error {
			s, closeSession, err := openSession(c, e, !c.Bool("dry-run"))
			if err != nil {
				return err
			}
			defer closeSession()
			if c.Bool("dry-run") {
				return printRecoveryPlan(c, e, s)
			}
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

// printRecoveryPlan prints what `recover` would do on every engine, as text
// or JSON (the keys of a recovery's report; each result says "would: …").
func printRecoveryPlan(c *cli.Context, e *env, s *session) error {
	all := []orchestrator.Recovery{}
	var text strings.Builder
	for _, h := range s.hosts {
		p, err := s.x.PlanRecover(c.Context, h)
		if err != nil {
			return err
		}
		all = append(all, p.Recoveries()...)
		text.WriteString(p.String())
	}
	if c.String("format") == "json" {
		return writeJSON(e.stdout, all)
	}
	if len(all) == 0 {
		text.WriteString("nothing to recover\n")
	}
	_, err := fmt.Fprint(e.stdout, text.String())
	return err
}
