package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tarsup/tarsup/backup"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/report"
	"github.com/urfave/cli/v2"
)

// snapshotFlags say where `tarsup backup` and the snapshots before a
// framework step go, and what they hold.
func snapshotFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backup-dir", Usage: "put snapshots in `DIR`/<host>--<database container>/ (default /var/lib/tarsup/backups, else $XDG_STATE_HOME/tarsup/backups, else ~/.local/state/tarsup/backups: the first that is writable)"},
		&cli.BoolFlag{Name: "backup-all", Usage: "the snapshot also holds tars_stat and tars_property (monitoring data, which can be large)"},
		&cli.IntFlag{Name: "backup-keep", Value: backup.DefaultKeep, Usage: "after a good new snapshot, keep the newest `N` of its deployment (0: keep every one)"},
	}
}

// backupFlags are the snapshot flags of the commands that upgrade.
func backupFlags() []cli.Flag {
	return append(snapshotFlags(),
		&cli.BoolFlag{Name: "no-backup", EnvVars: []string{"TARSUP_NO_BACKUP"}, Usage: "take no snapshot of the Tars databases before a framework step (README: Snapshots)"},
		&cli.BoolFlag{Name: "restore-on-rollback", Usage: "when a framework step rolled back and the schema changed since the snapshot, restore the snapshot (the writes since it are lost)"},
	)
}

// snapshotOptions reads the snapshot flags.
func snapshotOptions(c *cli.Context, e *env) backup.Options {
	return backup.Options{Dir: c.String("backup-dir"), All: c.Bool("backup-all"), Keep: c.Int("backup-keep"),
		RestoreOnRollback: c.Bool("restore-on-rollback"), Getenv: e.getenv}
}

// snapshots is the snapshot hook of a command that upgrades: nil for a
// command without the snapshot flags, or with --no-backup.
func snapshots(c *cli.Context, e *env) (orchestrator.Snapshots, error) {
	if findFlag(c.Command.Flags, "no-backup") == nil {
		return nil, nil
	}
	if !c.Bool("no-backup") {
		return backup.New(snapshotOptions(c, e)), nil
	}
	for _, f := range []string{"backup-dir", "backup-all", "backup-keep", "restore-on-rollback"} {
		if c.IsSet(f) {
			return nil, usagef("--%s does not go with --no-backup (TARSUP_NO_BACKUP): give one or the other", f)
		}
	}
	return nil, nil
}

// backupOptions are `tarsup backup`'s inputs.
type backupOptions struct {
	cfg    backup.Config
	opts   backup.Options
	format string
	out    io.Writer
}

func backupCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "take a verified snapshot of the Tars databases of every deployment on the engines (or those --only names), as an upgrade does before a framework step",
		UsageText: "tarsup backup [--host URL]... [--only NAME]... [--backup-dir DIR] [--backup-all] [--backup-keep N] [--format text|json]\n\n" +
			"   A deployment is one database container on one engine; --only NAME names one by its database or a framework container.\n" +
			"   exit codes: 0 every snapshot taken and verified; 2 a database that cannot be read, or no place for the files: nothing written; 3 another tarsup holds an engine's lock",
		Flags: append(append(connFlags(), snapshotFlags()...),
			&cli.StringSliceFlag{Name: "only", Usage: "snapshot only the deployments of these framework or database container `NAME`s (repeatable)"},
			&cli.DurationFlag{Name: "lock-wait", Value: 0, Usage: "how long to wait while another tarsup holds an engine's lock (default: give up at once, exit 3)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}),
		Action: func(c *cli.Context) error {
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			return runBackup(c.Context, backupOptions{cfg: backup.Config{Fleet: cfg, Only: c.StringSlice("only")},
				opts: snapshotOptions(c, e), format: c.String("format"), out: e.stdout})
		},
	}
}

// runBackup takes the snapshots and prints them (their files).
func runBackup(ctx context.Context, o backupOptions) error {
	snaps, err := backup.Backup(ctx, o.cfg, o.opts)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return report.WriteJSON(o.out, struct {
			Snapshots []plan.Snapshot `json:"snapshots"`
		}{snaps})
	}
	for _, s := range snaps {
		if _, err := fmt.Fprintln(o.out, s.Line(true)); err != nil {
			return err
		}
	}
	return nil
}

// restoreOptions are `tarsup restore`'s inputs.
type restoreOptions struct {
	cfg    backup.Config
	opts   backup.RestoreOptions
	format string
	out    io.Writer
}

func restoreCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "verify a snapshot, stop its deployment's framework containers (never the database, never a node), load it, start and gate them",
		ArgsUsage: "FILE",
		UsageText: "tarsup restore FILE [--host URL]... [--dry-run] [--force] [--only NAME]... [--health-timeout DUR] [--format text|json]\n\n" +
			"   FILE is a snapshot's .sql.gz (or its .json manifest). Every write since the snapshot is lost.\n" +
			"   exit codes: 0 restored; 1 the load or a gate failed (the message says what is left as it is); 2 a corrupt, truncated or\n" +
			"   unfinished snapshot, or a database that cannot be reached: nothing changed; 3 a snapshot of another deployment (without --force),\n" +
			"   or another tarsup holds an engine's lock: nothing changed",
		Flags: append(connFlags(),
			&cli.BoolFlag{Name: "dry-run", Usage: "verify the snapshot, print what the restore would do, and change nothing (takes no lock)"},
			&cli.BoolFlag{Name: "force", Usage: "restore a snapshot of another deployment (another database container or engine) into the one found"},
			&cli.StringSliceFlag{Name: "only", Usage: "restore into the deployment of this framework or database container `NAME`"},
			&cli.DurationFlag{Name: "health-timeout", Value: health.DefaultHealthTimeout, Usage: "how long a framework started again may take to become healthy"},
			&cli.DurationFlag{Name: "monitor", Value: health.DefaultMonitor, Usage: "how long it must then stay up and healthy"},
			&cli.DurationFlag{Name: "stop-timeout", Value: 30 * time.Second, Usage: "how long a framework gets to stop before it is killed, unless it sets its own"},
			&cli.DurationFlag{Name: "lock-wait", Value: 0, Usage: "how long to wait while another tarsup holds an engine's lock (default: give up at once, exit 3)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("restore takes one FILE (a snapshot's .sql.gz), got %d", c.NArg())
			}
			cfg, err := fleetConfig(c, e)
			if err != nil {
				return err
			}
			cfg.Force = false // --force here is about the deployment, not the engine lock
			return runRestore(c.Context, restoreOptions{cfg: backup.Config{Fleet: cfg, Only: c.StringSlice("only")},
				opts: backup.RestoreOptions{File: c.Args().First(), DryRun: c.Bool("dry-run"), Force: c.Bool("force")}, format: c.String("format"), out: e.stdout})
		},
	}
}

// runRestore restores and prints the plan or what was done, also of a
// failed restore.
func runRestore(ctx context.Context, o restoreOptions) error {
	rep, err := backup.Restore(ctx, o.cfg, o.opts)
	if o.format == "json" {
		if err != nil {
			rep.Error = err.Error()
		}
		if werr := report.WriteJSON(o.out, rep); werr != nil {
			return werr
		}
		return err
	}
	if rep.Deployment != "" {
		if _, werr := fmt.Fprint(o.out, rep.String()); werr != nil {
			return werr
		}
	}
	return err
}
