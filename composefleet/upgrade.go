package composefleet

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// UpgradeOptions are the inputs of a compose upgrade.
type UpgradeOptions struct {
	Projects Projects
	Engines  Engines
	// Images says which images the Tars services move to (--to,
	// --framework-image, --node-image).
	Images        compose.ImageRequest
	AllowIPChange bool
	DryRun        bool
	Parallel      int
	Exec          orchestrator.ExecOptions
	// Progress receives pull progress and each file's "written" line as it
	// happens; TTY selects the terminal display of pulls.
	Progress io.Writer
	TTY      bool
	// Warnings receives the projects' warnings (stderr).
	Warnings io.Writer
	// Registry answers a dry run's look-ups (--registry-retries,
	// --registry-mirror; the engines' mirrors are added); nil: the
	// defaults.
	Registry *images.Registry
	// Connect reaches the engines; nil is engine.ConnectAll.
	Connect func(ctx context.Context, specs []engine.HostSpec) ([]*engine.Host, error)
	// Run upgrades the engines; nil is orchestrator.Upgrade. Tests set it.
	Run func(ctx context.Context, hosts []*engine.Host, x *orchestrator.Executor, opts orchestrator.UpgradeOptions) (orchestrator.UpgradeReport, error)
	// HashRun runs the compose binaries that compute config hashes; nil
	// runs them for real.
	HashRun compose.Runner
}

// Report is what a compose upgrade did, or would do.
type Report struct {
	DryRun  bool
	Upgrade orchestrator.UpgradeReport
	Files   []FileReport
	// Hashes are the compose labels of the containers the plan recreates.
	Hashes []compose.ConfigHash
}

// run is one compose upgrade under way: what the Observed hook works out
// for the rest of the sequence.
type run struct {
	opts   UpgradeOptions
	fleet  *Fleet
	ups    []*compose.Upgrade
	edits  []compose.FileEdit
	files  []FileReport
	hasher *compose.Hasher
	// planned is true once the projects were planned (and, unless a dry
	// run, their files written): from then on there is a report to give.
	planned bool
}

// Upgrade loads the projects, refuses what the Tars rules forbid, and
// upgrades their Tars services' containers as one fleet through
// orchestrator.Upgrade: under its locks and after its recovery, the projects
// are planned against what the engines run and (unless a dry run) their
// files rewritten, before any pull and any recreate. After a failure the
// files are settled to name what runs. The report is nil when the upgrade
// ended before the projects were planned (nothing to report but the error).
func Upgrade(ctx context.Context, opts UpgradeOptions) (*Report, error) {
	if opts.Connect == nil {
		opts.Connect = engine.ConnectAll
	}
	if opts.Run == nil {
		opts.Run = orchestrator.Upgrade
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Warnings == nil {
		opts.Warnings = io.Discard
	}
	projects, findings, err := loadProjects(ctx, opts.Projects)
	if err != nil {
		return nil, err
	}
	if err := refuse(findings, opts.Warnings); err != nil {
		return nil, err
	}
	fleet, err := newFleet(projects, opts.Engines)
	if err != nil {
		return nil, err
	}
	hosts, err := opts.Connect(ctx, fleet.Specs)
	if err != nil {
		return nil, err
	}
	defer engine.CloseAll(hosts)
	r := &run{opts: opts, fleet: fleet}
	if opts.DryRun && opts.Registry != nil {
		orchestrator.WithEngineMirrors(ctx, opts.Registry, hosts, nil)
	}
	rep, runErr := opts.Run(ctx, hosts, orchestrator.NewExecutor(hosts, opts.Exec), r.upgradeOptions())
	rep.RegistryRetries = opts.Registry.RetryCount()
	if !r.planned {
		return nil, runErr
	}
	if runErr != nil && !opts.DryRun {
		if ferr := settle(r.ups, r.edits, rep, r.files); ferr != nil {
			runErr = errors.Join(runErr, ferr)
		}
	}
	return &Report{DryRun: opts.DryRun, Upgrade: rep, Files: r.files, Hashes: hashReports(r.hasher, rep)}, runErr
}

// upgradeOptions are orchestrator.Upgrade's options for the run.
func (r *run) upgradeOptions() orchestrator.UpgradeOptions {
	return orchestrator.UpgradeOptions{
		Request:  plan.Request{AllowIPChange: r.opts.AllowIPChange},
		Registry: r.opts.Registry,
		DryRun:   r.opts.DryRun,
		Parallel: r.opts.Parallel,
		Progress: r.opts.Progress,
		TTY:      r.opts.TTY,
		Observed: r.observed,
		Scope:    r.fleet.scope(),
		// Why: so that the project's next `docker compose up` finds the
		// recreated containers up to date (README: Compose).
		Labels: func(ctx context.Context, c plan.Candidate, t plan.Resolved) (map[string]string, error) {
			l, err := r.hasher.Labels(ctx, c.Host, c.Container.Name, c.Container.Labels, t.Image.ID)
			if err != nil {
				// Why bad input: it comes before any container changed.
				return nil, fault.Mark(fault.BadInput, err)
			}
			return l, nil
		},
	}
}

// observed plans the projects against the engines' states (recovered, under
// the locks) and, unless a dry run, writes the files. Why the files first: a
// compose up run by anyone during the upgrade then creates what tarsup is
// moving to, not the old image. A nil request means that the projects'
// Tars services have no container (an empty Only would mean every one).
func (r *run) observed(_ context.Context, states []plan.HostState) (*plan.Request, error) {
	ups, only, err := r.fleet.planFleet(states, r.opts.Images)
	if err != nil {
		return nil, err
	}
	r.ups = ups
	for _, u := range ups {
		for _, w := range u.Warnings {
			fmt.Fprintln(r.opts.Warnings, "warning: "+w)
		}
		r.edits = append(r.edits, u.Edits...)
	}
	r.files = make([]FileReport, len(r.edits))
	for i, ed := range r.edits {
		r.files[i] = FileReport{Path: ed.Path, Diff: ed.Diff(), State: FilePlanned}
	}
	r.hasher = &compose.Hasher{Upgrades: ups, DryRun: r.opts.DryRun, EngineEnv: r.fleet.engineEnv(), Run: r.opts.HashRun}
	if !r.opts.DryRun {
		if err := compose.Apply(r.edits); err != nil {
			return nil, fault.Mark(fault.BadInput, fmt.Errorf("write the compose files: %w\nnothing was changed", err))
		}
		for i := range r.files {
			r.files[i].State = FileWritten
			fmt.Fprintf(r.opts.Progress, "compose file %s: written\n", r.files[i].Path)
		}
	}
	r.planned = true
	if len(only) == 0 {
		return nil, nil
	}
	req := plan.Request{To: r.opts.Images.To, FrameworkImage: r.opts.Images.FrameworkImage, NodeImage: r.opts.Images.NodeImage, Only: only, AllowIPChange: r.opts.AllowIPChange}
	return &req, nil
}

// hashReports keeps the hasher's reports of the containers the plan recreates.
func hashReports(h *compose.Hasher, rep orchestrator.UpgradeReport) []compose.ConfigHash {
	inPlan := map[string]bool{}
	for _, s := range rep.Plan.Steps() {
		inPlan[stepKey(s.Host, s.Container.Name)] = true
	}
	var out []compose.ConfigHash
	for _, c := range h.Reports() {
		if inPlan[stepKey(c.Host, c.Container)] {
			out = append(out, c)
		}
	}
	return out
}
