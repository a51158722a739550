package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/refresh"
	"github.com/tarsup/tarsup/window"
	"github.com/urfave/cli/v2"
)

// refreshFlags are refresh's own flags; watch takes them too.
func refreshFlags() []cli.Flag {
	return append(upgradeFlags(),
		&cli.BoolFlag{Name: "monitor-only", Usage: "report what would change (the plan) and change nothing: no pull, no container touched; exit 0 (see the README)"},
		&cli.BoolFlag{Name: "to-latest", Usage: "also move the framework to the newest release tag in its repository (vX.Y.Z, pre-releases ignored, same major version)"},
		&cli.BoolFlag{Name: "any-major", Usage: "with --to-latest, allow a newer major version"},
		&cli.StringFlag{Name: "lock", Usage: "run lock `FILE` (default /run/lock/tarsup.lock, else $XDG_RUNTIME_DIR/tarsup.lock, else $TMPDIR/tarsup.lock)"},
		&cli.GenericFlag{Name: "window", Value: &windowSpecs{}, Usage: "start steps only inside this maintenance window `SPEC` (repeatable), e.g. \"Sat 02:00-05:00\", \"Mon-Fri 01:00-03:00\", " +
			"\"daily 23:00-01:00\", \"CRON_TZ=Asia/Shanghai Sat,Sun 02:00-04:00\" (local time unless CRON_TZ= or TZ=); a step starts only if its stop timeout, " +
			"--health-timeout and --monitor fit before the window closes; outside every window refresh checks, changes nothing and says when the next opens"},
		&cli.DurationFlag{Name: "min-age", Value: 0, Usage: "take an image only once its registry creation time (config created) is at least `DUR` old (e.g. 24h); an unknown one counts as too new; 0 takes every image"},
	)
}

// windowSpecs collects --window's values as given. Why not a
// StringSliceFlag: it splits values at commas, and "Sat,Sun 02:00-05:00" is
// one window. The specs are checked with the other flags (args.go).
type windowSpecs []string

// Set adds one --window value.
func (w *windowSpecs) Set(v string) error {
	*w = append(*w, v)
	return nil
}

// String lists the values, for the help's default.
func (w *windowSpecs) String() string { return strings.Join(*w, "; ") }

// windowsOf reads --window (its specs were checked before the command ran);
// a window without a zone is refused when the environment's TZ names a zone
// that cannot be read (the local zone would be UTC).
func windowsOf(c *cli.Context, getenv func(string) string) (window.Set, error) {
	specs, _ := c.Generic("window").(*windowSpecs)
	if specs == nil {
		return nil, nil
	}
	s, err := window.ParseAll(*specs)
	if err != nil {
		return nil, usagef("bad --window %v", err)
	}
	if err := s.CheckLocal(getenv("TZ"), time.Local); err != nil {
		return nil, usagef("bad --window %v", err)
	}
	return s, nil
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
		UsageText: "tarsup refresh [--host URL]... [--monitor-only] [--to-latest [--any-major]] [--lock FILE] [--only NAME]...\n" +
			"               [--window SPEC]... [--min-age DUR] [the upgrade flags]\n\n" +
			"   --window \"CRON_TZ=Asia/Shanghai Sat,Sun 01:00-05:00\": outside every window refresh looks, changes nothing, exits 0\n" +
			"   and prints one line saying when the next window opens; inside, it starts only the steps that can finish before it closes.\n" +
			"   --min-age 24h: an image created less than a day ago (or of unknown age) is not taken yet; the report says from when.\n\n" +
			"   exit codes: 0 done, nothing moved, outside the window, or --monitor-only; 1 an upgrade failed (rolled back); 2 bad input, unreachable\n" +
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
	windows, err := windowsOf(c, e.getenv)
	if err != nil {
		return refresh.Config{}, err
	}
	return refresh.Config{
		Fleet: fc, Format: c.String("format"), Out: e.stdout,
		Refresh: orchestrator.RefreshOptions{
			Registry:    registryOf(c, e),
			Only:        c.StringSlice("only"),
			ToLatest:    c.Bool("to-latest"),
			AnyMajor:    c.Bool("any-major"),
			MonitorOnly: c.Bool("monitor-only") || c.Bool("dry-run"),
			Windows:     windows,
			MinAge:      c.Duration("min-age"),
			Upgrade: orchestrator.UpgradeOptions{
				Request:  plan.Request{AllowIPChange: c.Bool("allow-ip-change")},
				Parallel: c.Int("parallel"),
				Progress: progress,
				TTY:      e.stdoutTTY,
			},
		},
	}, nil
}
