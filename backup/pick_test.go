package backup

import (
	"strings"
	"testing"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/tarsdb"
)

func dep(host, db, id string) Deployment {
	return Deployment{Host: &engine.Host{Spec: engine.HostSpec{URL: host}}, Target: tarsdb.Target{DB: db, DBID: id}}
}

// TestPick: a snapshot goes back into its own deployment (the same name,
// or the same database container reached under another engine URL);
// another one needs --force, and then a single candidate.
func TestPick(t *testing.T) {
	m := Manifest{Deployment: "tars-mysql on unix:///var/run/docker.sock", DatabaseContainerID: "db1", File: "x.sql.gz"}
	own := dep("unix:///var/run/docker.sock", "tars-mysql", "db1")
	sameDB := dep("tcp://127.0.0.1:2375", "tars-mysql", "db1")
	other := dep("unix:///var/run/docker.sock", "other-mysql", "db2")
	third := dep("unix:///var/run/docker.sock", "third-mysql", "db3")
	for _, tc := range []struct {
		name   string
		deps   []Deployment
		force  bool
		want   string // the deployment picked, or the error's words
		forced bool
		exit   int
	}{
		{name: "its own", deps: []Deployment{other, own}, want: own.Name()},
		{name: "the same database under another URL", deps: []Deployment{sameDB}, want: sameDB.Name()},
		{name: "another, refused", deps: []Deployment{other}, want: "--force", exit: 3},
		{name: "another, forced", deps: []Deployment{other}, force: true, want: other.Name(), forced: true},
		{name: "forced, but which?", deps: []Deployment{other, third}, force: true, want: "--only NAME", exit: 2},
		{name: "none", want: "no Tars deployment", exit: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, forced, err := pick(tc.deps, m, tc.force, nil, nil)
			if fault.ExitCode(err) != tc.exit {
				t.Fatalf("exit %d (%v), want %d", fault.ExitCode(err), err, tc.exit)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want it to say %q", err, tc.want)
				}
				return
			}
			if got.Name() != tc.want || forced != tc.forced {
				t.Errorf("picked %s (forced %v), want %s (%v)", got.Name(), forced, tc.want, tc.forced)
			}
		})
	}
}
