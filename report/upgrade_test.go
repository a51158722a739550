package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestStepJSONPins: the dry run's JSON names the pinned addresses (pins)
// and those allowed to change (ip_changes) on each step.
func TestStepJSONPins(t *testing.T) {
	st := plan.Step{Host: "h1", Container: plan.Container{Name: "tars-framework"}, From: "tarscloud/framework:v3.0.15", To: "tarscloud/framework:v3.0.16",
		Pins:      []plan.Pin{{Network: "tars-net", IP: "172.25.0.10", Dynamic: true}},
		IPChanges: []plan.LostAddress{{Network: "bridge", IP: "172.17.0.3", Reason: "the default bridge network takes no fixed address"}}}
	raw, err := json.Marshal(StepOf(st))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"pins":[{"network":"tars-net","ip":"172.25.0.10","dynamic":true}]`, `"ip_changes":[{"network":"bridge","ip":"172.17.0.3"`, `; pins 172.25.0.10 on tars-net`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("step JSON %s\nlacks %s", raw, want)
		}
	}
}
