package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/internal/announce"
	"github.com/urfave/cli/v2"
)

// probeOptions are the probe sidecar's checks.
type probeOptions struct {
	tcp, http []string
	out       io.Writer
	// serve answers a request line on in with one line ("ok" or "fail
	// REASON") until in ends: one sidecar for a whole health gate.
	serve bool
	in    io.Reader
	// announce broadcasts the namespace's IPv4 addresses (gratuitous ARP)
	// first, and again shortly after.
	announce bool
	errOut   io.Writer
}

// probeCommand is what the probe sidecar runs inside a container's network
// namespace: `tarsup probe --tcp 127.0.0.1:17890 --http 127.0.0.1:3000/get_tarsnode`,
// once, or with --serve for every request of a health gate.
func probeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "probe",
		Usage:  "run Tars probes from here (used by the probe sidecar)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tcp", Usage: "HOST:PORT that must accept a TCP connection"},
			&cli.StringSliceFlag{Name: "http", Usage: "HOST:PORT/PATH that must answer 200 to a GET"},
			&cli.BoolFlag{Name: "serve", Usage: "print \"ready\", then run the checks once per line read on stdin and answer each with one line (\"ok\" or \"fail REASON\"), until stdin ends"},
			// Why not --announce: that is the upgrade's policy flag (auto, on, off).
			&cli.BoolFlag{Name: "announce-addresses", Usage: "first broadcast a gratuitous ARP for each IPv4 address here (needs CAP_NET_RAW); say so on stderr"},
		},
		Action: func(c *cli.Context) error {
			return runProbe(c.Context, probeOptions{tcp: c.StringSlice("tcp"), http: c.StringSlice("http"), out: e.stdout,
				serve: c.Bool("serve"), in: os.Stdin, announce: c.Bool("announce-addresses"), errOut: e.stderr})
		},
	}
}

// runProbe runs the checks; their failures are printed on stdout as well
// as returned. With serve it answers requests instead (see probeOptions).
func runProbe(ctx context.Context, o probeOptions) error {
	if o.announce {
		// Why a failed announcement is no failure: it only speeds up the
		// clients' return; the probes still say whether the service answers.
		send := func(say bool) {
			ts, err := announce.Targets()
			if err == nil {
				err = announce.Send(ts)
			}
			if o.errOut == nil {
				return
			}
			if err != nil {
				fmt.Fprintln(o.errOut, err)
				return
			}
			for _, t := range ts {
				if say {
					fmt.Fprintf(o.errOut, "announced %s on %s\n", t.IP, t.Name)
				}
			}
		}
		send(true)
		// Why resend: the bridge port of a veth that just came up may not
		// forward yet; Docker 28, which announces itself, resends too.
		announceAgain := []time.Duration{200 * time.Millisecond, time.Second}
		go func() {
			start := time.Now()
			for _, d := range announceAgain {
				t := time.NewTimer(time.Until(start.Add(d)))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
					send(false)
				}
			}
		}()
	}
	if !o.serve {
		if err := fleet.Probe(ctx, o.tcp, o.http); err != nil {
			fmt.Fprintln(o.out, err)
			return err
		}
		return nil
	}
	fmt.Fprintln(o.out, "ready")
	sc := bufio.NewScanner(o.in)
	for sc.Scan() {
		if err := fleet.Probe(ctx, o.tcp, o.http); err != nil {
			fmt.Fprintln(o.out, "fail "+strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		fmt.Fprintln(o.out, "ok")
	}
	// Why no error at the end of stdin: that is how tarsup ends the gate
	// (or how the engine tells the sidecar that tarsup is gone).
	return nil
}
