package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

// execFlags are the flags of every command that recreates containers.
func execFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "health-timeout", Value: orchestrator.DefaultHealthTimeout, Usage: "how long a new container may take to become healthy (a real framework waits for MySQL and restarts every service)"},
		&cli.DurationFlag{Name: "monitor", Value: orchestrator.DefaultMonitor, Usage: "how long a new container must then stay up and healthy"},
		&cli.DurationFlag{Name: "stop-timeout", Value: 30 * time.Second, Usage: "how long a container gets to stop before it is killed, unless it sets its own"},
		&cli.BoolFlag{Name: "no-rollback", Usage: "leave a failed new container for inspection instead of rolling back"},
		&cli.BoolFlag{Name: "cleanup", Usage: "remove the old image once no container uses it"},
		&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
		&cli.DurationFlag{Name: "lock-wait", Value: 0, Usage: "how long to wait while another tarsup holds an engine's lock (default: give up at once, exit 3)"},
	}
}

// upgradeFlags are upgrade's own flags; refresh and compose upgrade reuse them.
func upgradeFlags() []cli.Flag {
	return append(execFlags(),
		&cli.StringFlag{Name: "to", Usage: "move every framework container to `TAG` in its own repository"},
		&cli.StringFlag{Name: "framework-image", Usage: "run the framework containers from this image `REF`"},
		&cli.StringFlag{Name: "node-image", Usage: "run the node containers from this image `REF`"},
		&cli.StringSliceFlag{Name: "only", Usage: "limit the work to these container `NAME`s (repeatable)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing"},
		&cli.IntFlag{Name: "parallel", Value: 1, Usage: "how many nodes to recreate at once"},
		&cli.IntFlag{Name: "max-failures", Value: 0, Usage: "once more nodes than this failed (and were rolled back), start no new one"},
		&cli.BoolFlag{Name: "allow-ip-change", Usage: "recreate containers whose address cannot be kept (default bridge; a network without a configured subnet on an old engine) with a new one (refused otherwise: Tars records IPs)"},
	)
}

func upgradeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "pull the new images and recreate the Tars containers, master first, then the other framework hosts, then the nodes",
		UsageText: "tarsup upgrade [--host URL]... [--to TAG] [--framework-image REF] [--node-image REF] [--only NAME]... [--dry-run] [...]",
		Flags:     append(connFlags(), upgradeFlags()...),
		Action: func(c *cli.Context) error {
			req := orchestrator.Request{
				To:             c.String("to"),
				FrameworkImage: c.String("framework-image"),
				NodeImage:      c.String("node-image"),
				Only:           c.StringSlice("only"),
				AllowIPChange:  c.Bool("allow-ip-change"),
			}
			return runUpgrade(c, e, req)
		},
	}
}

// execOptions reads the executor's flags.
func execOptions(c *cli.Context, e *env, prober *orchestrator.Prober, report func(orchestrator.Event)) (orchestrator.ExecOptions, error) {
	// The flags' values were checked before the command ran (checkFlags).
	return orchestrator.ExecOptions{
		Gate:        orchestrator.Gate{Prober: prober, Timeout: c.Duration("health-timeout"), Monitor: c.Duration("monitor")},
		StopTimeout: c.Duration("stop-timeout"),
		NoRollback:  c.Bool("no-rollback"),
		Cleanup:     c.Bool("cleanup"),
		MaxFailures: c.Int("max-failures"),
		LockWait:    c.Duration("lock-wait"),
		Report:      report,
	}, nil
}

// eventPrinter prints one line per event as it happens: to stdout for text
// output, to the log for JSON output (stdout then carries only the report).
func eventPrinter(c *cli.Context, e *env) func(orchestrator.Event) {
	if c.String("format") == "json" {
		return func(ev orchestrator.Event) {
			e.log.WithFields(logrus.Fields{"host": ev.Host, "container": ev.Container, "from": ev.From, "to": ev.To, "result": ev.Result, "detail": ev.Detail}).Info(ev.Action)
		}
	}
	return func(ev orchestrator.Event) {
		line := fmt.Sprintf("%s %s %s: %s", ev.Time.Format("15:04:05"), ev.Host, ev.Container, ev.Action)
		if ev.From != "" || ev.To != "" {
			line += fmt.Sprintf(" %s -> %s", ev.From, ev.To)
		}
		if ev.Result != "" {
			line += ": " + ev.Result
		}
		if ev.Detail != "" && ev.Result != orchestrator.ResultRolledBack && ev.Result != orchestrator.ResultFailed {
			line += " (" + firstLine(ev.Detail) + ")"
		}
		fmt.Fprintln(e.stdout, line)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func runUpgrade(c *cli.Context, e *env, req orchestrator.Request) error {
	s, closeSession, err := openSession(c, e, false)
	if err != nil {
		return err
	}
	defer closeSession()
	progress := io.Discard
	if c.String("format") == "text" {
		progress = e.stdout
	}
	rep, err := orchestrator.Upgrade(c.Context, s.hosts, s.x, orchestrator.UpgradeOptions{
		Request:  req,
		DryRun:   c.Bool("dry-run"),
		Parallel: c.Int("parallel"),
		Progress: progress,
		TTY:      e.stdoutTTY,
	})
	if werr := writeUpgradeReport(e.stdout, c.String("format"), c.Bool("dry-run"), rep, err); werr != nil {
		return werr
	}
	return err
}

// upgradeJSON is the machine report of `upgrade --format json`.
type upgradeJSON struct {
	DryRun          bool                    `json:"dry_run"`
	PendingRecovery []string                `json:"pending_recovery,omitempty"`
	Recovered       []orchestrator.Recovery `json:"recovered,omitempty"`
	Plan            []stepJSON              `json:"plan"`
	Results         []resultJSON            `json:"results,omitempty"`
	Error           string                  `json:"error,omitempty"`
	// Interrupted: the run was cancelled (SIGINT, SIGTERM) between steps;
	// NotRun names the containers whose steps did not run, and VersionSplit
	// says when framework hosts were left on different versions.
	Interrupted  bool     `json:"interrupted,omitempty"`
	NotRun       []string `json:"not_run,omitempty"`
	VersionSplit string   `json:"version_split,omitempty"`
}

type stepJSON struct {
	Host       string `json:"host"`
	Container  string `json:"container"`
	Role       string `json:"role"`
	From       string `json:"from"`
	To         string `json:"to"`
	FromDigest string `json:"from_digest"`
	ToDigest   string `json:"to_digest"`
	Cause      string `json:"cause"`
	Line       string `json:"line"`
	// Pins are the addresses the new container asks for; IPChanges those
	// it cannot keep (allowed by --allow-ip-change).
	Pins      []orchestrator.Pin         `json:"pins,omitempty"`
	IPChanges []orchestrator.LostAddress `json:"ip_changes,omitempty"`
	// HealthBefore is the pre-flight probe's finding (healthy, unhealthy,
	// starting; absent when not probed), HealthBeforeDetail why it is not
	// healthy, and RollbackGate what a rollback asks of the old container
	// (healthy, or running when it was not healthy before).
	HealthBefore       string `json:"health_before,omitempty"`
	HealthBeforeDetail string `json:"health_before_detail,omitempty"`
	RollbackGate       string `json:"rollback_gate,omitempty"`
}

type resultJSON struct {
	stepJSON
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	NewID  string `json:"new_id,omitempty"`
	// Interrupted: the step did not run because the run was cancelled.
	Interrupted bool `json:"interrupted,omitempty"`
}

func stepToJSON(s orchestrator.Step) stepJSON {
	return stepJSON{Host: s.Host, Container: s.Container.Name, Role: string(s.Container.Role), From: s.From, To: s.To,
		FromDigest: s.FromDigest, ToDigest: s.ToDigest, Cause: s.Cause, Line: s.Line(false), Pins: s.Pins, IPChanges: s.IPChanges,
		HealthBefore: s.Before.State, HealthBeforeDetail: s.Before.Detail, RollbackGate: s.Restore}
}

func writeUpgradeReport(w io.Writer, format string, dryRun bool, rep orchestrator.UpgradeReport, runErr error) error {
	if format == "json" {
		out := upgradeToJSON(dryRun, rep)
		if runErr != nil {
			out.Error = runErr.Error()
		}
		return writeJSON(w, out)
	}
	for _, r := range rep.Recovered {
		fmt.Fprintf(w, "recovered %s on %s: %s: %s\n", r.Name, r.Host, r.Action, r.Result)
	}
	if dryRun {
		for _, h := range rep.PendingRecovery {
			fmt.Fprintf(w, "%s holds an interrupted upgrade: a real run recovers it first (tarsup recover)\n", h)
		}
		if runErr == nil && rep.Plan.Empty() {
			fmt.Fprint(w, rep.NothingToDo())
		} else if runErr == nil {
			fmt.Fprint(w, rep.Plan.String())
		}
		return nil
	}
	if runErr == nil && rep.Plan.Empty() {
		fmt.Fprint(w, rep.NothingToDo())
		return nil
	}
	if len(rep.Results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nHOST\tCONTAINER\tFROM\tTO\tRESULT")
	for _, r := range rep.Results {
		res := r.Result
		if r.Interrupted {
			res += " (interrupted: not run)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Step.Host, r.Step.Container.Name, r.Step.FromLabel(), r.Step.ToLabel(), res)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// upgradeToJSON is the machine report of an upgrade (without its error).
func upgradeToJSON(dryRun bool, rep orchestrator.UpgradeReport) upgradeJSON {
	out := upgradeJSON{DryRun: dryRun, PendingRecovery: rep.PendingRecovery, Recovered: rep.Recovered, Plan: []stepJSON{}}
	for _, s := range rep.Plan.Steps() {
		out.Plan = append(out.Plan, stepToJSON(s))
	}
	for _, r := range rep.Results {
		rj := resultJSON{stepJSON: stepToJSON(r.Step), Result: r.Result, NewID: r.NewID, Interrupted: r.Interrupted}
		if r.Err != nil {
			rj.Error = r.Err.Error()
		}
		out.Results = append(out.Results, rj)
	}
	for _, r := range orchestrator.NotRun(rep.Results) {
		out.Interrupted = true
		out.NotRun = append(out.NotRun, r.Step.Container.Name)
	}
	out.VersionSplit = orchestrator.VersionSplit(rep.Plan, rep.Results)
	return out
}
