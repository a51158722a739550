package plan

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/owner"
)

// TestPlanRecovery states recovery's rules as observed facts -> plan.
func TestPlanRecovery(t *testing.T) {
	old := func(name string, up bool) Container {
		return Container{ID: "old1", Name: name, Role: images.RoleFramework, Running: up}
	}
	detached := old("fw.tarsup-old", false)
	detached.Inspect = container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{HostConfig: &container.HostConfig{NetworkMode: "tars"}}}
	started := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		swap  Swap
		force bool
		pol   Policy
		want  string
	}{
		{
			name: "killed after create: remove the new one, start the old one",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw", false), New: Container{ID: "new1", Name: "fw.tarsup-new"}, WasUp: true, Holder: "old1", HolderName: "fw"},
			want: "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-new (30s), remove fw.tarsup-new, start fw, gate it\n",
		},
		{
			name: "killed with the old one aside: its name back first; it was stopped, so it stays so",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", false), New: Container{ID: "new1", Name: "fw.tarsup-failed"}, Restore: RestoreRunning},
			pol:  Policy{StopTimeout: 12 * time.Second},
			want: "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-failed (12s), rename fw.tarsup-old -> fw, remove fw.tarsup-failed\n",
		},
		{
			name: "the old one lost its network (a kill during a repin): connected again as its successor was",
			swap: Swap{Host: "h", Name: "fw", Old: detached, New: Container{ID: "new1", Name: "fw.tarsup-failed"}, WasUp: true,
				NewNetworks: map[string]*network.EndpointSettings{"tars": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "172.25.0.3"}, Aliases: []string{"fw", "new1"}}}},
			want: "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-failed (30s), rename fw.tarsup-old -> fw, connect fw to tars again, remove fw.tarsup-failed, start fw, gate it\n",
		},
		{
			name: "the name is held by someone else: fail, naming it",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", false), New: Container{ID: "new1", Name: "fw.tarsup-new"}, WasUp: true, Holder: "abcdef1234567890", HolderName: "fw"},
			want: "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-new (30s), then fail: the name fw is held by another container (abcdef123456): rename or remove it, then run tarsup recover again\n",
		},
		{
			name: "the new one holds the name, stopped: start it, gate it, then the old one goes",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", false), New: Container{ID: "new1", Name: "fw"}, WasUp: true, Holder: "new1", HolderName: "fw"},
			want: "fw on h: finish: gate the new container, remove the old one: would: stop fw.tarsup-old (30s), start fw, gate fw, remove fw.tarsup-old, roll back if it fails\n",
		},
		{
			name: "the new one holds the name and runs, --no-rollback",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", false), New: Container{ID: "new1", Name: "fw", Running: true}, WasUp: true, Holder: "new1", HolderName: "fw"},
			pol:  Policy{NoRollback: true},
			want: "fw on h: finish: gate the new container, remove the old one: would: stop fw.tarsup-old (30s), gate fw, remove fw.tarsup-old, leave it for inspection if it fails (--no-rollback)\n",
		},
		{
			name: "an old one aside whose successor is gone",
			swap: Swap{Host: "h", Name: "fw", Orphan: true, Old: Container{ID: "old1", Name: "fw.tarsup-old"}, WasUp: true},
			want: "fw on h: give the old container its name back: would: rename fw.tarsup-old -> fw, start fw\n",
		},
		{
			name: "an old one aside in a restart loop: stopped to be renamed, started again",
			swap: Swap{Host: "h", Name: "fw", Old: Container{ID: "old1", Name: "fw.tarsup-old", Running: true, State: "restarting"}, New: Container{ID: "new1", Name: "fw.tarsup-new"}, WasUp: true},
			want: "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-new (30s), stop fw.tarsup-old (30s; it is restarting, and the engine renames it only stopped), rename fw.tarsup-old -> fw, remove fw.tarsup-new, start fw\n",
		},
		{
			name: "an orphan old one aside in a restart loop",
			swap: Swap{Host: "h", Name: "fw", Orphan: true, Old: Container{ID: "old1", Name: "fw.tarsup-old", Running: true, State: "restarting"}, WasUp: true},
			want: "fw on h: give the old container its name back: would: stop fw.tarsup-old (30s; it is restarting, and the engine renames it only stopped), rename fw.tarsup-old -> fw, start fw\n",
		},
		{
			name: "an old one aside, and somebody took the name",
			swap: Swap{Host: "h", Name: "fw", Orphan: true, Old: Container{ID: "old1", Name: "fw.tarsup-old"}, Holder: "x", HolderName: "fw"},
			want: "fw on h: give the old container its name back: left alone: fw holds the name\n",
		},
		{
			name: "a live tarsup's swap is left alone",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", true), New: Container{ID: "new1", Name: "fw.tarsup-new"}, Live: true, Journaled: true,
				Owner: owner.Owner{Machine: "m", PID: 7, Start: "99"}, Started: started},
			want: "fw on h: none: left alone: tarsup m/7/99 started this upgrade at 2026-12-01T08:00:00Z and is still running (`tarsup recover --force` if it is not)\n",
		},
		{
			name:  "a live tarsup's swap with --force",
			swap:  Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", true), New: Container{ID: "new1", Name: "fw.tarsup-new"}, WasUp: true, Live: true, Journaled: true},
			force: true,
			want:  "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-new (30s), rename fw.tarsup-old -> fw, remove fw.tarsup-new\n",
		},
		{
			name: "killed after the old one was renamed aside, still running: its name back; it never stopped, so it is not started",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", true), New: Container{ID: "new1", Name: "fw.tarsup-new"}, WasUp: true},
			want: "fw on h: undo: remove the new container, put the old one back: would: stop fw.tarsup-new (30s), rename fw.tarsup-old -> fw, remove fw.tarsup-new\n",
		},
		{
			name: "killed after the new one got the name, before the old one stopped: stop it, start and gate the new one",
			swap: Swap{Host: "h", Name: "fw", Old: old("fw.tarsup-old", true), New: Container{ID: "new1", Name: "fw"}, WasUp: true, Holder: "new1", HolderName: "fw"},
			want: "fw on h: finish: gate the new container, remove the old one: would: stop fw.tarsup-old (30s), start fw, gate fw, remove fw.tarsup-old, roll back if it fails\n",
		},
		{
			name: "a container that could not be inspected",
			swap: Swap{Host: "h", Name: "fw", Err: "inspect old1 on h: boom"},
			want: "fw on h: : would fail: inspect old1 on h: boom\n",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlanRecovery([]Swap{tt.swap}, tt.force, tt.pol).String(); got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestChoosePrevious: which image a rollback goes back to, from what the
// engine holds of it.
func TestChoosePrevious(t *testing.T) {
	spec := Spec{Image: "fw:v1", ImageID: "sha256:1", RepoDigest: "fw@sha256:d1"}
	noDigest := Spec{Image: "fw:v1", ImageID: "sha256:1"}
	for _, tt := range []struct {
		name     string
		spec     Spec
		f        PreviousImages
		want     string
		pull, ok bool
	}{
		{"the tag still points there", spec, PreviousImages{Tag: true, ID: true, Digest: true}, "fw:v1", false, true},
		{"the tag moved, the digest is there", spec, PreviousImages{ID: true, Digest: true}, "fw@sha256:d1", false, true},
		{"gone: pulled back by digest", spec, PreviousImages{}, "fw@sha256:d1", true, true},
		{"no digest, the image is there by ID", noDigest, PreviousImages{ID: true}, "sha256:1", false, true},
		{"no digest and gone", noDigest, PreviousImages{}, "", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref, pull, err := ChoosePrevious(tt.spec, tt.f, "h")
			if ref != tt.want || pull != tt.pull || (err == nil) != tt.ok {
				t.Errorf("got %q pull=%v err=%v; want %q pull=%v ok=%v", ref, pull, err, tt.want, tt.pull, tt.ok)
			}
		})
	}
}
