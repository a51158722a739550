package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

// refreshFlags are refresh's own flags; watch takes them too.
func refreshFlags() []cli.Flag {
	return append(upgradeFlags(),
		&cli.BoolFlag{Name: "monitor-only", Usage: "report what would change (the plan) and change nothing: no pull, no container touched; exit 0 (see the README)"},
		&cli.BoolFlag{Name: "to-latest", Usage: "also move the framework to the newest release tag in its repository (vX.Y.Z, pre-releases ignored, same major version)"},
		&cli.BoolFlag{Name: "any-major", Usage: "with --to-latest, allow a newer major version"},
		&cli.StringFlag{Name: "lock", Usage: "run lock `FILE` (default /run/lock/tarsup.lock, else $XDG_RUNTIME_DIR/tarsup.lock, else $TMPDIR/tarsup.lock)"},
	)
}

func refreshCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "refresh",
		Usage: "recreate the Tars containers whose tag moved in the registry (manifest HEADs only; nothing is pulled when nothing moved); for cron",
		UsageText: "tarsup refresh [--host URL]... [--monitor-only] [--to-latest [--any-major]] [--lock FILE] [--only NAME]... [the upgrade flags]\n\n" +
			"   exit codes: 0 done, nothing moved, or --monitor-only; 1 an upgrade failed (rolled back); 2 bad input, unreachable\n" +
			"   engine or registry, or another run holds the lock: nothing changed; 3 refused by a safety rule: nothing changed",
		Flags: append(connFlags(), refreshFlags()...),
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if err := checkRefreshFlags(c); err != nil {
				return err
			}
			// Why the lock before connecting: a second run must exit at once,
			// even when an engine is slow to answer.
			lock, err := orchestrator.AcquireLock(c.String("lock"), e.getenv)
			if err != nil {
				return err
			}
			defer func() {
				if err := lock.Release(); err != nil {
					e.log.Warn(err)
				}
			}()
			e.log.WithField("lock", lock.Path).Debug("run lock held")
			r, err := newRefresher(c, e)
			if err != nil {
				return err
			}
			defer r.close()
			_, err = r.run(c.Context)
			return err
		},
	}
}

// checkRefreshFlags rejects the upgrade flags that name targets: a refresh
// follows each container's own tag.
func checkRefreshFlags(c *cli.Context) error {
	for _, f := range []string{"to", "framework-image", "node-image"} {
		if c.IsSet(f) {
			return usagef("--%s does not go with %s: it follows each container's own tag (use --to-latest for the newest framework release, or tarsup upgrade --%s)", f, c.Command.Name, f)
		}
	}
	if c.Bool("any-major") && !c.Bool("to-latest") {
		return usagef("--any-major needs --to-latest")
	}
	return nil
}

// refresher runs refreshes against engines it stays connected to: once for
// `refresh`, on every turn for `watch`.
type refresher struct {
	e      *env
	hosts  []*orchestrator.Host
	prober *orchestrator.Prober
	x      *orchestrator.Executor
	opts   orchestrator.RefreshOptions
	format string
	// out receives the reports (stdout).
	out io.Writer
}

// newRefresher reads the flags and connects to every engine.
func newRefresher(c *cli.Context, e *env) (*refresher, error) {
	hosts, prober, err := connect(c.Context, c, e)
	if err != nil {
		return nil, err
	}
	execOpts, err := execOptions(c, e, prober, eventPrinter(c, e))
	if err != nil {
		orchestrator.CloseAll(hosts)
		return nil, err
	}
	progress := io.Discard
	if c.String("format") == "text" && e.stdoutTTY {
		progress = e.stdout
	}
	monitorOnly := c.Bool("monitor-only") || c.Bool("dry-run")
	return &refresher{
		e:      e,
		hosts:  hosts,
		prober: prober,
		x:      orchestrator.NewExecutor(hosts, execOpts),
		format: c.String("format"),
		out:    e.stdout,
		opts: orchestrator.RefreshOptions{
			Registry:    &images.Registry{},
			Only:        c.StringSlice("only"),
			ToLatest:    c.Bool("to-latest"),
			AnyMajor:    c.Bool("any-major"),
			MonitorOnly: monitorOnly,
			Upgrade: orchestrator.UpgradeOptions{
				Request:  orchestrator.Request{AllowIPChange: c.Bool("allow-ip-change")},
				Parallel: c.Int("parallel"),
				Progress: progress,
				TTY:      e.stdoutTTY,
			},
		},
	}, nil
}

func (r *refresher) close() { orchestrator.CloseAll(r.hosts) }

// run refreshes once and writes its report: in text, the summary line first
// (the only line when nothing moved), then what happens; in JSON, one line.
func (r *refresher) run(ctx context.Context) (refreshJSON, error) {
	opts := r.opts
	multiHost := len(r.hosts) > 1
	if r.format == "text" {
		opts.Checked = func(c orchestrator.RefreshCheck) { writeCheck(r.out, c, multiHost) }
	}
	start := time.Now()
	rep, err := orchestrator.Refresh(ctx, r.hosts, r.x, opts)
	if rep.Upgrade == nil || opts.MonitorOnly {
		for _, h := range rep.PendingRecovery {
			r.e.log.WithField("host", h).Warn("an upgrade is under way or was interrupted on this engine: refresh left it alone; if no other tarsup is running, run tarsup recover")
		}
	}
	out := newRefreshJSON(start, opts.MonitorOnly, rep, err)
	r.e.log.WithFields(logrus.Fields{"checked": out.Checked, "tags": out.Tags, "moved": len(out.Moved), "upgraded": out.Upgraded,
		"rolled_back": out.RolledBack, "seconds": time.Since(start).Seconds()}).Debug("refresh done")
	var werr error
	if r.format == "json" {
		werr = writeCompactJSON(r.out, out)
	} else {
		werr = writeRefreshText(r.out, rep, opts.MonitorOnly, err)
	}
	if err != nil {
		return out, err
	}
	return out, werr
}

// writeCheck prints the summary line and one line per container that moved
// or that could not be compared.
func writeCheck(w io.Writer, c orchestrator.RefreshCheck, withHost bool) {
	fmt.Fprintln(w, c.Summary())
	for _, m := range c.Moved {
		fmt.Fprintln(w, "  "+m.Line(withHost))
	}
	for _, u := range c.Unchecked {
		fmt.Fprintf(w, "  %s on %s: not compared: %s\n", u.Name, u.Host, u.Reason)
	}
}

// writeRefreshText prints what followed the check: recoveries and the
// upgrade's summary table, or with monitorOnly the plan that would run.
func writeRefreshText(w io.Writer, rep orchestrator.RefreshReport, monitorOnly bool, runErr error) error {
	for _, rc := range rep.Recovered {
		fmt.Fprintf(w, "recovered %s on %s: %s: %s\n", rc.Name, rc.Host, rc.Action, rc.Result)
	}
	if rep.Upgrade == nil {
		return nil
	}
	if monitorOnly {
		if runErr != nil {
			return nil
		}
		fmt.Fprint(w, "would run:\n"+rep.Upgrade.Plan.String())
		fmt.Fprintln(w, "monitor only: nothing was changed")
		return nil
	}
	return writeUpgradeReport(w, "text", false, *rep.Upgrade, runErr)
}

// refreshJSON is the machine report of a refresh: `refresh --format json`
// prints it as one line, watch's --notify-url receives it. Its keys are a
// promise to operators' scripts: add, don't rename.
type refreshJSON struct {
	Time        time.Time `json:"time"`
	Seconds     float64   `json:"seconds"`
	Success     bool      `json:"success"`
	MonitorOnly bool      `json:"monitor_only"`
	// Changed is true when containers were recreated or recovered (with
	// monitor_only: would be recreated).
	Changed bool   `json:"changed"`
	Summary string `json:"summary"`
	orchestrator.RefreshCheck
	PendingRecovery []string                `json:"pending_recovery,omitempty"`
	Recovered       []orchestrator.Recovery `json:"recovered,omitempty"`
	Upgraded        int                     `json:"upgraded"`
	RolledBack      int                     `json:"rolled_back"`
	Upgrade         *upgradeJSON            `json:"upgrade,omitempty"`
	Error           string                  `json:"error,omitempty"`
}

func newRefreshJSON(start time.Time, monitorOnly bool, rep orchestrator.RefreshReport, err error) refreshJSON {
	out := refreshJSON{
		Time:            start.UTC(),
		Seconds:         time.Since(start).Seconds(),
		Success:         err == nil,
		MonitorOnly:     monitorOnly,
		Changed:         rep.Changed(),
		Summary:         rep.Check.Summary(),
		RefreshCheck:    rep.Check,
		PendingRecovery: rep.PendingRecovery,
		Recovered:       rep.Recovered,
	}
	if out.Moved == nil {
		out.Moved = []orchestrator.Moved{}
	}
	if err != nil {
		out.Error = err.Error()
		out.Summary += "; failed: " + firstLine(out.Error)
	}
	if up := rep.Upgrade; up != nil {
		uj := upgradeToJSON(monitorOnly, *up)
		for _, res := range up.Results {
			switch res.Result {
			case orchestrator.ResultUpgraded:
				out.Upgraded++
			case orchestrator.ResultRolledBack:
				out.RolledBack++
			}
		}
		out.Upgrade = &uj
	}
	return out
}

// writeCompactJSON writes v as one line.
func writeCompactJSON(w io.Writer, v any) error {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
