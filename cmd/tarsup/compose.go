package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/composefleet"
	"github.com/tarsup/tarsup/notify"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/report"
	"github.com/urfave/cli/v2"
)

// composeCommand groups the commands that take compose project files as the
// description of a deployment.
func composeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "compose",
		Usage: "status and upgrade of Tars deployments described by docker compose files, on one engine or many",
		Subcommands: []*cli.Command{
			composeStatusCommand(e),
			composeUpgradeCommand(e),
		},
	}
}

// composeProjectFlags say which projects to load, with docker compose's meaning.
func composeProjectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "compose `FILE`; repeat to merge files as docker compose does (default: COMPOSE_FILE, else compose.yaml found as docker compose finds it)"},
		&cli.StringFlag{Name: "project-name", Aliases: []string{"p"}, Usage: "project `NAME` (default: COMPOSE_PROJECT_NAME, name:, the directory's name); one project only"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "env `FILE` for interpolation instead of the project's .env; one project only"},
		&cli.StringSliceFlag{Name: "profile", Usage: "`PROFILE` to enable (default: COMPOSE_PROFILES); applies to every project"},
		&cli.StringSliceFlag{Name: "project-dir", Usage: "project `DIR`; repeat for several projects (one per host), each found as docker compose finds it; with -f, the one project's directory"},
		&cli.StringFlag{Name: "project-list", Usage: "`FILE` listing project directories or compose files, one per line, for several hosts (README: Compose)"},
	}
}

// composeProjects reads the project flags.
func composeProjects(c *cli.Context) composefleet.Projects {
	return composefleet.Projects{
		Files: c.StringSlice("file"), ProjectName: c.String("project-name"), EnvFiles: c.StringSlice("env-file"),
		Profiles: c.StringSlice("profile"), Dirs: c.StringSlice("project-dir"), List: c.String("project-list"),
	}
}

// composeEngines reads the engine flags for compose projects; --inventory
// does not apply there.
func composeEngines(c *cli.Context, e *env) (composefleet.Engines, error) {
	if c.String("inventory") != "" {
		return composefleet.Engines{}, usagef("--inventory does not apply to compose projects: each project names its engine with x-tarsup.host (README: Compose), or --host/DOCKER_HOST serves those that do not")
	}
	return composefleet.Engines{
		Default:  func() ([]engine.HostSpec, error) { return hostSpecs(c, e) },
		TLS:      flagTLS(c),
		Insecure: c.Bool("insecure"),
		Getenv:   e.getenv,
	}, nil
}

// composeErr gives composefleet's usage errors the CLI's usage form
// (pointing to the command's help).
func composeErr(err error) error {
	if errors.Is(err, composefleet.ErrUsage) {
		return usageError{err}
	}
	return err
}

func composeUpgradeCommand(e *env) *cli.Command {
	var flags []cli.Flag
	for _, fl := range upgradeFlags() {
		// Why without --only: the projects' services say which containers.
		if fl.Names()[0] != "only" {
			flags = append(flags, fl)
		}
	}
	return &cli.Command{
		Name:  "upgrade",
		Usage: "upgrade the Tars services of compose projects: rewrite their image: lines, then recreate their containers in Tars order, as one fleet",
		UsageText: "tarsup compose upgrade [-f FILE]... [-p NAME] [--project-dir DIR]... [--project-list FILE] [--to TAG] [--framework-image REF] [--node-image REF] [--dry-run] [...]\n\n" +
			"Each project runs on the engine its x-tarsup.host names, else on --host/DOCKER_HOST.",
		Flags:  append(append(connFlags(), composeProjectFlags()...), flags...),
		Action: func(c *cli.Context) error { return runComposeUpgrade(c, e) },
	}
}

func runComposeUpgrade(c *cli.Context, e *env) error {
	if err := setupLog(c, e); err != nil {
		return err
	}
	eng, err := composeEngines(c, e)
	if err != nil {
		return err
	}
	n, err := newNotifier(c, e)
	if err != nil {
		return err
	}
	prober, err := health.NewProber(c.String("probe"), "")
	if err != nil {
		return err
	}
	xopts, err := execOptions(c, e, prober, eventPrinter(c, e))
	if err != nil {
		return err
	}
	progress := io.Discard
	if c.String("format") == "text" {
		progress = e.stdout
	}
	rep, runErr := composefleet.Upgrade(c.Context, composefleet.UpgradeOptions{
		Projects: composeProjects(c), Engines: eng,
		Images:        compose.ImageRequest{To: c.String("to"), FrameworkImage: c.String("framework-image"), NodeImage: c.String("node-image")},
		AllowIPChange: c.Bool("allow-ip-change"), DryRun: c.Bool("dry-run"), Parallel: c.Int("parallel"),
		Exec: xopts, Progress: progress, TTY: e.stdoutTTY, Warnings: e.stderr, Registry: registryOf(c, e),
	})
	// A failed notification is logged and leaves the exit code be.
	_ = n.Notify(c.Context, composeEvent(rep, composeErr(runErr)))
	if rep == nil {
		return composeErr(runErr)
	}
	if werr := writeComposeReport(e.stdout, c.String("format"), rep, runErr); werr != nil {
		return errors.Join(composeErr(runErr), werr)
	}
	return composeErr(runErr)
}

// composeEvent is the notification's event of a compose upgrade: the
// upgrade's, with the compose report (--format json's) as its report.
func composeEvent(rep *composefleet.Report, runErr error) notify.Event {
	if rep == nil {
		return notify.UpgradeEvent("compose upgrade", report.Upgrade{Plan: []report.Step{}}, runErr)
	}
	ev := notify.UpgradeEvent("compose upgrade", report.UpgradeOf(rep.DryRun, rep.Upgrade), runErr)
	if out, err := composeJSON(rep, runErr); err == nil {
		ev.SetReport(out)
	}
	return ev
}

// composeUpgradeJSON is the machine report of `compose upgrade --format json`.
type composeUpgradeJSON struct {
	Files []composefleet.FileReport `json:"files"`
	// Upgrade is the report `tarsup upgrade --format json` gives.
	Upgrade json.RawMessage `json:"upgrade"`
	// ConfigHashes are the compose labels set on the recreated containers.
	ConfigHashes []configHashJSON `json:"config_hashes"`
}

// configHashJSON is one recreated container's compose labels.
type configHashJSON struct {
	Project   string `json:"project"`
	Host      string `json:"host"`
	Service   string `json:"service"`
	Container string `json:"container"`
	// ConfigHash is "" in a dry run.
	ConfigHash string `json:"config_hash"`
	ImageID    string `json:"image_id,omitempty"`
	ComputedBy string `json:"computed_by"`
	// Exact is false when the project's own Compose was not found: another
	// Compose version may still recreate the container once.
	Exact bool   `json:"exact"`
	Note  string `json:"note,omitempty"`
}

// composeJSON is the machine report of a compose upgrade.
func composeJSON(rep *composefleet.Report, runErr error) (composeUpgradeJSON, error) {
	var buf bytes.Buffer
	if err := writeUpgradeReport(&buf, "json", rep.DryRun, rep.Upgrade, runErr); err != nil {
		return composeUpgradeJSON{}, err
	}
	out := composeUpgradeJSON{Files: rep.Files, Upgrade: buf.Bytes(), ConfigHashes: []configHashJSON{}}
	for _, h := range rep.Hashes {
		out.ConfigHashes = append(out.ConfigHashes, configHashJSON{Project: h.Project, Host: h.Host, Service: h.Service, Container: h.Container,
			ConfigHash: h.Hash, ImageID: h.ImageID, ComputedBy: h.By, Exact: h.Exact, Note: h.Note})
	}
	return out, nil
}

// writeComposeReport writes a compose upgrade's report: the upgrade's own
// (as `tarsup upgrade` gives it), the config hashes, the files.
func writeComposeReport(w io.Writer, format string, rep *composefleet.Report, runErr error) error {
	if format == "json" {
		out, err := composeJSON(rep, runErr)
		if err != nil {
			return err
		}
		return writeJSON(w, out)
	}
	if err := writeUpgradeReport(w, format, rep.DryRun, rep.Upgrade, runErr); err != nil {
		return err
	}
	warned := map[string]bool{}
	for _, h := range rep.Hashes {
		if !rep.DryRun {
			fmt.Fprintf(w, "compose config-hash of %s: %s (%s)\n", h.Container, h.Hash, h.By)
		}
		if k := h.Host + " " + h.Project + " " + h.Note; !h.Exact && !warned[k] {
			warned[k] = true
			fmt.Fprintf(w, "warning: project %s: compose config-hash: %s\n", h.Project, h.Note)
		}
	}
	writeComposeFiles(w, rep)
	return nil
}

// writeComposeFiles says what became of each compose file.
func writeComposeFiles(w io.Writer, rep *composefleet.Report) {
	if len(rep.Files) == 0 {
		fmt.Fprintln(w, "compose files: no change")
		return
	}
	for _, f := range rep.Files {
		switch {
		case rep.DryRun:
			fmt.Fprint(w, f.Diff)
		case len(f.Kept) > 0:
			fmt.Fprintf(w, "compose file %s: %s: the image of %s (upgraded) stays, the rest is restored\n", f.Path, f.State, strings.Join(f.Kept, ", "))
		case f.State != composefleet.FileWritten: // "written" was said when it happened
			fmt.Fprintf(w, "compose file %s: %s\n", f.Path, f.State)
		}
	}
}

func composeStatusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "list the Tars services of compose projects with their containers: image in the file and running, version, state, health",
		UsageText: "tarsup compose status [-f FILE]... [-p NAME] [--env-file FILE] [--profile P]... [--project-dir DIR]... [--project-list FILE] [--format table|json]",
		Flags: append(append(connFlags(), composeProjectFlags()...),
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
		),
		Action: func(c *cli.Context) error { return runComposeStatus(c, e) },
	}
}

// composeStatusJSON is the machine report of `compose status --format json`.
type composeStatusJSON struct {
	Services []composefleet.StatusRow `json:"services"`
	Findings []findingJSON            `json:"findings"`
}

type findingJSON struct {
	File     string `json:"file"`
	Service  string `json:"service"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}

func runComposeStatus(c *cli.Context, e *env) error {
	if err := setupLog(c, e); err != nil {
		return err
	}
	eng, err := composeEngines(c, e)
	if err != nil {
		return err
	}
	prober, err := health.NewProber(c.String("probe"), "")
	if err != nil {
		return err
	}
	rep, err := composefleet.Status(c.Context, composefleet.StatusOptions{Projects: composeProjects(c), Engines: eng, Prober: prober})
	if err != nil {
		return composeErr(err)
	}
	if c.String("format") == "json" {
		out := composeStatusJSON{Services: rep.Rows, Findings: []findingJSON{}}
		for _, f := range rep.Findings {
			out.Findings = append(out.Findings, findingJSON{File: f.File, Service: f.Service, Severity: f.Severity.String(), Rule: f.Rule, Message: f.Message})
		}
		return writeJSON(e.stdout, out)
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(e.stderr, f.String())
	}
	return composeStatusTable(e.stdout, rep.Rows)
}

func composeStatusTable(w io.Writer, rows []composefleet.StatusRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tHOST\tSERVICE\tROLE\tFILE IMAGE\tCONTAINER\tRUNNING IMAGE\tVERSION\tSTATE\tHEALTH")
	for _, r := range rows {
		running := r.RunningImage
		switch {
		case r.Container == "":
			running = "-"
		case r.InStep:
			running = "(same)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Project, r.Host, r.Service, r.Role, r.Image, or(r.Container, "-"), running, or(r.Version, "-"), r.State, or(r.Health, "-"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
