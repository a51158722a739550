package orchestrator

import (
	"context"
	"time"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/window"
)

// admit applies the maintenance windows and --min-age to a check: it
// records what the windows say now and, inside a window (or forced),
// reads the creation time of each image a container would move to (once
// per repository:tag, only those) and holds back the ones too young.
// Outside a window nothing would start, so nothing more is asked of the
// registry; every container that moved waits for the next window.
func admit(ctx context.Context, states []plan.HostState, check plan.RefreshCheck, opts RefreshOptions, multiHost bool) (plan.RefreshCheck, error) {
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	check.Window = windowState(opts, now)
	if !check.Changes() {
		return check, nil
	}
	scope, err := plan.RefreshScope(states, opts.Only)
	if err != nil {
		return check, err
	}
	if !check.Window.Admits() {
		check.Window.Waiting = wouldMove(check, scope, multiHost)
		return check, nil
	}
	if opts.MinAge <= 0 {
		return check, nil
	}
	reg := opts.Registry
	if reg == nil {
		reg = &images.Registry{}
	}
	created := reg.Created(ctx, plan.AgeQueries(check, scope))
	return plan.ApplyMinAge(check, scope, created, opts.MinAge, now), nil
}

// windowState is what opts.Windows say at now; nil without windows.
func windowState(opts RefreshOptions, now time.Time) *plan.WindowState {
	if len(opts.Windows) == 0 {
		return nil
	}
	st := opts.Windows.At(now)
	ws := &plan.WindowState{Windows: opts.Windows.Strings(), Open: st.Open, Closes: st.Closes, NextOpen: st.NextOpen, Forced: opts.Force}
	if !st.NextOpen.IsZero() {
		ws.Zone = window.Zone(st.NextOpen)
	}
	return ws
}

// wouldMove names the containers a check would have the upgrade move:
// those whose tag moved and, with a newer framework tag, every framework
// and web container in scope (as RefreshRequest).
func wouldMove(check plan.RefreshCheck, scope []plan.Container, multiHost bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(name, host string) {
		if k := host + " " + name; !seen[k] {
			seen[k] = true
			out = append(out, nameOn(name, host, multiHost))
		}
	}
	for _, m := range check.Moved {
		add(m.Name, m.Host)
	}
	if check.NewerTag != "" {
		for _, c := range scope {
			if c.Role == images.RoleFramework || c.Role == images.RoleWeb {
				add(c.Name, c.Host)
			}
		}
	}
	return out
}

// waitingNames names the containers whose steps the window held back.
func waitingNames(results []StepResult, multiHost bool) []string {
	var out []string
	for _, r := range results {
		if r.Result == ResultWaiting {
			out = append(out, nameOn(r.Step.Container.Name, r.Step.Host, multiHost))
		}
	}
	return out
}

// allWaiting reports whether every step was held back by the window (and
// there was at least one).
func allWaiting(results []StepResult) bool {
	for _, r := range results {
		if r.Result != ResultWaiting {
			return false
		}
	}
	return len(results) > 0
}

func nameOn(name, host string, multiHost bool) string {
	if multiHost {
		return name + " on " + host
	}
	return name
}
