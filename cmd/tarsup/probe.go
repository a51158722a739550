package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

// probeCommand is what the probe sidecar runs inside a container's network
// namespace: `tarsup probe --tcp 127.0.0.1:17890 --http 127.0.0.1:3000/get_tarsnode`.
func probeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "probe",
		Usage:  "run Tars probes from here (used by the probe sidecar)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tcp", Usage: "HOST:PORT that must accept a TCP connection"},
			&cli.StringSliceFlag{Name: "http", Usage: "HOST:PORT/PATH that must answer 200 to a GET"},
		},
		Action: func(c *cli.Context) error {
			var errs []error
			for _, a := range c.StringSlice("tcp") {
				if err := orchestrator.CheckAddr(c.Context, a, orchestrator.Check{}); err != nil {
					errs = append(errs, err)
				}
			}
			for _, u := range c.StringSlice("http") {
				addr, path, _ := strings.Cut(u, "/")
				if err := orchestrator.CheckAddr(c.Context, addr, orchestrator.Check{Path: "/" + path}); err != nil {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				fmt.Fprintln(e.stdout, err)
				return err
			}
			return nil
		},
	}
}
