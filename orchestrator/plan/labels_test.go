package plan

import (
	"testing"
)

// TestLabelOverrides checks the plan's label overrides: a candidate's Labels
// reach its step (and the dry run line) and are set over the labels the new
// container copies from the old one, the others copied as they were.
func TestLabelOverrides(t *testing.T) {
	labels := map[string]string{
		"com.docker.compose.config-hash": "old",
		"com.docker.compose.project":     "tars",
		"com.docker.compose.image":       "sha256:f1",
		"ops":                            "kept",
	}
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
		env: []string{"MYSQL_HOST=tars-mysql"}, labels: labels}
	states := []HostState{state("h1", master)}
	resolved := map[string]Resolved{"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, "")}

	tests := []struct {
		name       string
		overrides  map[string]string
		wantLine   string
		wantLabels map[string]string
	}{
		{
			name:       "none: every label copied",
			wantLine:   "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n",
			wantLabels: labels,
		},
		{
			name:      "overrides replace and add, sorted in the line",
			overrides: map[string]string{"com.docker.compose.image": "sha256:f2", "com.docker.compose.config-hash": "abc123", "new": "x"},
			wantLine: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16" +
				"; label com.docker.compose.config-hash -> abc123; label com.docker.compose.image -> sha256:f2; label new -> x\n",
			wantLabels: map[string]string{
				"com.docker.compose.config-hash": "abc123",
				"com.docker.compose.project":     "tars",
				"com.docker.compose.image":       "sha256:f2",
				"ops":                            "kept",
				"new":                            "x",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands, err := Select(states, Request{To: "v3.0.16"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range cands {
				cands[i].Labels = tt.overrides
			}
			p, err := BuildPlan(cands, resolved, states, Policy{Parallel: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := stepLines(p); got != tt.wantLine {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.wantLine)
			}
			steps := p.Steps()
			if len(steps) != 1 {
				t.Fatalf("%d steps, want 1", len(steps))
			}
			got := steps[0].Spec.Config.Labels
			if len(got) != len(tt.wantLabels) {
				t.Errorf("labels %v, want %v", got, tt.wantLabels)
			}
			for k, v := range tt.wantLabels {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			// The way back keeps the old labels.
			if prev := steps[0].Previous.Config.Labels["com.docker.compose.config-hash"]; prev != "old" {
				t.Errorf("previous spec's config-hash = %q, want old", prev)
			}
		})
	}
}
