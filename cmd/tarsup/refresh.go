package main

import (
	"context"
	"io"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/refresh"
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

// refreshOptions are `tarsup refresh`'s inputs.
type refreshOptions struct {
	refresh refresh.Config
	// lock is the run lock's file; getenv reads the environment its
	// default place depends on.
	lock   string
	getenv func(string) string
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
			cfg, err := refreshConfig(c, e)
			if err != nil {
				return err
			}
			if cfg.Notifier, err = newNotifier(c, e); err != nil {
				return err
			}
			return runRefresh(c.Context, refreshOptions{refresh: cfg, lock: c.String("lock"), getenv: e.getenv})
		},
	}
}

func runRefresh(ctx context.Context, o refreshOptions) error {
	_, err := refresh.Once(ctx, o.refresh, o.lock, o.getenv)
	return err
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

// refreshConfig sets up logging, checks the refresh flags and reads them
// with the connection and executor flags (refresh and watch).
func refreshConfig(c *cli.Context, e *env) (refresh.Config, error) {
	if err := setupLog(c, e); err != nil {
		return refresh.Config{}, err
	}
	if err := checkRefreshFlags(c); err != nil {
		return refresh.Config{}, err
	}
	fc, err := fleetConfig(c, e)
	if err != nil {
		return refresh.Config{}, err
	}
	progress := io.Discard
	if c.String("format") == "text" && e.stdoutTTY {
		progress = e.stdout
	}
	return refresh.Config{
		Fleet: fc, Format: c.String("format"), Out: e.stdout,
		Refresh: orchestrator.RefreshOptions{
			Registry:    registryOf(c, e),
			Only:        c.StringSlice("only"),
			ToLatest:    c.Bool("to-latest"),
			AnyMajor:    c.Bool("any-major"),
			MonitorOnly: c.Bool("monitor-only") || c.Bool("dry-run"),
			Upgrade: orchestrator.UpgradeOptions{
				Request:  plan.Request{AllowIPChange: c.Bool("allow-ip-change")},
				Parallel: c.Int("parallel"),
				Progress: progress,
				TTY:      e.stdoutTTY,
			},
		},
	}, nil
}
