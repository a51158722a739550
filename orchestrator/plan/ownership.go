package plan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/swapname"
)

// Which containers are tarsup's. Why this matters: the names tarsup uses
// (NAME.tarsup-new, NAME.tarsup-old, NAME.tarsup-failed, tarsup-lock) are
// ordinary container names that anybody may have given a container. Only a
// container that carries tarsup's journal labels, or the old container a
// journal names by ID, is ever renamed, started, stopped or removed as part
// of a swap; any other holder of one of those names is a clash, refused in
// pre-flight (exit 3) before anything is stopped.

// Journal is one upgrade found on an engine: the container it created and
// the one it replaces, as their labels and names record them.
type Journal struct {
	Name    string             // the service's name
	NewC    *container.Summary // the container the upgrade created; nil for an orphan
	OldC    *container.Summary // the container it replaces; nil once removed
	WasUp   bool               // the old container was running
	Restore string             // what the old container's gate asks once back (LabelTxnRestore)
	Orphan  bool               // an old container aside with no successor
	// Problem says why the journal is not as tarsup leaves a swap (see
	// journalProblem, strayProblem): recovery then touches neither
	// container. "" for a swap recovery finishes or undoes.
	Problem string
}

// Swaps is the journal analysis of one engine's container list.
type Swaps struct {
	// Journals are the swaps left to finish or undo.
	Journals []Journal
	// owned holds the IDs of the containers that take part in a swap
	// tarsup journaled: the containers it created and the old containers
	// their journals name.
	owned map[string]bool
	// pending maps the ID of each container of an unfinished swap to the
	// service's name.
	pending map[string]string
}

// FindSwaps reads tarsup's journal from a container list: each container an
// upgrade created names the container it replaces (LabelTxnOld). An old
// container aside (NAME.tarsup-old) counts only when a journal names it, or
// when it was itself created by an earlier tarsup upgrade of NAME (its own
// labels say so) and its successor is gone. A journal that is not as tarsup
// leaves one, and a journaled container under a temporary name that takes
// part in no swap, are journals with a Problem.
func FindSwaps(list []container.Summary) Swaps {
	byID := map[string]*container.Summary{}
	for i := range list {
		byID[list[i].ID] = &list[i]
	}
	s := Swaps{owned: map[string]bool{}, pending: map[string]string{}}
	claims := map[string][]*container.Summary{} // old container ID -> the journaled containers that name it
	for i := range list {
		c := &list[i]
		if c.Labels[LabelTxn] == "" {
			continue
		}
		s.owned[c.ID] = true
		if old := byID[c.Labels[LabelTxnOld]]; old != nil && old.ID != c.ID {
			claims[old.ID] = append(claims[old.ID], c)
			s.owned[old.ID] = true
		}
	}
	for i := range list {
		c := &list[i]
		old := byID[c.Labels[LabelTxnOld]]
		if c.Labels[LabelTxn] == "" || old == nil || old.ID == c.ID {
			continue // not journaled, or finished: the old container is gone
		}
		s.add(Journal{Name: journalName(c), NewC: c, OldC: old, WasUp: c.Labels[LabelTxnOldRunning] == "true", Restore: restoreOf(c),
			Problem: journalProblem(c, old, claims[old.ID])})
	}
	for i := range list {
		if c := &list[i]; s.pending[c.ID] == "" && swapname.IsTemporary(NameOf(*c)) && c.Labels[LabelTxn] != "" {
			s.add(stray(c))
		}
	}
	return s
}

// stray is the journal of a container that carries tarsup's labels under a
// temporary name and takes part in no swap: an old container aside that
// an earlier upgrade of that service created, whose successor is gone (an
// orphan, given its name back), or one with a Problem.
func stray(c *container.Summary) Journal {
	service := strings.TrimSuffix(NameOf(*c), swapname.Old)
	// Why only these: a container of the user's that happens to be named
	// X.tarsup-old is not an upgrade of X, and giving it the name X and
	// starting it would run something nobody asked for.
	if service != NameOf(*c) && c.Labels[LabelTxnName] == service {
		return Journal{Name: service, OldC: c, Orphan: true, WasUp: true}
	}
	return Journal{Name: journalName(c), NewC: c, Problem: strayProblem(c)}
}

// add records a journal and marks its containers as pending.
func (s *Swaps) add(j Journal) {
	for _, c := range []*container.Summary{j.NewC, j.OldC} {
		if c != nil {
			s.pending[c.ID] = j.Name
		}
	}
	s.Journals = append(s.Journals, j)
}

// Owner returns the tarsup process that journaled a swap and when it began;
// ok is false when nothing names one. An old container aside with no
// successor names none: its labels are those of the earlier upgrade that
// created it, and no swap under way leaves that state (the successor, which
// carries the journal, always goes last).
func (j Journal) Owner() (o owner.Owner, started time.Time, ok bool) {
	if j.NewC == nil {
		return owner.Owner{}, time.Time{}, false
	}
	o, ok = owner.ParseOwner(j.NewC.Labels[LabelTxnOwner])
	started, _ = time.Parse(time.RFC3339, j.NewC.Labels[LabelTxnStarted])
	return o, started, ok
}

// NameHolder is a container under one of the names tarsup needs for its
// swaps (NAME.tarsup-new, NAME.tarsup-old, NAME.tarsup-failed).
type NameHolder struct {
	Name  string
	ID    string
	Image string
	// Tarsup is true when the container takes part in a swap tarsup
	// journaled; false for anybody else's container.
	Tarsup bool
}

// NameHolders lists the containers under tarsup's temporary names.
func NameHolders(list []container.Summary, s Swaps) []NameHolder {
	var out []NameHolder
	for _, c := range list {
		if n := NameOf(c); swapname.IsTemporary(n) {
			out = append(out, NameHolder{Name: n, ID: c.ID, Image: c.Image, Tarsup: s.owned[c.ID]})
		}
	}
	return out
}

// checkClashes refuses a plan when a name one of its steps needs is taken:
// a swap of NAME creates NAME.tarsup-new and renames containers to
// NAME.tarsup-old and NAME.tarsup-failed, and a taken name found only then
// means the old container was already stopped (an outage for nothing). It is
// pure: HostState.Holders is the observed fact.
func checkClashes(steps []Step, all []HostState) error {
	held := map[string]NameHolder{}
	for _, s := range all {
		for _, h := range s.Holders {
			held[s.Host+" "+h.Name] = h
		}
	}
	var errs []error
	for _, st := range steps {
		for _, suffix := range []string{swapname.New, swapname.Old, swapname.Failed} {
			h, ok := held[st.Host+" "+st.Container.Name+suffix]
			if !ok {
				continue
			}
			if h.Tarsup {
				errs = append(errs, fmt.Errorf("%s (%s) on %s is left from an upgrade of %s that is unfinished (interrupted, or another tarsup's still under way): run `tarsup recover` (or wait for the other tarsup), then run tarsup again",
					h.Name, Short(h.ID), st.Host, st.Container.Name))
				continue
			}
			errs = append(errs, fmt.Errorf("%s (%s, image %s) on %s holds the name %s, which tarsup needs to upgrade %s, and tarsup did not create it: rename it (docker rename %s OTHER-NAME) or remove it, then run tarsup again; nothing was changed",
				h.Name, Short(h.ID), h.Image, st.Host, h.Name, st.Container.Name, h.Name))
		}
	}
	if len(errs) > 0 {
		return fault.Mark(fault.Refused, fmt.Errorf("refused: %w", errors.Join(errs...)))
	}
	return nil
}
