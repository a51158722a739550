package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/swapname"
)

// RecoveryFacts is what recovery observes on one engine: the swaps, the
// containers under tarsup's temporary names that are not tarsup's, and the
// engine lock.
type RecoveryFacts struct {
	Host  string
	Swaps []Swap
	// Foreign are the containers under tarsup's temporary names that no
	// journal of tarsup's names (NameHolders with Tarsup false).
	Foreign []NameHolder
	// Lock is the engine lock as found.
	Lock EngineLock
}

// EngineLock is the engine lock container as observed.
type EngineLock struct {
	// Name and Label are the lock container's name and the label that
	// makes it tarsup's (lock.EngineLockName, lock.LabelLock).
	Name, Label string
	// Held says a container holds Name; Tarsup that it carries Label
	// (else it is somebody else's container, of Image).
	Held, Tarsup bool
	Image        string
	// Owner is the tarsup that holds it (Named false when the label names
	// none), since Started; Live whether it may still be at work; Mine
	// whether it is this process.
	Owner      owner.Owner
	Named      bool
	Started    time.Time
	Live, Mine bool
}

// ActionLock is the action of the engine lock's row in a dry run.
const ActionLock = "engine lock"

// PlanRecoveryOf plans one engine's recovery from what was observed there:
// the swaps' steps (PlanRecovery), a row for each container under a
// temporary name that is not tarsup's (left alone, saying so) and, for a
// dry run that found another tarsup's lock, what a real recover does about
// it (a real recover plans under its own lock, which needs no row).
func PlanRecoveryOf(f RecoveryFacts, force bool, pol Policy) RecoveryPlan {
	p := PlanRecovery(f.Swaps, force, pol)
	for _, h := range f.Foreign {
		p.LeftAlone = append(p.LeftAlone, Recovery{Host: f.Host, Name: h.Name, Action: "none",
			Result: fmt.Sprintf("left alone: not tarsup's (no journal of tarsup's names it, image %s); it holds a name tarsup needs to upgrade %s: rename or remove it before upgrading %s",
				h.Image, serviceOf(h.Name), serviceOf(h.Name))})
	}
	if r, ok := lockRow(f.Host, f.Lock, force); ok {
		p.Lock = &r
	}
	return p
}

// lockRow says what a real recover does about an engine lock a dry run
// found; ok is false when there is nothing to say (no lock, or this
// process's own).
func lockRow(host string, l EngineLock, force bool) (Recovery, bool) {
	r := Recovery{Host: host, Name: l.Name, Action: ActionLock}
	by := fmt.Sprintf("held by tarsup %s since %s", l.Owner, l.Started.Format(time.RFC3339))
	if !l.Named {
		by = "held by a tarsup that does not name itself"
	}
	switch {
	case !l.Held || l.Mine:
		return r, false
	case !l.Tarsup:
		r.Result = fmt.Sprintf("%s is not tarsup's (no %s label, image %s): a real recover refuses (exit 3), also with --force: rename or remove it", l.Name, l.Label, l.Image)
	case force:
		r.Result = by + ": a real recover --force takes it over"
	case l.Live:
		r.Result = by + ", which is still running: a real recover waits for it (--lock-wait DUR), else exits 3; if that process is gone, tarsup recover --force takes it over"
	default:
		r.Result = by + ", which is gone: a real recover takes it over"
	}
	return r, true
}

// serviceOf is the service a temporary name is for.
func serviceOf(name string) string {
	for _, s := range []string{swapname.New, swapname.Old, swapname.Failed} {
		if n, ok := strings.CutSuffix(name, s); ok {
			return n
		}
	}
	return name
}
