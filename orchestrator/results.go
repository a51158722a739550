package orchestrator

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// NotRun returns the steps a cancelled run did not start.
func NotRun(results []StepResult) []StepResult {
	var out []StepResult
	for _, r := range results {
		if r.Interrupted {
			out = append(out, r)
		}
	}
	return out
}

// interruptedError says what a cancelled run left undone; nil when nothing.
func interruptedError(p plan.Plan, results []StepResult) error {
	notRun := NotRun(results)
	if len(notRun) == 0 {
		return nil
	}
	var names []string
	for _, r := range notRun {
		names = append(names, stepName(p, r.Step)+" ("+stepWhat(p, r.Step)+")")
	}
	msg := fmt.Sprintf("interrupted: the step under way finished; %d step(s) did not run: %s", len(notRun), strings.Join(names, ", "))
	if split := VersionSplit(p, results); split != "" {
		msg = split + "\n" + msg
	}
	return fault.Mark(fault.Interrupted, errors.New(msg))
}

// stepName names a step's container, with its host when the plan spans several.
func stepName(p plan.Plan, s plan.Step) string {
	if p.MultiHost {
		return s.Container.Name + " on " + s.Host
	}
	return s.Container.Name
}

// stepWhat says what a step does, in a few words.
func stepWhat(p plan.Plan, s plan.Step) string {
	switch s.Kind {
	case plan.StepRecheck:
		return "re-check"
	case plan.StepReregister:
		return "registration check " + s.Cause
	}
	return "recreate " + s.FromLabel() + " -> " + s.ToLabel()
}

// VersionSplit says, after a run that did not finish, which framework hosts
// of one deployment now run different versions (the state the version-skew
// rule refuses) and how to finish; "" when there are none.
func VersionSplit(p plan.Plan, results []StepResult) string {
	type host struct{ name, version string }
	byDep := map[string][]host{}
	var deps []string
	upgradedTo := map[string]map[string]bool{} // deployment -> the commands that finish it
	for _, r := range results {
		c := r.Step.Container
		if c.Role != images.RoleFramework || r.Step.Kind == plan.StepRecheck {
			continue
		}
		dep := plan.DeploymentOf(c)
		if _, ok := byDep[dep]; !ok {
			deps = append(deps, dep)
			upgradedTo[dep] = map[string]bool{}
		}
		v := c.Version
		if r.Result == ResultUpgraded {
			v = plan.AfterVersion(c, &r.Step)
			how := "the same tarsup upgrade"
			if strings.HasPrefix(r.Step.Cause, "--to ") {
				how = "tarsup upgrade " + r.Step.Cause
			}
			upgradedTo[dep][how] = true
		}
		byDep[dep] = append(byDep[dep], host{stepName(p, r.Step), v})
	}
	var out []string
	for _, dep := range deps {
		hosts := byDep[dep]
		versions := map[string]bool{}
		var parts []string
		for _, h := range hosts {
			versions[h.version] = true
			parts = append(parts, h.name+" "+h.version)
		}
		if len(versions) < 2 || len(upgradedTo[dep]) == 0 {
			continue
		}
		finish := "run the same tarsup upgrade again to finish"
		if len(upgradedTo[dep]) == 1 {
			for how := range upgradedTo[dep] {
				finish = "run " + how + " again to finish"
			}
		}
		out = append(out, "framework hosts are on different versions now: "+strings.Join(parts, ", ")+": "+finish)
	}
	return strings.Join(out, "\n")
}

// markLike marks err with the fault kind of like, if like has one, so that a
// joined or rewrapped error keeps its exit code.
func markLike(like, err error) error {
	if k := fault.Of(like); k != nil {
		return fault.Mark(k, err)
	}
	return err
}
