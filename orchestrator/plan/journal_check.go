package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/swapname"
)

// Which journals recovery may act on. Why this matters: labels are plain
// strings anybody can write (a container cloned from `docker inspect`, an
// image committed from one of tarsup's containers, a script), and acting on
// a journal means stopping, renaming and removing the containers it names.
// A swap tarsup leaves has one shape: the new container is NAME,
// NAME.tarsup-new or NAME.tarsup-failed, the old one NAME or
// NAME.tarsup-old, one new container per old one, and label values tarsup
// writes. Anything else is left alone, and recovery says which container it
// is and what to do.

// journalProblem says why the journal on c, which names old, is not one
// tarsup leaves ("" when it is). claimants are the journaled containers
// that name old, c among them.
func journalProblem(c, old *container.Summary, claimants []*container.Summary) string {
	name, cur, oldName := c.Labels[LabelTxnName], NameOf(*c), NameOf(*old)
	what := fmt.Sprintf("%s (%s) carries tarsup's journal labels", cur, Short(c.ID))
	switch {
	case name == "":
		return fmt.Sprintf("%s but names no service (%s is empty, %s names %s): %s", what, LabelTxnName, LabelTxnOld, oldName, leftAlone(cur))
	case cur != name && cur != name+swapname.New && cur != name+swapname.Failed:
		return fmt.Sprintf("%s of an upgrade of %s, under a name such an upgrade never gives it: %s", what, name, leftAlone(cur))
	case oldName != name && oldName != name+swapname.Old:
		return fmt.Sprintf("%s of an upgrade of %s that replaces %s (%s), a container under a name such an upgrade never gives it: %s", what, name, oldName, Short(old.ID), leftAlone(cur))
	case len(claimants) > 1:
		var names []string
		for _, o := range claimants {
			names = append(names, fmt.Sprintf("%s (%s)", NameOf(*o), Short(o.ID)))
		}
		return fmt.Sprintf("%s both carry the journal of an upgrade of %s that replaces %s (%s); an upgrade leaves one such container, so tarsup cannot tell which is its own: all are left alone; remove the one that is not (docker rm NAME), then run tarsup recover again",
			strings.Join(names, " and "), name, oldName, Short(old.ID))
	}
	return labelProblem(c, what, cur)
}

// labelProblem says which of the journal's values on c is one tarsup
// never writes ("" when none is). A missing value is no problem: journals
// of earlier versions lack the owner, the start time and the restore demand.
func labelProblem(c *container.Summary, what, cur string) string {
	bad := func(label, want string) string {
		return fmt.Sprintf("%s with %s=%q, where tarsup writes %s: %s", what, label, c.Labels[label], want, leftAlone(cur))
	}
	if v, ok := c.Labels[LabelTxnOldRunning]; ok && v != "true" && v != "false" {
		return bad(LabelTxnOldRunning, "true or false")
	}
	if v, ok := c.Labels[LabelTxnRestore]; ok && v != RestoreHealthy && v != RestoreRunning {
		return bad(LabelTxnRestore, RestoreHealthy+" or "+RestoreRunning)
	}
	if v, ok := c.Labels[LabelTxnOwner]; ok {
		if _, parsed := owner.ParseOwner(v); !parsed {
			return bad(LabelTxnOwner, "MACHINE/PID/START")
		}
	}
	if v, ok := c.Labels[LabelTxnStarted]; ok {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return bad(LabelTxnStarted, "an RFC 3339 time")
		}
	}
	return ""
}

// strayProblem says why c, which carries tarsup's journal labels under a
// temporary name and takes part in no swap on the engine, is left alone.
func strayProblem(c *container.Summary) string {
	name, cur := c.Labels[LabelTxnName], NameOf(*c)
	what := fmt.Sprintf("%s (%s) carries tarsup's journal labels", cur, Short(c.ID))
	if name != "" && (cur == name+swapname.New || cur == name+swapname.Failed) {
		return fmt.Sprintf("%s is the new container of an upgrade of %s whose old container (%s) is gone (removed by hand?); it never passed its gate, and there is nothing to put back: it is left alone; to run it: docker rename %s %s && docker start %s; to drop it: docker rm %s",
			cur, name, Short(c.Labels[LabelTxnOld]), cur, name, name, cur)
	}
	if name == "" {
		return fmt.Sprintf("%s but names no service (%s is empty): %s", what, LabelTxnName, leftAlone(cur))
	}
	return fmt.Sprintf("%s of an upgrade of %s, under a name such an upgrade never gives it: %s", what, name, leftAlone(cur))
}

// leftAlone is the fix for a container recovery does not touch.
func leftAlone(name string) string {
	return fmt.Sprintf("tarsup did not leave it so, and it is left alone: look at it (docker inspect %s), rename or remove it, then run tarsup recover again", name)
}

// journalName is the name a journal's report row goes under: the service
// it names, else the container's own.
func journalName(c *container.Summary) string {
	if n := c.Labels[LabelTxnName]; n != "" {
		return n
	}
	return NameOf(*c)
}
