package orchestrator

import (
	"context"
	"testing"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestObserveOnce: an upgrade plans from the states its caller observed
// unless something may have changed them since.
func TestObserveOnce(t *testing.T) {
	tests := []struct {
		name      string
		change    func(f *fakeEngine)
		recovered bool
		reuse     bool
	}{
		{name: "nothing changed: the states are reused", reuse: true},
		{name: "tarsup's own lock container does not count", reuse: true, change: func(f *fakeEngine) {
			f.add("tarsup-lock", "tarsup-lock:1", true).Config.Labels[lock.LabelLock] = "1"
		}},
		{name: "a new container: observed again", change: func(f *fakeEngine) { f.add("tars-node-2", "tarscloud/tars-node:latest", true) }},
		{name: "a container stopped: observed again", change: func(f *fakeEngine) {
			for _, c := range f.containers {
				f.setRunning(c, false)
			}
		}},
		{name: "an engine was recovered: observed again", recovered: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.add("tars-framework", "tarscloud/framework:v3.0.15", true)
			hosts := []*engine.Host{{Spec: engine.HostSpec{URL: "fake"}, Engine: f}}
			observed, err := ObserveAll(context.Background(), hosts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(f)
			}
			got, err := observeOnce(context.Background(), hosts, observed, tt.recovered)
			if err != nil {
				t.Fatal(err)
			}
			if reused := &got[0] == &observed[0]; reused != tt.reuse {
				t.Errorf("reused %v, want %v", reused, tt.reuse)
			}
		})
	}
	t.Run("states of other hosts are not reused", func(t *testing.T) {
		f := newFakeEngine(t)
		hosts := []*engine.Host{{Spec: engine.HostSpec{URL: "fake"}, Engine: f}}
		other := []plan.HostState{{Host: "other", Listing: listing(nil)}}
		got, err := observeOnce(context.Background(), hosts, other, false)
		if err != nil || got[0].Host != hosts[0].Name() {
			t.Errorf("got states of %v (%v), want a fresh observation of fake", got[0].Host, err)
		}
	})
}
