package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/fault"
)

const (
	fwOld   = "sha256:aaaa000000000000000000000000000000000000000000000000000000000000"
	fwNew   = "sha256:bbbb000000000000000000000000000000000000000000000000000000000000"
	nodeOld = "sha256:cccc000000000000000000000000000000000000000000000000000000000000"
	nodeNew = "sha256:dddd000000000000000000000000000000000000000000000000000000000000"
)

// healthyBefore is a pre-flight finding of a container that answered.
var healthyBefore = HealthBefore{State: HealthHealthy}

func TestPlan(t *testing.T) {
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
		env: []string{"MYSQL_HOST=tars-mysql", "REBUILD=false"}}
	slave := fx{name: "tars-framework-2", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
		env: []string{"MYSQL_HOST=tars-mysql", "SLAVE=true"}}
	node := fx{name: "tars-node", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	node2 := fx{name: "tars-node-2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	db := fx{name: "tars-mysql", image: "mysql:5.7", imageID: "sha256:m1", running: true}
	mirror := fx{name: "mirror-fw", image: "reg.example.com/mirror/tarscloud/framework:v3.0.15", imageID: "sha256:f9", digest: fwOld, running: true}
	web := fx{name: "tars-web", image: "tarscloud/tars-web:v3.0.15", imageID: "sha256:w1", running: true}

	fwPulled := pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, "")
	nodeSame := pulled("sha256:n1", "tarscloud/tars-node:latest", nodeOld, "")
	nodeMoved := pulled("sha256:n2", "tarscloud/tars-node:latest", nodeNew, "")

	tests := []struct {
		name     string
		states   []HostState
		req      Request
		resolved map[string]Resolved
		healthy  Preflight
		want     string
		wantErr  error
		errText  string
	}{
		{
			name:   "framework to a new tag, node digest unchanged",
			states: []HostState{state("h1", node, master, db, slave)},
			req:    Request{To: "v3.0.16"},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
				"h1 tarscloud/tars-node:latest":  nodeSame,
			},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n" +
				"tars-framework-2: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n",
		},
		{
			name:   "nodes that answered before are re-checked after the framework",
			states: []HostState{state("h1", node, master, node2)},
			req:    Request{To: "v3.0.16", Only: []string{"tars-framework", "tars-node"}},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
				"h1 tarscloud/tars-node:latest":  nodeMoved,
			},
			healthy: Preflight{"c0ffeetars-node00000000000000": healthyBefore, "c0ffeetars-node-200000000000000": healthyBefore},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n" +
				"tars-node-2: re-check (probe, restart once if it does not answer): the framework was upgraded\n" +
				"tars-node: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved\n",
		},
		{
			name: "only nodes of the upgraded framework's deployment are re-checked",
			states: []HostState{state("h1", master,
				fx{name: "mine", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true, env: []string{"WEB_HOST=http://tars-framework:3000"}},
				fx{name: "lab-fw", image: "tarscloud/framework:v3.0.16", imageID: "sha256:f2", running: true, env: []string{"MYSQL_HOST=lab-mysql"}},
				fx{name: "lab-node", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true, env: []string{"WEB_HOST=http://lab-fw:3000"}})},
			req: Request{To: "v3.0.16", Only: []string{"tars-framework"}},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
			},
			healthy: Preflight{"c0ffeemine00000000000000": healthyBefore, "c0ffeelab-node00000000000000": healthyBefore},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n" +
				"mine: re-check (probe, restart once if it does not answer): the framework was upgraded\n",
		},
		{
			name:   "floating node tag moved: master untouched, nodes in name order",
			states: []HostState{state("h1", node2, node, master)},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.15": pulled("sha256:f1", "tarscloud/framework:v3.0.15", fwOld, ""),
				"h1 tarscloud/tars-node:latest":  nodeMoved,
			},
			want: "tars-node: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved\n" +
				"tars-node-2: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved\n",
		},
		{
			name:   "a mirror keeps its repository",
			states: []HostState{state("h1", mirror)},
			req:    Request{To: "v3.0.16"},
			resolved: map[string]Resolved{
				"h1 reg.example.com/mirror/tarscloud/framework:v3.0.16": pulled("sha256:f8", "reg.example.com/mirror/tarscloud/framework:v3.0.16", fwNew, ""),
			},
			want: "mirror-fw: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n",
		},
		{
			name:   "several hosts: master first, then slaves, then nodes, each line names its host",
			states: []HostState{state("h2", node2, slave), state("h1", master, node)},
			req:    Request{To: "v3.0.16", NodeImage: "tarscloud/tars-node:stable"},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
				"h2 tarscloud/framework:v3.0.16": fwPulled,
				"h1 tarscloud/tars-node:stable":  nodeMoved,
				"h2 tarscloud/tars-node:stable":  nodeMoved,
			},
			want: "h1 tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n" +
				"h2 tars-framework-2: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n" +
				"h1 tars-node: recreate latest -> stable (sha256:cccc… -> sha256:dddd…): --node-image tarscloud/tars-node:stable\n" +
				"h2 tars-node-2: recreate latest -> stable (sha256:cccc… -> sha256:dddd…): --node-image tarscloud/tars-node:stable\n",
		},
		{
			name: "nodes alternate between hosts, so a parallel batch spreads over the engines",
			states: []HostState{
				state("h1", fx{name: "a1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true},
					fx{name: "a2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}),
				state("h2", fx{name: "b1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}),
			},
			resolved: map[string]Resolved{
				"h1 tarscloud/tars-node:latest": nodeMoved,
				"h2 tarscloud/tars-node:latest": nodeMoved,
			},
			want: "h1 a1: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved\n" +
				"h2 b1: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved\n" +
				"h1 a2: recreate latest -> latest (sha256:cccc… -> sha256:dddd…): tag latest moved\n",
		},
		{
			name:   "nothing moved",
			states: []HostState{state("h1", master, node)},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.15": pulled("sha256:f1", "tarscloud/framework:v3.0.15", fwOld, ""),
				"h1 tarscloud/tars-node:latest":  nodeSame,
			},
			want: "nothing to do: every Tars container runs its target image\n",
		},
		{
			name:    "REBUILD=true refused, naming the container and what it drops",
			states:  []HostState{state("h1", fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true, env: []string{"REBUILD=true"}})},
			req:     Request{To: "v3.0.16"},
			wantErr: fault.Refused,
			errText: "fw on h1 has REBUILD=true: its next start drops db_tars, tars_stat",
		},
		{
			name:    "the db container named with --only is refused",
			states:  []HostState{state("h1", master, db)},
			req:     Request{Only: []string{"tars-mysql"}},
			wantErr: fault.Refused,
			errText: "tars-mysql on h1 is the Tars database container",
		},
		{
			name:    "an unknown --only name is bad input",
			states:  []HostState{state("h1", master)},
			req:     Request{Only: []string{"nope"}},
			wantErr: fault.BadInput,
			errText: "--only nope",
		},
		{
			name:    "a bad --to is bad input",
			states:  []HostState{state("h1", master)},
			req:     Request{To: "v3:0"},
			wantErr: fault.BadInput,
		},
		{
			name:   "--only one framework of two: refused as version skew",
			states: []HostState{state("h1", master, slave)},
			req:    Request{To: "v3.0.16", Only: []string{"tars-framework"}},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
			},
			wantErr: fault.Refused,
			errText: "framework would run different versions",
		},
		{
			name: "two deployments on one engine: each keeps its own version",
			states: []HostState{state("h1", master,
				fx{name: "lab-fw", image: "tarscloud/framework:v3.0.10", imageID: "sha256:f0", running: true, env: []string{"MYSQL_HOST=lab-mysql"}},
				fx{name: "lab-node", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true, version: "v3.0.10",
					env: []string{"WEB_HOST=http://lab-fw:3000"}})},
			req: Request{To: "v3.0.16", Only: []string{"tars-framework"}},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
			},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n",
		},
		{
			name: "skew in a deployment the plan does not touch is not this run's business",
			states: []HostState{state("h1", master,
				fx{name: "lab-a", image: "tarscloud/framework:v3.0.10", imageID: "sha256:f0", running: true, env: []string{"MYSQL_HOST=lab-mysql"}},
				fx{name: "lab-b", image: "tarscloud/framework:v3.0.11", imageID: "sha256:f3", running: true, env: []string{"MYSQL_HOST=lab-mysql"}})},
			req: Request{To: "v3.0.16", Only: []string{"tars-framework"}},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": fwPulled,
			},
			want: "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n",
		},
		{
			name:   "tarsweb alone refused",
			states: []HostState{state("h1", master, web)},
			req:    Request{Only: []string{"tars-web"}, To: "v3.0.16"},
			resolved: map[string]Resolved{
				"h1 tarscloud/tars-web:v3.0.16": pulled("sha256:w2", "tarscloud/tars-web:v3.0.16", fwNew, ""),
			},
			wantErr: fault.Refused,
			errText: "tarsweb (tars-web) would be upgraded without the framework",
		},
		{
			name:   "node older than the framework refused",
			states: []HostState{state("h1", master, fx{name: "n", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true, version: "v3.0.15"})},
			req:    Request{To: "v3.0.16"},
			resolved: map[string]Resolved{
				"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, "v3.0.16"),
				"h1 tarscloud/tars-node:latest":  nodeSame,
			},
			wantErr: fault.Refused,
			errText: "node n@h1 would run v3.0.15, older than its framework's v3.0.16",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands, err := Select(tt.states, tt.req)
			var p Plan
			if err == nil {
				p, err = BuildPlan(cands, tt.resolved, tt.states, Policy{Parallel: 1}, tt.healthy)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %q, want it to contain %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := stepLines(p); got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestPlanPhases(t *testing.T) {
	s := state("h1",
		fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true},
		fx{name: "fw2", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true, env: []string{"SLAVE=true"}},
		fx{name: "n1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", running: true},
	)
	cands, err := Select([]HostState{s}, Request{To: "v3.0.16", NodeImage: "tarscloud/tars-node:stable"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPlan(cands, map[string]Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:stable":  pulled("sha256:n2", "tarscloud/tars-node:stable", nodeNew, ""),
	}, []HostState{s}, Policy{Parallel: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ph := range p.Phases {
		var names []string
		for _, st := range ph.Steps {
			names = append(names, st.Container.Name)
		}
		got = append(got, ph.Name+"="+strings.Join(names, ",")+"/"+string(rune('0'+ph.Parallel)))
	}
	want := "framework master=fw/1 framework hosts=fw2/1 nodes=n1/4"
	if strings.Join(got, " ") != want {
		t.Fatalf("phases %q, want %q", strings.Join(got, " "), want)
	}
}

func TestDatabaseDetection(t *testing.T) {
	s := state("h1",
		fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true, env: []string{"MYSQL_HOST=172.25.0.2"}},
		fx{name: "somedb", image: "registry.local/acme/dbserver:8", imageID: "sha256:d1", running: true, ips: map[string]string{"internal": "172.25.0.2"}},
		fx{name: "maria", image: "mariadb:10", imageID: "sha256:d2", running: true},
		fx{name: "nginx", image: "nginx:latest", imageID: "sha256:x1", running: true},
		fx{name: "pinned", image: "nginx:latest", imageID: "sha256:x1", running: true, labels: map[string]string{"tarsup.role": "node"}},
		fx{name: "skipped", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", running: true, labels: map[string]string{"tarsup.role": "ignore"}},
	)
	var got []string
	for _, c := range s.Containers {
		got = append(got, c.Name+"="+string(c.Role))
	}
	want := "fw=framework maria=db pinned=node somedb=db"
	if strings.Join(got, " ") != want {
		t.Fatalf("roles %q, want %q", strings.Join(got, " "), want)
	}
}

// stepLines is the dry run without its phase lines ("# ..."): the steps'
// lines, what most plan tests state.
func stepLines(p Plan) string {
	var out []string
	for _, l := range strings.SplitAfter(p.String(), "\n") {
		if !strings.HasPrefix(l, "# ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}
