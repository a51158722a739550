package plan

import (
	"fmt"
	"strings"
	"time"
)

// RecheckWait is how long a node may take to answer again after a framework
// upgrade before its re-check restarts it.
const RecheckWait = 30 * time.Second

// WindowState is what the maintenance windows (--window) said when a
// refresh began, and which steps they held back. It is plain data; the
// refresh report carries it as "window".
type WindowState struct {
	// Windows are the specs, as given.
	Windows []string `json:"windows"`
	// Open is true when the refresh began inside a window.
	Open bool `json:"open"`
	// Closes is, when open, when that window closes.
	Closes time.Time `json:"closes,omitzero"`
	// NextOpen is the next opening (after Closes when open), in the zone of
	// its window; Zone names that zone.
	NextOpen time.Time `json:"next_open,omitzero"`
	Zone     string    `json:"zone,omitempty"`
	// Forced is true when the window was ignored (watch's POST
	// /v1/update?force=1).
	Forced bool `json:"forced,omitempty"`
	// Waiting names the containers whose steps wait for the next window:
	// outside a window, every one that moved; inside, those whose step
	// could not finish before the window closes.
	Waiting []string `json:"waiting,omitempty"`
}

// Admits reports whether steps may start now: inside a window, or forced.
func (w *WindowState) Admits() bool { return w == nil || w.Open || w.Forced }

// NextLine says when the next window opens, e.g. "the next opens
// 2026-01-03T02:00:00+08:00 (Asia/Shanghai)".
func (w *WindowState) NextLine() string {
	if w.NextOpen.IsZero() {
		return "no window opens again"
	}
	return fmt.Sprintf("the next opens %s (%s)", w.NextOpen.Format(time.RFC3339), w.Zone)
}

// summary is what the refresh's one line adds about the window.
func (w *WindowState) summary() string {
	switch {
	case w == nil:
		return ""
	case !w.Admits():
		return "; outside the maintenance window, nothing started: " + w.NextLine()
	case len(w.Waiting) > 0 && !w.Forced:
		return fmt.Sprintf("; %d %s for the next window (the window closes %s; %s)", len(w.Waiting), pick(len(w.Waiting), "step waits", "steps wait"),
			w.Closes.Format(time.RFC3339), w.NextLine())
	}
	return ""
}

// WaitingLine is the line a text report ends with when steps wait for the
// next window; "" when none does.
func (w *WindowState) WaitingLine() string {
	if w == nil || len(w.Waiting) == 0 || !w.Admits() {
		return ""
	}
	return fmt.Sprintf("the maintenance window closes %s, too soon to start %s: %s for the next window; %s",
		w.Closes.Format(time.RFC3339), strings.Join(w.Waiting, ", "), pick(len(w.Waiting), "it waits", "they wait"), w.NextLine())
}

// stepTime is the longest a step may take once started, if it succeeds:
// a recreate's stop timeout, then the gate's --health-timeout and
// --monitor (a stopped container's swap is neither stopped, started nor
// gated); a re-check's wait for the node, a restart and a gate; a
// registration check's wait, a restart and a second wait.
func (pol Policy) stepTime(st Step) time.Duration {
	stop := time.Duration(st.StopTimeout) * time.Second
	switch st.Kind {
	case StepRecreate:
		return stop + pol.GateTime
	case StepRecheck:
		return RecheckWait + stop + pol.GateTime
	case StepReregister:
		return 2*st.Reg.Timeout + stop
	}
	return 0
}

// phaseTime is the longest a phase of checks takes: its rounds of
// Parallel steps, each as long as its longest step.
func (pol Policy) phaseTime(ph Phase) time.Duration {
	par := max(ph.Parallel, 1)
	rounds := (len(ph.Steps) + par - 1) / par
	var longest time.Duration
	for _, st := range ph.Steps {
		longest = max(longest, pol.stepTime(st))
	}
	return time.Duration(rounds) * longest
}

// applyWindow gives each recreate step, when a maintenance window bounds
// the run (pol.Closes), the latest instant it may start (NotAfter): the
// executor starts no step after it, and none after one it held back. A
// step's time counts with the checks that follow its phase (the node
// re-check and the registration checks): they check what it did, and run
// even after the window held a later step back.
//
// Why the framework phases as one: a master upgraded without its slaves
// leaves the deployment on two versions until the next window, so the
// master starts only when every framework step after it, and the checks
// after them, fit too. Nodes are independent: each fits (with the checks
// after the nodes) or waits on its own. Checks carry no limit of their
// own. It is pure, and may run again on a plan that grew.
func (pol Policy) applyWindow(p *Plan) {
	if pol.Closes.IsZero() {
		return
	}
	var tail time.Duration
	for i := len(p.Phases) - 1; i >= 0; i-- {
		ph := &p.Phases[i]
		switch {
		case ph.Always:
		case ph.Checks:
			tail += pol.phaseTime(*ph)
		case ph.StopOnFailure:
			for j := len(ph.Steps) - 1; j >= 0; j-- {
				tail += pol.stepTime(ph.Steps[j])
				ph.Steps[j].NotAfter = pol.Closes.Add(-tail)
			}
		default:
			for j := range ph.Steps {
				ph.Steps[j].NotAfter = pol.Closes.Add(-pol.stepTime(ph.Steps[j]) - tail)
			}
			// Why reset: the framework before the nodes need not leave
			// room for the nodes' checks; those run only after a node did.
			tail = 0
		}
	}
}

// windowSuffix is what a recreate line says of its NotAfter.
func (s Step) windowSuffix() string {
	if s.NotAfter.IsZero() {
		return ""
	}
	return "; starts only until " + s.NotAfter.Format(time.RFC3339) + " (maintenance window)"
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
