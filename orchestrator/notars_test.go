package orchestrator

import (
	"strings"
	"testing"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestUpgradeReportSaysWhatWasFound: an upgrade that finds no Tars
// container says so, naming the engines and how roles are recognised,
// instead of "nothing to do"; one that finds current containers keeps
// saying that they run their target image.
func TestUpgradeReportSaysWhatWasFound(t *testing.T) {
	db := fx{name: "tars-mysql", image: "mysql:5.7", imageID: "sha256:m1", running: true}
	ignored := fx{name: "fw-lab", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true,
		labels: map[string]string{images.RoleLabel: "ignore"}}
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true}
	for _, tc := range []struct {
		name       string
		states     []plan.HostState
		req        plan.Request
		scope      string
		wantNoTars bool
		want       []string // in NothingToDo
	}{
		{
			name:       "an engine with only the db and an ignored container",
			states:     []plan.HostState{state("unix:///var/run/docker.sock", db, ignored)},
			wantNoTars: true,
			want:       []string{"no Tars container found on unix:///var/run/docker.sock:", "tarsup status", "tarsup.role=framework|node|web", "tarscloud/framework"},
		},
		{
			name:       "two empty engines are both named",
			states:     []plan.HostState{state("tcp://10.0.0.5:2376"), state("tcp://10.0.0.6:2376")},
			wantNoTars: true,
			want:       []string{"no Tars container found on tcp://10.0.0.5:2376, tcp://10.0.0.6:2376:"},
		},
		{
			name:       "a scope is named",
			states:     []plan.HostState{state("h1", db)},
			scope:      "compose project tars",
			wantNoTars: true,
			want:       []string{"no Tars container of compose project tars found on h1:"},
		},
		{
			name:   "a framework that is current",
			states: []plan.HostState{state("h1", master, db)},
			want:   []string{"nothing to do: every Tars container runs its target image"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cands, err := plan.Select(tc.states, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			rep := UpgradeReport{Scope: tc.scope}
			rep.noteFound(tc.states, cands, tc.req)
			if rep.NoTars != tc.wantNoTars {
				t.Errorf("NoTars = %v, want %v", rep.NoTars, tc.wantNoTars)
			}
			got := rep.NothingToDo()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("NothingToDo() = %q, lacks %q", got, w)
				}
			}
			if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
				t.Errorf("NothingToDo() = %q, want one line", got)
			}
			if tc.wantNoTars && strings.Contains(got, "nothing to do") {
				t.Errorf("NothingToDo() = %q: says nothing to do where nothing was found", got)
			}
		})
	}
}

// TestRefreshSummarySaysNoTarsFound: a refresh of engines without a Tars
// container says so, naming them, instead of "0 containers checked".
func TestRefreshSummarySaysNoTarsFound(t *testing.T) {
	db := fx{name: "tars-mysql", image: "mysql:5.7", imageID: "sha256:m1", running: true}
	states := []plan.HostState{state("tcp://10.0.0.5:2376", db)}
	check, err := CheckRefresh(t.Context(), states, RefreshOptions{Registry: &images.Registry{}})
	if err != nil {
		t.Fatal(err)
	}
	got := check.Summary()
	if !strings.HasPrefix(got, "refresh: no Tars container found on tcp://10.0.0.5:2376:") || !strings.Contains(got, "tarsup status") {
		t.Errorf("summary %q, want it to say that no Tars container was found on tcp://10.0.0.5:2376", got)
	}
	if check.Changes() {
		t.Error("a check that found nothing reports changes")
	}
}
