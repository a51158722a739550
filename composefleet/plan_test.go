package composefleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

func TestPlanFleet(t *testing.T) {
	const h1, h2 = "tcp://127.0.0.1:2375", "tcp://127.0.0.2:2375"
	tests := []struct {
		name string
		// projects are "name@host".
		projects []string
		running  []plan.Container
		req      compose.ImageRequest
		only     []string
		err      string
	}{
		{
			name:     "each project claims its own Tars containers, never the db",
			projects: []string{"a@" + h1, "b@" + h2},
			running:  append(deployed(h1, "a"), deployed(h2, "b")...),
			req:      compose.ImageRequest{To: "v3.0.16"},
			only:     []string{"a-framework", "a-node", "b-framework", "b-node"},
		},
		{
			name:     "the same name on two engines is fine when each project owns its own",
			projects: []string{"a@" + h1, "b@" + h2},
			running: []plan.Container{
				ctr(h1, "a", "framework", "tars", "tarscloud/framework:v3.0.15"),
				ctr(h2, "b", "framework", "tars", "tarscloud/framework:v3.0.15"),
			},
			req:  compose.ImageRequest{To: "v3.0.16"},
			only: []string{"tars"},
		},
		{
			name:     "a container elsewhere in the fleet with a claimed name is refused: Only would sweep it in",
			projects: []string{"a@" + h1, "b@" + h2},
			running: append(deployed(h1, "a"),
				ctr(h2, "other", "framework", "a-framework", "tarscloud/framework:v3.0.15")),
			req: compose.ImageRequest{To: "v3.0.16"},
			err: "container a-framework on " + h2 + " has the name of a container of the listed projects but belongs to none of them",
		},
		{
			name:     "a project out of step with its engine names the project",
			projects: []string{"a@" + h1},
			running:  []plan.Container{ctr(h1, "a", "node", "a-node", "tarscloud/tars-node:cpp")},
			err:      "project a: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []string
			for _, p := range tt.projects {
				name, host, _ := strings.Cut(p, "@")
				files = append(files, writeProject(t, name, host))
			}
			f := loadFleet(t, files...)
			ups, only, err := f.planFleet(states(tt.running...), tt.req)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, fault.BadInput) || !strings.HasSuffix(err.Error(), "nothing was changed") {
					t.Fatalf("err = %v, want bad input %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(only, " ") != strings.Join(tt.only, " ") {
				t.Errorf("only = %v, want %v", only, tt.only)
			}
			if len(ups) != len(tt.projects) {
				t.Errorf("%d upgrades for %d projects", len(ups), len(tt.projects))
			}
		})
	}
}
