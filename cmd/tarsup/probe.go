package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tarsup/tarsup/fleet"
	"github.com/urfave/cli/v2"
)

// probeOptions are the probe sidecar's checks.
type probeOptions struct {
	tcp, http []string
	out       io.Writer
}

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
			return runProbe(c.Context, probeOptions{tcp: c.StringSlice("tcp"), http: c.StringSlice("http"), out: e.stdout})
		},
	}
}

// runProbe runs the checks; their failures are printed on stdout as well
// as returned.
func runProbe(ctx context.Context, o probeOptions) error {
	if err := fleet.Probe(ctx, o.tcp, o.http); err != nil {
		fmt.Fprintln(o.out, err)
		return err
	}
	return nil
}
