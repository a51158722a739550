package composefleet

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// fakeRun stands for orchestrator.Upgrade: it hands the engines' states to
// the Observed hook as Upgrade does once it holds the locks and recovered,
// records what the files said at that moment (before any recreate), and
// returns the plan and results the case gives.
type fakeRun struct {
	t          *testing.T
	file       string
	states     []plan.HostState
	before     error // returned before Observed (a lock held elsewhere, say)
	plan       []string
	results    []orchestrator.StepResult
	err        error
	calls      int
	req        *plan.Request
	opts       orchestrator.UpgradeOptions
	atRecreate string // the file when the first container would be recreated
}

func (f *fakeRun) run(ctx context.Context, hosts []*engine.Host, _ *orchestrator.Executor, o orchestrator.UpgradeOptions) (orchestrator.UpgradeReport, error) {
	f.calls++
	f.opts = o
	var rep orchestrator.UpgradeReport
	if f.before != nil {
		return rep, f.before
	}
	req, err := o.Observed(ctx, f.states)
	if err != nil {
		return rep, err
	}
	f.req = req
	if req == nil {
		rep.NoTars, rep.Scope = true, o.Scope
		return rep, nil
	}
	f.atRecreate = read(f.t, f.file)
	var steps []plan.Step
	for _, n := range f.plan {
		steps = append(steps, step(hosts[0].Name(), n))
	}
	rep.Plan, rep.Results = planOf(steps...), f.results
	return rep, f.err
}

func TestUpgradeSequence(t *testing.T) {
	const h = "tcp://127.0.0.1:2375"
	failed := errors.New("upgrade failed and was rolled back")
	oldFramework, newFramework := "image: tarscloud/framework:v3.0.15 # pinned by ops", "image: tarscloud/framework:v3.0.16 # pinned by ops"
	oldNode, newNode := "image: tarscloud/tars-node:latest", "image: tarscloud/tars-node:v2"
	tests := []struct {
		name    string
		dryRun  bool
		running []plan.Container
		before  error
		results []orchestrator.StepResult
		err     error
		// atRecreate and after list lines the file has when the first
		// container is recreated and after the upgrade; "original" means
		// byte for byte as it was.
		atRecreate, after []string
		states            []string // Report.Files' states, "" for no report
		kept              string
		progress          string
	}{
		{
			name: "a dry run writes nothing", dryRun: true, running: deployed(h, "a"),
			atRecreate: []string{"original"}, after: []string{"original"}, states: []string{FilePlanned},
		},
		{
			name: "the files are written before any container is recreated, and stay", running: deployed(h, "a"),
			results:    []orchestrator.StepResult{result(h, "a-framework", orchestrator.ResultUpgraded), result(h, "a-node", orchestrator.ResultUpgraded)},
			atRecreate: []string{newFramework, newNode}, after: []string{newFramework, newNode}, states: []string{FileWritten},
			progress: "compose file FILE: written\n",
		},
		{
			name: "nothing upgraded: the file is restored byte for byte", running: deployed(h, "a"),
			results:    []orchestrator.StepResult{result(h, "a-framework", orchestrator.ResultRolledBack)},
			err:        failed,
			atRecreate: []string{newFramework, newNode}, after: []string{"original", oldFramework}, states: []string{FileRestored},
			progress: "compose file FILE: written\n",
		},
		{
			name: "the framework upgraded, the node rolled back: the framework's line stays", running: deployed(h, "a"),
			results:    []orchestrator.StepResult{result(h, "a-framework", orchestrator.ResultUpgraded), result(h, "a-node", orchestrator.ResultRolledBack)},
			err:        failed,
			atRecreate: []string{newFramework, newNode}, after: []string{newFramework, oldNode}, states: []string{FilePartlyKept}, kept: "framework",
			progress: "compose file FILE: written\n",
		},
		{
			name: "an upgrade that ends before the projects are planned has no report and leaves the files", running: deployed(h, "a"),
			before: fault.Refused, err: fault.Refused,
			after: []string{"original"},
		},
		{
			name:       "services without container: the files are still written, and nothing is selected",
			atRecreate: nil, after: []string{newFramework, newNode}, states: []string{FileWritten},
			progress: "compose file FILE: written\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeProject(t, "a", h)
			original := read(t, file)
			fr := &fakeRun{t: t, file: file, states: states(tt.running...), before: tt.before,
				plan: []string{"a-framework", "a-node"}, results: tt.results, err: tt.err}
			if tt.running == nil {
				fr.states = states()
			}
			var progress, warnings bytes.Buffer
			rep, err := Upgrade(context.Background(), UpgradeOptions{
				Projects: Projects{Files: []string{file}}, Engines: Engines{Getenv: func(string) string { return "" }},
				Images: compose.ImageRequest{To: "v3.0.16", NodeImage: "tarscloud/tars-node:v2"}, DryRun: tt.dryRun,
				Progress: &progress, Warnings: &warnings,
				Connect: func(_ context.Context, specs []engine.HostSpec) ([]*engine.Host, error) {
					var hs []*engine.Host
					for _, s := range specs {
						hs = append(hs, &engine.Host{Spec: s})
					}
					return hs, nil
				},
				Run: fr.run,
			})
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if fr.calls != 1 || fr.opts.DryRun != tt.dryRun || fr.opts.Scope != "compose project a" {
				t.Errorf("Run called %d times with DryRun %v, Scope %q", fr.calls, fr.opts.DryRun, fr.opts.Scope)
			}
			check := func(when, got string, want []string) {
				t.Helper()
				for _, w := range want {
					if w == "original" && got != original || w != "original" && !strings.Contains(got, w) {
						t.Errorf("%s the file is\n%s\nwant %q in it", when, got, w)
					}
				}
			}
			check("at the first recreate", fr.atRecreate, tt.atRecreate)
			check("after the upgrade", read(t, file), tt.after)
			if got := strings.ReplaceAll(progress.String(), file, "FILE"); got != tt.progress {
				t.Errorf("progress = %q, want %q", got, tt.progress)
			}
			if tt.states == nil {
				if rep != nil {
					t.Errorf("report = %+v, want none", rep)
				}
				return
			}
			var got []string
			for _, f := range rep.Files {
				got = append(got, f.State)
				if f.Path != file || strings.Join(f.Kept, ",") != tt.kept {
					t.Errorf("file report %+v, want path %s, kept %q", f, file, tt.kept)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.states, ",") || rep.DryRun != tt.dryRun {
				t.Errorf("file states %v (dry run %v), want %v", got, rep.DryRun, tt.states)
			}
			if tt.running == nil && (fr.req != nil || !rep.Upgrade.NoTars) {
				t.Errorf("request %+v, NoTars %v: want nothing selected", fr.req, rep.Upgrade.NoTars)
			}
			if tt.running != nil && fr.req != nil && strings.Join(fr.req.Only, " ") != "a-framework a-node" {
				t.Errorf("Only = %v", fr.req.Only)
			}
		})
	}
}
