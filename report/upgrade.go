package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Upgrade is the machine report of `upgrade --format json`.
type Upgrade struct {
	DryRun          bool            `json:"dry_run"`
	PendingRecovery []string        `json:"pending_recovery,omitempty"`
	Recovered       []plan.Recovery `json:"recovered,omitempty"`
	Plan            []Step          `json:"plan"`
	Results         []Result        `json:"results,omitempty"`
	Error           string          `json:"error,omitempty"`
	// Interrupted: the run was cancelled (SIGINT, SIGTERM) between steps;
	// NotRun names the containers whose steps did not run, and VersionSplit
	// says when framework hosts were left on different versions.
	Interrupted  bool     `json:"interrupted,omitempty"`
	NotRun       []string `json:"not_run,omitempty"`
	VersionSplit string   `json:"version_split,omitempty"`
	// Registration is the registration check: absent when it planned
	// nothing and has nothing to say.
	Registration *Registration `json:"registration,omitempty"`
	// RegistryRetries counts the registry requests of the look-ups (a dry
	// run's; a real run pulls through the engines) sent again after a 429
	// or 5xx (--registry-retries).
	RegistryRetries int `json:"registry_retries"`
}

// Step is one planned step in the JSON report.
type Step struct {
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
	Pins      []plan.Pin         `json:"pins,omitempty"`
	IPChanges []plan.LostAddress `json:"ip_changes,omitempty"`
	// HealthBefore is the pre-flight probe's finding (healthy, unhealthy,
	// starting; absent when not probed), HealthBeforeDetail why it is not
	// healthy, and RollbackGate what a rollback asks of the old container
	// (healthy, or running when it was not healthy before).
	HealthBefore       string `json:"health_before,omitempty"`
	HealthBeforeDetail string `json:"health_before_detail,omitempty"`
	RollbackGate       string `json:"rollback_gate,omitempty"`
	// Hooks are the step's hooks in the order they run (when, name,
	// command, argv, in_container), HookTimeout (seconds) bounds each and
	// PostHookFailure says what a failed post hook does (rollback, warn).
	Hooks           []plan.Hook `json:"hooks,omitempty"`
	HookTimeout     float64     `json:"hook_timeout,omitempty"`
	PostHookFailure string      `json:"post_hook_failure,omitempty"`
	// NotAfter is the latest time the step may start, when a maintenance
	// window (--window) bounds the run.
	NotAfter time.Time `json:"not_after,omitzero"`
}

// Result is one step's outcome in the JSON report.
type Result struct {
	Step
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	NewID  string `json:"new_id,omitempty"`
	// Interrupted: the step did not run because the run was cancelled.
	Interrupted bool `json:"interrupted,omitempty"`
	// Warnings are the failed post hooks the step kept going past
	// (--post-hook-failure warn).
	Warnings []string `json:"warnings,omitempty"`
}

// StepOf is the JSON form of a planned step.
func StepOf(s plan.Step) Step {
	st := Step{Host: s.Host, Container: s.Container.Name, Role: string(s.Container.Role), From: s.From, To: s.To,
		FromDigest: s.FromDigest, ToDigest: s.ToDigest, Cause: s.Cause, Line: s.Line(false), Pins: s.Pins, IPChanges: s.IPChanges,
		HealthBefore: s.Before.State, HealthBeforeDetail: s.Before.Detail, RollbackGate: s.Restore, NotAfter: s.NotAfter}
	if len(s.Hooks) > 0 {
		st.Hooks, st.HookTimeout, st.PostHookFailure = s.Hooks, s.HookTimeout.Seconds(), s.PostHookFailure
	}
	return st
}

// UpgradeOf is the machine report of an upgrade (without its error).
func UpgradeOf(dryRun bool, rep orchestrator.UpgradeReport) Upgrade {
	out := Upgrade{DryRun: dryRun, PendingRecovery: rep.PendingRecovery, Recovered: rep.Recovered, Plan: []Step{}, RegistryRetries: rep.RegistryRetries}
	for _, s := range rep.Plan.Steps() {
		out.Plan = append(out.Plan, StepOf(s))
	}
	for _, r := range rep.Results {
		if r.Step.Kind == plan.StepReregister {
			continue // in Registration
		}
		rj := Result{Step: StepOf(r.Step), Result: r.Result, NewID: r.NewID, Interrupted: r.Interrupted, Warnings: r.Warnings}
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
	out.Registration = RegistrationOf(rep)
	return out
}

// WriteUpgrade writes an upgrade's report: in JSON the whole report with
// runErr's message; in text the recoveries, then the plan (dryRun) or the
// summary table of the results.
func WriteUpgrade(w io.Writer, format string, dryRun bool, rep orchestrator.UpgradeReport, runErr error) error {
	if format == "json" {
		out := UpgradeOf(dryRun, rep)
		if runErr != nil {
			out.Error = runErr.Error()
		}
		return WriteJSON(w, out)
	}
	WriteRecovered(w, rep.Recovered)
	if dryRun {
		for _, h := range rep.PendingRecovery {
			fmt.Fprintf(w, "%s holds an interrupted upgrade: a real run recovers it first (tarsup recover)\n", h)
		}
		if runErr == nil && rep.Plan.Empty() {
			fmt.Fprint(w, rep.NothingToDo())
		} else if runErr == nil {
			fmt.Fprint(w, rep.Plan.String())
		}
		WriteRegistrationNotes(w, rep.Registration)
		return nil
	}
	if runErr == nil && rep.Plan.Empty() {
		fmt.Fprint(w, rep.NothingToDo())
		return nil
	}
	if err := writeResults(w, rep.Results); err != nil {
		return err
	}
	WriteRegistration(w, rep)
	return nil
}

// WriteRecovered prints one line per recovery an upgrade or refresh did first.
func WriteRecovered(w io.Writer, recs []plan.Recovery) {
	for _, r := range recs {
		fmt.Fprintf(w, "recovered %s on %s: %s: %s\n", r.Name, r.Host, r.Action, r.Result)
	}
}

func writeResults(w io.Writer, results []orchestrator.StepResult) error {
	if len(results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nHOST\tCONTAINER\tFROM\tTO\tRESULT")
	for _, r := range results {
		if r.Step.Kind == plan.StepReregister {
			continue // WriteRegistration
		}
		res := r.Result
		if r.Interrupted {
			res += " (interrupted: not run)"
		}
		if len(r.Warnings) > 0 {
			res += " (warning: a post hook failed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Step.Host, r.Step.Container.Name, r.Step.FromLabel(), r.Step.ToLabel(), res)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	for _, r := range results {
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
	}
	return nil
}

// WriteJSON writes v indented, as the commands' --format json does.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// WriteCompactJSON writes v as one line.
func WriteCompactJSON(w io.Writer, v any) error {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// FirstLine is s up to its first newline.
func FirstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
