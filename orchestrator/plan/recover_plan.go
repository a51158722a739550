package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/tarsup/tarsup/images"
)

// Recovery step kinds.
const (
	// RecoverLeave changes nothing: the swap's tarsup is still at work, or
	// another container holds the name an old container would get back.
	RecoverLeave = "leave"
	// RecoverFail changes nothing and fails: a fact recovery needs could not
	// be read.
	RecoverFail = "fail"
	// RecoverGiveBack gives an old container aside, whose successor is
	// gone, its name back and starts it.
	RecoverGiveBack = "give back"
	// RecoverUndo removes a new container that never took over and puts the
	// old one back (renamed, started and gated as the step says).
	RecoverUndo = "undo"
	// RecoverFinish gates a new container that holds the name and removes
	// the old one; a new one that fails is rolled back (unless NoRollback).
	RecoverFinish = "finish"
)

// ActionNotASwap is the action of a journal that is not as tarsup leaves a
// swap (Swap.Problem): nothing is done to it.
const ActionNotASwap = "none: not a swap tarsup left"

// RecoveryStep is what recovery does to one interrupted swap.
type RecoveryStep struct {
	Kind string
	Swap Swap
	// Action is what the report calls it; Result, for RecoverLeave and
	// RecoverFail, what it reports.
	Action, Result string
	// RenameOld (undo): the old container is aside and gets its name back.
	// Blocked (undo): another container holds the name; the step fails.
	RenameOld bool
	Blocked   string
	// Reattach (undo): the networks the old container is connected to
	// again, before the new one goes.
	Reattach []Reattach
	// StartOld (undo): the old container ran and is started and gated.
	StartOld bool
	// StartNew and GateNew (finish): the new container is started (it is
	// stopped and the old one ran) and gated (the old one ran).
	StartNew, GateNew bool
	// StopTimeout is the seconds a container gets to stop (the old
	// container's own, else --stop-timeout); NoRollback is --no-rollback.
	StopTimeout int
	NoRollback  bool
	// OldRole and NewRole are what the gates judge each container by.
	OldRole, NewRole images.Role
}

// RecoveryPlan is the ordered recovery of one engine.
type RecoveryPlan struct {
	Steps []RecoveryStep
	// LeftAlone are the rows of the containers under tarsup's temporary
	// names that are not tarsup's: nothing is done to them, and recovery
	// (the dry run and the real one) says so after its steps.
	LeftAlone []Recovery
	// Lock, in a dry run that found another tarsup's engine lock (or a
	// container of that name that is not tarsup's), says what a real
	// recover does about it; it comes first.
	Lock *Recovery
	// Sweep, in a dry run, are the rows of the helper containers (probe
	// sidecars, database clients) that a tarsup which is gone left
	// behind: a real recover removes them when it takes the engine lock.
	// They come after Lock.
	Sweep []Recovery
}

// PlanRecovery decides, for each interrupted swap observed, how to finish or
// undo it so that each service runs as exactly one container under its
// original name. It is pure.
//
// Only tarsup's own swaps are observed (ObserveSwaps): a container it
// journaled, the old container that journal names, and an old container
// aside that an earlier tarsup upgrade of that service created. A swap whose
// tarsup still runs is left alone, unless force.
//
//   - the new container never got the name (killed before or during the
//     swap, or during a rollback): remove it, give the old one its name back,
//     start it if it was running and is stopped (a swap renames the old
//     container aside while it still runs);
//   - the new container holds the name and the old one is still aside
//     (stopped, or still running when the kill came before its stop): stop
//     the old one, start and gate the new one; healthy, remove the old one;
//     otherwise roll back;
//   - an old container aside whose successor is gone: give it its name back.
func PlanRecovery(swaps []Swap, force bool, pol Policy) RecoveryPlan {
	var p RecoveryPlan
	for _, s := range swaps {
		p.Steps = append(p.Steps, planSwap(s, force, pol))
	}
	return p
}

func planSwap(s Swap, force bool, pol Policy) RecoveryStep {
	st := RecoveryStep{Swap: s, StopTimeout: pol.stopTimeout(s.Old), NoRollback: pol.NoRollback, OldRole: s.Old.Role, NewRole: s.New.Role}
	switch {
	case s.Live && !force:
		// Why: only a swap whose tarsup is gone (or this run's own) is
		// ours to finish or undo; a live one is still under way.
		st.Kind, st.Action = RecoverLeave, "none"
		st.Result = fmt.Sprintf("left alone: tarsup %s started this upgrade at %s and is still running (`tarsup recover --force` if it is not)", s.Owner, s.Started.Format(time.RFC3339))
	case s.Problem != "":
		// Why a failure: tarsup's labels are there, not as it leaves them;
		// somebody must look, and nothing is touched meanwhile.
		st.Kind, st.Action, st.Result = RecoverFail, ActionNotASwap, s.Problem
	case s.Orphan:
		st.Kind, st.Action = RecoverGiveBack, "give the old container its name back"
		if s.Holder != "" {
			st.Kind, st.Result = RecoverLeave, "left alone: "+s.HolderName+" holds the name"
		}
	case s.Err != "":
		st.Kind, st.Result = RecoverFail, s.Err
	case s.Holder != s.New.ID:
		// The new container never took over: undo.
		st.Kind, st.Action = RecoverUndo, "undo: remove the new container, put the old one back"
		if s.Old.Name != s.Name {
			st.RenameOld = true
			if s.Holder != "" && s.Holder != s.Old.ID {
				st.Blocked = fmt.Sprintf("the name %s is held by another container (%s): rename or remove it, then run tarsup recover again", s.Name, Short(s.Holder))
			}
		}
		st.Reattach = Reattachments(s.Old, s.New.ID, s.NewNetworks)
		// Why not when it runs: a swap renames the old container aside
		// while it still serves and stops it only then; killed in between,
		// it never went down, and gets its name back as it runs.
		st.StartOld = s.WasUp && !s.Old.Running
	default:
		// The new container holds the name: finish if it is healthy.
		st.Kind, st.Action = RecoverFinish, "finish: gate the new container, remove the old one"
		st.StartNew = !s.New.Running && s.WasUp
		st.GateNew = s.WasUp
	}
	return st
}

// String is the dry run of a recovery: one line per swap, with what would be
// done to it.
func (p RecoveryPlan) String() string {
	var b strings.Builder
	for _, r := range p.Recoveries() {
		fmt.Fprintf(&b, "%s on %s: %s: %s\n", r.Name, r.Host, r.Action, r.Result)
	}
	return b.String()
}

// Recoveries renders the plan as the report of a run that would carry it
// out: each Result says what would be done ("would: …").
func (p RecoveryPlan) Recoveries() []Recovery {
	var out []Recovery
	if p.Lock != nil {
		out = append(out, *p.Lock)
	}
	out = append(out, p.Sweep...)
	for _, st := range p.Steps {
		r := Recovery{Host: st.Swap.Host, Name: st.Swap.Name, Action: st.Action, Result: st.Result}
		switch st.Kind {
		case RecoverFail:
			r.Result = "would fail: " + st.Result
		case RecoverGiveBack, RecoverUndo, RecoverFinish:
			r.Result = "would: " + strings.Join(st.ops(), ", ")
		}
		out = append(out, r)
	}
	return append(out, p.LeftAlone...)
}

// ops lists a step's engine operations, in order.
func (st RecoveryStep) ops() []string {
	s := st.Swap
	gate := func(restore string) string {
		if restore == RestoreRunning {
			return "check it stays up"
		}
		return "gate it"
	}
	switch st.Kind {
	case RecoverGiveBack:
		return append(stopRestarting(st), "rename "+s.Old.Name+" -> "+s.Name, "start "+s.Name)
	case RecoverUndo:
		ops := []string{fmt.Sprintf("stop %s (%ds)", s.New.Name, st.StopTimeout)}
		if st.Blocked != "" {
			return append(ops, "then fail: "+st.Blocked)
		}
		if st.RenameOld {
			ops = append(append(ops, stopRestarting(st)...), "rename "+s.Old.Name+" -> "+s.Name)
		}
		for _, r := range st.Reattach {
			ops = append(ops, "connect "+s.Name+" to "+r.Network+" again")
		}
		ops = append(ops, "remove "+s.New.Name)
		if st.StartOld {
			ops = append(ops, "start "+s.Name, gate(s.Restore))
		} else if st.RenameOld && s.Old.State == "restarting" {
			ops = append(ops, "start "+s.Name)
		}
		return ops
	case RecoverFinish:
		ops := []string{fmt.Sprintf("stop %s (%ds)", s.Old.Name, st.StopTimeout)}
		if st.StartNew {
			ops = append(ops, "start "+s.Name)
		}
		if st.GateNew {
			ops = append(ops, "gate "+s.Name)
		}
		ops = append(ops, "remove "+s.Old.Name)
		if st.GateNew {
			fallback := "roll back if it fails"
			if st.NoRollback {
				fallback = "leave it for inspection if it fails (--no-rollback)"
			}
			ops = append(ops, fallback)
		}
		return ops
	}
	return nil
}

// stopRestarting is the stop before the rename of an old container aside
// that is in a restart loop: the engine renames such a one only stopped.
func stopRestarting(st RecoveryStep) []string {
	if st.Swap.Old.State != "restarting" {
		return nil
	}
	return []string{fmt.Sprintf("stop %s (%ds; it is restarting, and the engine renames it only stopped)", st.Swap.Old.Name, st.StopTimeout)}
}
