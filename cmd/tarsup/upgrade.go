package main

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/notify"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
	"github.com/urfave/cli/v2"
)

// execFlags are the flags of every command that recreates containers.
func execFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "health-timeout", Value: health.DefaultHealthTimeout, Usage: "how long a new container may take to become healthy (a real framework waits for MySQL and restarts every service)"},
		&cli.DurationFlag{Name: "monitor", Value: health.DefaultMonitor, Usage: "how long a new container must then stay up and healthy"},
		&cli.DurationFlag{Name: "stop-timeout", Value: 30 * time.Second, Usage: "how long a container gets to stop before it is killed, unless it sets its own"},
		&cli.BoolFlag{Name: "no-rollback", Usage: "leave a failed new container for inspection instead of rolling back"},
		&cli.BoolFlag{Name: "cleanup", Usage: "remove the old image once no container uses it"},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
		&cli.DurationFlag{Name: "lock-wait", Value: 0, Usage: "how long to wait while another tarsup holds an engine's lock (default: give up at once, exit 3)"},
	}
}

// upgradeFlags are upgrade's own flags; refresh and compose upgrade reuse them.
func upgradeFlags() []cli.Flag {
	return slices.Concat(execFlags(), []cli.Flag{
		&cli.StringFlag{Name: "to", Usage: "move every framework container to `TAG` in its own repository"},
		&cli.StringFlag{Name: "framework-image", Usage: "run the framework containers from this image `REF`"},
		&cli.StringFlag{Name: "node-image", Usage: "run the node containers from this image `REF`"},
		&cli.StringSliceFlag{Name: "only", Usage: "limit the work to these container `NAME`s (repeatable)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing"},
		&cli.IntFlag{Name: "parallel", Value: 1, Usage: "how many nodes to recreate at once"},
		&cli.IntFlag{Name: "max-failures", Value: 0, Usage: "once more nodes than this failed (and were rolled back), start no new one"},
		&cli.DurationFlag{Name: "register-timeout", Value: orchestrator.DefaultRegisterTimeout, Usage: "how long each node that was active in db_tars.t_node_info may take to be active again, at the same IP and heartbeating, after the framework steps and after the node steps; one that is not is restarted once and waited for as long again, then named (exit 1). 0 turns the check off; other values must be at least 10s. Given explicitly, a deployment whose database cannot be read fails the pre-flight (exit 2)"},
		&cli.BoolFlag{Name: "allow-ip-change", Usage: "recreate containers whose address cannot be kept (default bridge; a network without a configured subnet on an old engine) with a new one (refused otherwise: Tars records IPs)"},
	}, hookFlags(), registryFlags(), notifyFlags(), backupFlags())
}

// upgradeOptions are `tarsup upgrade`'s inputs.
type upgradeOptions struct {
	fleet   fleet.Config
	upgrade orchestrator.UpgradeOptions
	format  string
	out     io.Writer
	// notifier receives the run's event; nil sends nothing.
	notifier *notify.Notifier
}

func upgradeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "pull the new images and recreate the Tars containers, master first, then the other framework hosts, then the nodes",
		UsageText: "tarsup upgrade [--host URL]... [--to TAG] [--framework-image REF] [--node-image REF] [--only NAME]... [--dry-run] [...]",
		Flags:     append(connFlags(), upgradeFlags()...),
		Action: func(c *cli.Context) error {
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			n, err := newNotifier(c, e)
			if err != nil {
				return err
			}
			req := plan.Request{
				To:             c.String("to"),
				FrameworkImage: c.String("framework-image"),
				NodeImage:      c.String("node-image"),
				Only:           c.StringSlice("only"),
				AllowIPChange:  c.Bool("allow-ip-change"),
			}
			progress := io.Discard
			if c.String("format") == "text" {
				progress = e.stdout
			}
			up := orchestrator.UpgradeOptions{Request: req, DryRun: c.Bool("dry-run"), Parallel: c.Int("parallel"), Progress: progress, TTY: e.stdoutTTY,
				Registry: registryOf(c, e)}
			return runUpgrade(c.Context, upgradeOptions{fleet: cfg, upgrade: up, format: c.String("format"), out: e.stdout, notifier: n})
		},
	}
}

// runUpgrade upgrades and writes the report, also of a failed run, then
// notifies. A failed notification is logged and leaves the exit code be.
func runUpgrade(ctx context.Context, o upgradeOptions) error {
	rep, err := fleet.Upgrade(ctx, o.fleet, o.upgrade)
	werr := report.WriteUpgrade(o.out, o.format, o.upgrade.DryRun, rep, err)
	_ = o.notifier.Notify(ctx, notify.UpgradeEvent("upgrade", report.UpgradeOf(o.upgrade.DryRun, rep), err))
	if werr != nil {
		return werr
	}
	return err
}

// execOptions reads the executor's flags.
func execOptions(c *cli.Context, e *env, prober *health.Prober, report func(orchestrator.Event)) (orchestrator.ExecOptions, error) {
	// The flags' values were checked before the command ran (checkFlags).
	snaps, err := snapshots(c, e)
	if err != nil {
		return orchestrator.ExecOptions{}, err
	}
	return orchestrator.ExecOptions{
		Gate:        health.Gate{Prober: prober, Timeout: c.Duration("health-timeout"), Monitor: c.Duration("monitor")},
		StopTimeout: c.Duration("stop-timeout"),
		NoRollback:  c.Bool("no-rollback"),
		Cleanup:     c.Bool("cleanup"),
		MaxFailures: c.Int("max-failures"),
		LockWait:    c.Duration("lock-wait"),
		Report:      report,
		// Why IsSet: the operator who names the timeout asks for the
		// check, so a database that cannot be read is an error then.
		RegisterTimeout:  c.Duration("register-timeout"),
		RegisterRequired: c.IsSet("register-timeout") && c.Duration("register-timeout") > 0,
		Hooks:            hookPolicy(c),
		Log:              e.log,
		Snapshots:        snaps,
		Announce:         c.String("announce"),
	}, nil
}

// eventPrinter prints one line per event as it happens: to stdout for text
// output, to the log for JSON output (stdout then carries only the report).
func eventPrinter(c *cli.Context, e *env) func(orchestrator.Event) {
	return report.Events(c.String("format"), e.stdout, e.log)
}

// writeUpgradeReport writes an upgrade's report (report.WriteUpgrade).
func writeUpgradeReport(w io.Writer, format string, dryRun bool, rep orchestrator.UpgradeReport, runErr error) error {
	return report.WriteUpgrade(w, format, dryRun, rep, runErr)
}
