package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/internal/announce"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/urfave/cli/v2"
)

// probeOptions are the probe sidecar's checks.
type probeOptions struct {
	tcp, http []string
	out       io.Writer
	// serve answers a request line on in with one line ("ok" or "fail
	// REASON") until in ends: one sidecar for a whole health gate.
	serve bool
	// dial (with serve): each request names its own check and is answered
	// with its ID, as soon as it is done (serveDial).
	dial bool
	in   io.Reader
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
			&cli.BoolFlag{Name: "dial", Usage: "with --serve: each line is \"ID --tcp HOST:PORT\" or \"ID --http HOST:PORT/PATH\", answered \"ID ok\", \"ID fail REASON\" or \"ID unreachable REASON\", many at once (the engine's probe dialer)"},
			// Why not --announce: that is the upgrade's policy flag (auto, on, off).
			&cli.BoolFlag{Name: "announce-addresses", Usage: "first broadcast a gratuitous ARP for each IPv4 address here (needs CAP_NET_RAW); say so on stderr"},
		},
		Action: func(c *cli.Context) error {
			return runProbe(c.Context, probeOptions{tcp: c.StringSlice("tcp"), http: c.StringSlice("http"), out: e.stdout,
				serve: c.Bool("serve"), dial: c.Bool("dial"), in: os.Stdin, announce: c.Bool("announce-addresses"), errOut: e.stderr})
		},
	}
}

// runProbe runs the checks; their failures are printed on stdout as well
// as returned. With serve it answers requests instead (see probeOptions).
func runProbe(ctx context.Context, o probeOptions) error {
	if o.announce {
		go announceAgain(ctx, announceNow(o))
	}
	if !o.serve {
		if err := fleet.Probe(ctx, o.tcp, o.http); err != nil {
			fmt.Fprintln(o.out, err)
			return err
		}
		return nil
	}
	if o.dial {
		return serveDial(ctx, o)
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

// serveDial answers the engine's probe dialer's requests, each in its own
// goroutine: "ID --tcp HOST:PORT" or "ID --http HOST:PORT/PATH", answered
// "ID ok", "ID fail REASON" or "ID unreachable REASON" (the address could
// not be reached at all from here).
func serveDial(ctx context.Context, o probeOptions) error {
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(o.out, format+"\n", a...)
	}
	say("ready")
	var wg sync.WaitGroup
	sc := bufio.NewScanner(o.in)
	for sc.Scan() {
		id, kind, addr := splitDial(sc.Text())
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k health.Check
			switch kind {
			case "--tcp":
			case "--http":
				var path string
				addr, path, _ = strings.Cut(addr, "/")
				k.Path = "/" + path
			default:
				say("%s fail bad request %q", id, kind)
				return
			}
			err := health.CheckAddr(ctx, addr, k)
			switch {
			case err == nil:
				say("%s ok", id)
			case health.Unreachable(err):
				say("%s unreachable %s", id, oneLine(err))
			default:
				say("%s fail %s", id, oneLine(err))
			}
		}()
	}
	wg.Wait()
	return nil
}

// splitDial splits a dialer request line into its ID, kind and address.
func splitDial(line string) (id, kind, addr string) {
	f := strings.Fields(line)
	for len(f) < 3 {
		f = append(f, "")
	}
	return f[0], f[1], f[2]
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// announceNow announces the namespace's IPv4 addresses and says on stderr
// which (say) or why it could not. Why a failed announcement is no
// failure: it only speeds up the clients' return; the probes still say
// whether the service answers. It returns its own resend.
//
// A failure is said once, whatever the resends: an engine that refuses
// packet sockets (a seccomp profile, a dropped CAP_NET_RAW) refuses each.
func announceNow(o probeOptions) func(say bool) {
	var said string
	send := func(say bool) {
		ts, err := announce.Targets()
		if err == nil {
			err = announce.Send(ts)
		}
		if o.errOut == nil {
			return
		}
		if err != nil {
			if msg := err.Error(); msg != said {
				said = msg
				fmt.Fprintf(o.errOut, "not announced (the gate goes on; --announce off stops trying): %v\n", err)
			}
			return
		}
		for _, t := range ts {
			if say {
				fmt.Fprintf(o.errOut, "announced %s on %s\n", t.IP, t.Name)
			}
		}
	}
	send(true)
	return send
}

// announceAgain resends. Why: the bridge port of a veth that just came up
// may not forward yet; Docker 28, which announces itself, resends too.
func announceAgain(ctx context.Context, send func(bool)) {
	start := time.Now()
	for _, d := range []time.Duration{200 * time.Millisecond, time.Second} {
		t := time.NewTimer(time.Until(start.Add(d)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			send(false)
		}
	}
}
