package plan

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// TestAnnounce: which recreates announce the new container's addresses.
func TestAnnounce(t *testing.T) {
	step := func(id, mode string) Step {
		return Step{Host: "h", Kind: StepRecreate, Container: Container{ID: id},
			Spec: Spec{HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(mode)},
				Networks: map[string]*network.EndpointSettings{"tars": {}}}}
	}
	for _, tt := range []struct {
		name     string
		mode     string
		api      string
		net      string
		running  []string
		parallel int
		steps    []string // the phase's containers (the first is asked about)
		want     bool
	}{
		{"alone on its network, engine 20.10", AnnounceAuto, "1.41", "tars", []string{"fw"}, 1, []string{"fw"}, true},
		{"its database stays", AnnounceAuto, "1.41", "tars", []string{"fw", "db"}, 1, []string{"fw"}, false},
		{"two nodes swapped one at a time", AnnounceAuto, "1.41", "tars", []string{"n1", "n2"}, 1, []string{"n1", "n2"}, false},
		{"two nodes that may stop at once (--parallel 2)", AnnounceAuto, "1.41", "tars", []string{"n1", "n2"}, 2, []string{"n1", "n2"}, true},
		{"engine 28 announces itself", AnnounceAuto, "1.48", "tars", []string{"fw"}, 1, []string{"fw"}, false},
		{"off", AnnounceOff, "1.41", "tars", []string{"fw"}, 1, []string{"fw"}, false},
		{"on, not alone, engine 29", AnnounceOn, "1.52", "tars", []string{"fw", "db"}, 1, []string{"fw"}, true},
		{"host networking has nothing to announce", AnnounceOn, "1.41", "host", []string{"fw"}, 1, []string{"fw"}, false},
		{"another container's namespace", AnnounceAuto, "1.41", "container:x", []string{"fw"}, 1, []string{"fw"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var steps []Step
			for _, id := range tt.steps {
				steps = append(steps, step(id, tt.net))
			}
			p := Plan{Phases: []Phase{{Name: PhaseNodes, Steps: steps, Parallel: tt.parallel}}}
			Policy{Announce: tt.mode}.applyAnnounce(&p, []HostState{{Host: "h", APIVersion: tt.api, RunningOn: map[string][]string{"tars": tt.running}}})
			if got := p.Phases[0].Steps[0].Announce; got != tt.want {
				t.Errorf("announce %v, want %v", got, tt.want)
			}
		})
	}
}
