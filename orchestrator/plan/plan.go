// Package plan is the pure middle of observe -> plan -> execute: the
// observed facts (Container, HostState, Swap, Preflight) and the rules that
// turn them into ordered steps (BuildPlan, Select, PlanRecovery,
// RollbackStep, Derive). No context, no client, no clock: tests give it
// literals and compare the plan's String().
package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/images"
)

// Resolved is what is known of a target image on one engine: after a pull,
// its inspection; in a dry run, at most the registry's digest.
type Resolved struct {
	Image image.InspectResponse
	// Digest is the registry's manifest digest of the target tag, if known.
	Digest string
}

// ResolveKey names a target reference on one host.
func ResolveKey(host, ref string) string { return host + " " + ref }

// Step is one thing the executor does: a recreate (a container, what it
// runs and what it will run), a re-check or a cleanup, as Kind says.
type Step struct {
	Host       string
	Container  Container
	From, To   string // references
	FromDigest string
	ToDigest   string
	Target     image.InspectResponse
	Cause      string
	// Spec is the new container's configuration; Previous the old one's,
	// kept on the new container for `tarsup rollback`.
	Spec     Spec
	Previous Spec
	// Pins are the addresses the new container asks for (the old one's);
	// IPChanges those it cannot keep, allowed by --allow-ip-change.
	Pins      []Pin
	IPChanges []LostAddress
	// Labels are the candidate's label overrides, already in Spec.
	Labels map[string]string
	// Before is what the pre-flight probe found of the container: was it
	// healthy before the upgrade (yes, no and why, not probed).
	Before HealthBefore
	// Restore is what a rollback asks of the old container once it is
	// back: RestoreHealthy, or RestoreRunning when it was not healthy
	// before ("" counts as RestoreHealthy).
	Restore string

	// Kind says what the step does (StepRecreate, StepRecreateStopped,
	// StepRecheck, StepReregister, StepCleanupImage).
	Kind string
	// StopTimeout is how many seconds the container gets to stop before it
	// is killed: its own configuration's, else --stop-timeout.
	StopTimeout int
	// GateRole is the role the health gate judges the new (or restarted)
	// container by.
	GateRole images.Role
	// NoRollback leaves a failed new container in place for inspection
	// (--no-rollback) instead of rolling back.
	NoRollback bool
	// Announce makes the gate's sidecar announce the new container's IPv4
	// addresses as it starts (--announce; Policy.applyAnnounce decides).
	Announce bool
	// NotAfter is the latest instant the step may start (zero: any time):
	// a maintenance window closes before a later start could finish. The
	// executor starts neither it nor any later step after that.
	NotAfter time.Time
	// Image and ImageTags are what a cleanup removes (its tags, or the image
	// by ID when it has none); After and AfterNames the IDs and names of the
	// containers whose recreates must all have upgraded first.
	Image      string
	ImageTags  []string
	After      []string
	AfterNames []string
	// Reg is what a reregister step checks (the node's row before the
	// run); its After names the node's recreate, if the plan has one.
	Reg RegCheck
	// Hooks are the recreate's hooks in the order they run (HookPolicy);
	// each gets HookTimeout; PostHookFailure says what a failed post hook
	// does (PostHookRollback, PostHookWarn).
	Hooks           []Hook
	HookTimeout     time.Duration
	PostHookFailure string
}

// Step kinds: what a step does. The executor switches on them and decides
// nothing else.
const (
	// StepRecreate swaps a running container for one made from Spec,
	// starts it and gates it.
	StepRecreate = "recreate"
	// StepRecreateStopped swaps a stopped container: the new one is neither
	// started nor gated; it runs the new image when the operator starts it.
	StepRecreateStopped = "recreate, left stopped"
	// StepRecheck probes a node after a framework upgrade and, when it no
	// longer answers, restarts it once and gates it.
	StepRecheck = "recheck"
	// StepReregister waits until a node that was active in
	// db_tars.t_node_info before the run is active again, at the same
	// endpoint_ip, heartbeating since the step began, within Reg.Timeout;
	// one that is not is restarted once and waited for again. It does not
	// run when the node's recreate (After) failed or was left for
	// inspection.
	StepReregister = "reregister"
	// StepCleanupImage removes an old image (each tag of it, or the image
	// itself) once the steps named in After have upgraded: observation saw no
	// other container use it.
	StepCleanupImage = "cleanup image"
)

// Phase is a group of steps run in order, with its own policy: the executor
// obeys it and keys nothing on the phase's name.
type Phase struct {
	Name  string // "framework master", "framework hosts", "node re-check", "registration after the framework", "nodes", "registration after the nodes", "cleanup"
	Steps []Step
	// Parallel lets that many steps run at once (1 when zero).
	Parallel int
	// StopOnFailure: a failed step starts no further step of the phase and
	// ends the run (the framework phases and the re-check).
	StopOnFailure bool
	// MaxFailures: no new step of the phase starts once more than this many
	// of its steps failed (--max-failures; the nodes).
	MaxFailures int
	// Always: the phase runs even after an earlier one ended the run (the
	// cleanup, whose steps each say which upgrades they wait for).
	Always bool
	// Checks: the phase checks what the recreates before it did (the node
	// re-check, the registration checks) and recreates nothing. After a
	// maintenance window held a step back it still runs, when one of those
	// recreates upgraded; the planner left room for it.
	Checks bool
}

// Plan is the ordered work of an upgrade.
type Plan struct {
	Phases []Phase
	// MultiHost makes each step name its host.
	MultiHost bool
	// Snapshots are the database snapshots taken before the first phase
	// (set after planning, by the upgrade's snapshot hook): the dry run
	// shows them first.
	Snapshots []Snapshot
}

// Empty reports whether the plan recreates nothing.
func (p Plan) Empty() bool { return len(p.Steps()) == 0 }

// Steps returns every recreate step (left stopped or not) in order.
func (p Plan) Steps() []Step {
	var out []Step
	for _, ph := range p.Phases {
		for _, s := range ph.Steps {
			if s.Recreates() {
				out = append(out, s)
			}
		}
	}
	return out
}

// Recreates reports whether the step swaps its container for a new one.
func (s Step) Recreates() bool { return s.Kind == StepRecreate || s.Kind == StepRecreateStopped }

// String is the dry run: a line per phase with its policy, then one line per
// step with its cause.
func (p Plan) String() string {
	var b strings.Builder
	if len(p.Snapshots) > 0 {
		b.WriteString(SnapshotPhaseLine + "\n")
		for _, s := range p.Snapshots {
			b.WriteString(s.Line(p.MultiHost) + "\n")
		}
	}
	for _, ph := range p.Phases {
		if len(ph.Steps) == 0 {
			continue
		}
		b.WriteString(ph.Line() + "\n")
		for _, s := range ph.Steps {
			b.WriteString(s.String(p.MultiHost) + "\n")
		}
	}
	if b.Len() == 0 {
		return "nothing to do: every Tars container runs its target image\n"
	}
	return b.String()
}

// Line renders a phase's policy, e.g. "# nodes: 2 at a time; no new step
// once more than 0 failed; stop timeout 30s".
func (ph Phase) Line() string {
	parts := []string{fmt.Sprintf("%d at a time", max(ph.Parallel, 1))}
	switch {
	case ph.StopOnFailure:
		parts = append(parts, "a failure ends the run")
	case ph.Always:
		parts = append(parts, "runs even after a failure ended the run")
	default:
		parts = append(parts, fmt.Sprintf("no new step once more than %d failed", ph.MaxFailures))
	}
	var timeouts []string
	seen := map[int]bool{}
	rollback, left := false, false
	for _, s := range ph.Steps {
		if s.Kind == StepRecreate {
			rollback, left = rollback || !s.NoRollback, left || s.NoRollback
		}
		if s.Kind == StepCleanupImage || seen[s.StopTimeout] {
			continue
		}
		seen[s.StopTimeout] = true
		timeouts = append(timeouts, fmt.Sprintf("%ds", s.StopTimeout))
	}
	if len(timeouts) > 0 {
		parts = append(parts, "stop timeout "+strings.Join(timeouts, ", "))
	}
	if rollback {
		parts = append(parts, "a failed gate rolls back")
	}
	if left {
		parts = append(parts, "a failed container is left for inspection (--no-rollback)")
	}
	return "# " + ph.Name + ": " + strings.Join(parts, "; ")
}

// String renders one step as its kind says; a recreate's hooks follow
// it, a line each.
func (s Step) String(withHost bool) string {
	switch s.Kind {
	case StepRecheck:
		return s.RecheckLine(withHost)
	case StepReregister:
		return s.ReregisterLine(withHost)
	case StepCleanupImage:
		return s.CleanupLine(withHost)
	}
	// Why lines of their own: the recreate line's format is what scripts
	// parse, and it stays as it is.
	lines := []string{s.Line(withHost)}
	if s.Kind == StepRecreateStopped {
		lines = append(lines, s.hostPrefix(withHost)+s.Container.Name+": left stopped (not started, not gated): it was stopped")
	}
	return strings.Join(append(lines, s.HookLines(withHost)...), "\n")
}

func (s Step) hostPrefix(withHost bool) string {
	if withHost {
		return s.Host + " "
	}
	return ""
}

// RecheckLine renders a re-check step.
func (s Step) RecheckLine(withHost bool) string {
	h := ""
	if withHost {
		h = s.Host + " "
	}
	return fmt.Sprintf("%s%s: re-check (probe, restart once if it does not answer): %s", h, s.Container.Name, s.Cause)
}

// CleanupLine renders a cleanup step, e.g. "sha256:ab12…: cleanup image
// (tarscloud/framework:v3.0.15) once tars-framework is upgraded".
func (s Step) CleanupLine(withHost bool) string {
	h := ""
	if withHost {
		h = s.Host + " "
	}
	what := "untagged"
	if len(s.ImageTags) > 0 {
		what = strings.Join(s.ImageTags, ", ")
	}
	return fmt.Sprintf("%s%s: cleanup image (%s) once %s upgraded: %s", h, Abbrev(s.Image), what, strings.Join(s.AfterNames, ", "), s.Cause)
}

// Line renders one step, e.g.
// "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:ab12… -> sha256:cd34…): --to v3.0.16".
func (s Step) Line(withHost bool) string {
	var b strings.Builder
	if withHost {
		b.WriteString(s.Host + " ")
	}
	fmt.Fprintf(&b, "%s: recreate %s -> %s (%s -> %s)", s.Container.Name, s.FromLabel(), s.ToLabel(), Abbrev(s.FromDigest), Abbrev(s.ToDigest))
	if s.Cause != "" {
		b.WriteString(": " + s.Cause)
	}
	if len(s.Pins) > 0 {
		var parts []string
		for _, p := range s.Pins {
			parts = append(parts, p.IP+" on "+p.Network)
		}
		b.WriteString("; pins " + strings.Join(parts, ", "))
	}
	if len(s.IPChanges) > 0 {
		var parts []string
		for _, l := range s.IPChanges {
			parts = append(parts, l.IP+" on "+l.Network)
		}
		b.WriteString("; may change " + strings.Join(parts, ", ") + " (--allow-ip-change)")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		fmt.Fprintf(&b, "; label %s -> %s", k, s.Labels[k])
	}
	if s.Before.State != "" && !s.Before.Healthy() {
		fmt.Fprintf(&b, " (%s before: %s)", s.Before.State, s.Before.Detail)
	}
	b.WriteString(s.windowSuffix())
	return b.String()
}

// FromLabel is the old side's short name: the tag, or the whole reference when
// the repository changes.
func (s Step) FromLabel() string { return sideLabel(s.From, s.To) }

// ToLabel is the new side's short name.
func (s Step) ToLabel() string { return sideLabel(s.To, s.From) }

func sideLabel(ref, other string) string {
	r, err := images.Parse(ref)
	if err != nil {
		return ref
	}
	o, err := images.Parse(other)
	if err != nil || o.Repository() != r.Repository() {
		return r.String()
	}
	if r.Digest() != "" && r.Tag() == "latest" && !strings.Contains(ref, ":latest") {
		return "@" + Abbrev(r.Digest())
	}
	return r.Tag()
}

// Abbrev shortens a digest for a plan line ("unknown" when there is none).
func Abbrev(d string) string {
	if d == "" {
		return "unknown"
	}
	if strings.HasPrefix(d, "sha256:") && len(d) > 11 {
		return d[:11] + "…"
	}
	return d
}
