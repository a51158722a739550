package composefleet

import (
	"fmt"
	"testing"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestUpgradedServices states which image: lines stay after a failed
// upgrade: a service's new line stays when every container of it that the
// plan recreated was upgraded; nothing stays when nothing was upgraded.
func TestUpgradedServices(t *testing.T) {
	const h1, h2 = "tcp://127.0.0.1:2375", "tcp://127.0.0.2:2375"
	both := compose.ImageRequest{To: "v3.0.16", NodeImage: "tarscloud/tars-node:v2"}
	tests := []struct {
		name    string
		req     compose.ImageRequest
		plan    []plan.Step
		results []orchestrator.StepResult
		want    string
	}{
		{
			name:    "nothing upgraded: every file goes back",
			req:     both,
			plan:    []plan.Step{step(h1, "a-framework"), step(h1, "a-node")},
			results: []orchestrator.StepResult{result(h1, "a-framework", orchestrator.ResultRolledBack)},
			want:    "[]",
		},
		{
			name:    "the framework upgraded, the node rolled back; project b had nothing to recreate",
			req:     both,
			plan:    []plan.Step{step(h1, "a-framework"), step(h1, "a-node")},
			results: []orchestrator.StepResult{result(h1, "a-framework", orchestrator.ResultUpgraded), result(h1, "a-node", orchestrator.ResultRolledBack)},
			want:    "[[framework] [framework node]]",
		},
		{
			name:    "a container the plan did not recreate already runs its new image: its line stays",
			req:     both,
			plan:    []plan.Step{step(h1, "a-framework"), step(h2, "b-framework")},
			results: []orchestrator.StepResult{result(h1, "a-framework", orchestrator.ResultUpgraded), result(h2, "b-framework", orchestrator.ResultFailed)},
			want:    "[[framework node] [node]]",
		},
		{
			name:    "a node that follows its tag has no new line to keep",
			req:     compose.ImageRequest{To: "v3.0.16"},
			plan:    []plan.Step{step(h1, "a-framework"), step(h1, "a-node"), step(h2, "b-framework")},
			results: []orchestrator.StepResult{result(h1, "a-framework", orchestrator.ResultUpgraded), result(h1, "a-node", orchestrator.ResultUpgraded), result(h2, "b-framework", orchestrator.ResultRolledBack)},
			want:    "[[framework] []]",
		},
		{
			name:    "a result outside the plan (a recheck's restart) counts for nothing",
			req:     both,
			plan:    []plan.Step{step(h1, "a-framework")},
			results: []orchestrator.StepResult{result(h1, "a-node", orchestrator.ResultUpgraded), result(h1, "a-framework", orchestrator.ResultRolledBack)},
			want:    "[]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loadFleet(t, writeProject(t, "a", h1), writeProject(t, "b", h2))
			ups, _, err := f.planFleet(states(append(deployed(h1, "a"), deployed(h2, "b")...)...), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			got := upgradedServices(ups, orchestrator.UpgradeReport{Plan: planOf(tt.plan...), Results: tt.results})
			s := "[]"
			if got != nil {
				s = fmt.Sprint(got)
			}
			if s != tt.want {
				t.Errorf("kept %s, want %s", s, tt.want)
			}
		})
	}
}
