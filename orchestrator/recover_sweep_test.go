package orchestrator

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestDryRunNamesDeadHelpers: the helpers a tarsup that is gone left
// behind (a probe sidecar, a database client) are what a real recover
// removes as it takes the engine lock, so the dry run names them; a
// live tarsup's, this process's own, and one that names no owner are
// nobody's to remove, and neither run touches or names them.
func TestDryRunNamesDeadHelpers(t *testing.T) {
	f := newFakeEngine(t)
	x, h := fakeExecutor(f)
	self := x.Self
	dead := owner.Owner{Machine: self.Machine, PID: os.Getppid(), Start: "1"}
	live := owner.Owner{Machine: self.Machine, PID: os.Getppid(), Start: owner.ProcStart(os.Getppid())}
	now := time.Now().UTC().Format(time.RFC3339)
	add := func(name, probe string, by *owner.Owner) {
		c := f.add(name, "tarsup-probe:x", false)
		c.Config.Labels[plan.LabelProbe] = probe
		if by != nil {
			c.Config.Labels[plan.LabelTxnOwner] = by.String()
			c.Config.Labels[plan.LabelTxnStarted] = now
		}
	}
	add("dead_sidecar", "1", &dead)
	add("dead_client", "db-client", &dead)
	add("live_sidecar", "1", &live)
	add("own_sidecar", "1", &self)
	add("nobodys", "1", nil)
	p, err := x.PlanRecover(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	got := p.String()
	for _, n := range []string{"dead_sidecar on fake: probe sidecar: would: remove it", "dead_client on fake: tarsup helper (tarsup.probe=db-client): would: remove it"} {
		if !strings.Contains(got, n) {
			t.Errorf("dry run lacks %q:\n%s", n, got)
		}
	}
	for _, n := range []string{"live_sidecar", "own_sidecar", "nobodys"} {
		if strings.Contains(got, n) {
			t.Errorf("dry run names %s, which no recover removes:\n%s", n, got)
		}
	}
	x.sweepProbes(context.Background(), h)
	var left []string
	for _, c := range f.containers {
		left = append(left, f.name(c.ID))
	}
	if strings.Join(slices.Sorted(slices.Values(left)), " ") != "live_sidecar nobodys own_sidecar" {
		t.Errorf("after the sweep: %v, want the live, own and unowned ones", left)
	}
}
