package plan

import (
	"strings"
	"testing"
	"time"
)

// t0 is the check's start in the judge tests (tarsup's clock).
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// row is a t_node_info row whose last heartbeat was at hb (the database's
// clock, here the same as tarsup's) when read at readAt.
func row(name, ip, state string, hb, readAt time.Time) NodeRow {
	r := NodeRow{NodeName: name, EndpointIP: ip, PresentState: state, LastHeartbeat: hb}
	if !hb.IsZero() {
		r.HeartbeatAge = readAt.Sub(hb)
	}
	return r
}

// one is the observed Container of a fixture.
func one(f fx) Container { return state("h", f).Containers[0] }

func read(at time.Time, rows ...NodeRow) NodeRead { return NodeRead{Rows: rows, At: at} }

// TestJudge: what counts as registered again: active, the same
// endpoint_ip, a heartbeat after the check began and another after that;
// and what a node that is not gets named with.
func TestJudge(t *testing.T) {
	chk := RegCheck{NodeName: "10.0.0.5", EndpointIP: "10.0.0.5"}
	before := []NodeRow{row("10.0.0.5", "10.0.0.5", RegActive, t0.Add(-time.Second), t0), row("10.0.0.6", "10.0.0.6", RegActive, t0.Add(-time.Second), t0)}
	at := t0.Add(10 * time.Second)
	hb1, hb2 := t0.Add(2*time.Second), t0.Add(4*time.Second)
	tests := []struct {
		name        string
		now         NodeRead
		fresh       time.Time
		wantOK      bool
		wantProblem string
		wantDetail  string
		wantFresh   time.Time
	}{
		{name: "a second heartbeat since the check began", now: read(at, row("10.0.0.5", "10.0.0.5", RegActive, hb2, at)), fresh: hb1, wantOK: true, wantFresh: hb1},
		{name: "one heartbeat only: not yet (a node that registers and stops looks like this)", now: read(at, row("10.0.0.5", "10.0.0.5", RegActive, hb1, at)),
			wantProblem: ProblemOldHeartbeat, wantDetail: "one heartbeat (2026-11-25T10:00:02Z) since the check began, and none after it", wantFresh: hb1},
		{name: "the same heartbeat as the last read: not yet", now: read(at, row("10.0.0.5", "10.0.0.5", RegActive, hb1, at)), fresh: hb1,
			wantProblem: ProblemOldHeartbeat, wantFresh: hb1},
		{name: "heartbeat from before the check", now: read(at, row("10.0.0.5", "10.0.0.5", RegActive, t0.Add(-time.Second), at)),
			wantProblem: ProblemOldHeartbeat, wantDetail: "last heartbeat 2026-11-25T09:59:59Z, none since the check began (2026-11-25T10:00:00Z)"},
		{name: "inactive", now: read(at, row("10.0.0.5", "10.0.0.5", RegInactive, hb2, at)), fresh: hb1,
			wantProblem: ProblemInactive, wantDetail: "present_state is inactive (last heartbeat 2026-11-25T10:00:04Z)", wantFresh: hb1},
		{name: "never heartbeat", now: read(at, row("10.0.0.5", "10.0.0.5", RegActive, time.Time{}, at)), wantProblem: ProblemOldHeartbeat},
		{name: "another endpoint_ip", now: read(at, row("10.0.0.5", "10.0.0.9", RegActive, hb2, at)), fresh: hb1,
			wantProblem: ProblemOtherIP, wantDetail: "its row 10.0.0.5 now has endpoint_ip 10.0.0.9, it had 10.0.0.5", wantFresh: hb1},
		{name: "row gone", now: read(at, row("10.0.0.6", "10.0.0.6", RegActive, hb2, at)),
			wantProblem: ProblemMissing, wantDetail: "no row for node_name 10.0.0.5 in db_tars.t_node_info"},
		{name: "came back under another IP: a new row heartbeats, as many as the stale ones",
			now:         read(at, row("10.0.0.5", "10.0.0.5", RegInactive, t0.Add(-time.Second), at), row("10.0.0.6", "10.0.0.6", RegActive, hb2, at), row("10.0.0.99", "10.0.0.99", RegActive, hb2, at)),
			wantProblem: ProblemOtherIP, wantDetail: "present_state is inactive (last heartbeat 2026-11-25T09:59:59Z); row(s) that registered since under a name not seen before: 10.0.0.99"},
		{name: "a new row but more stale nodes than new rows: its own problem, and a hint",
			now:         read(at, row("10.0.0.5", "10.0.0.5", RegInactive, t0.Add(-time.Second), at), row("10.0.0.6", "10.0.0.6", RegInactive, t0.Add(-time.Second), at), row("10.0.0.99", "10.0.0.99", RegActive, hb2, at)),
			wantProblem: ProblemInactive, wantDetail: "registered since under a name not seen before: 10.0.0.99"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := chk.Judge(before, tc.now, t0, tc.fresh)
			if v.OK != tc.wantOK || v.Problem != tc.wantProblem || !strings.Contains(v.Detail, tc.wantDetail) || !v.Fresh.Equal(tc.wantFresh) {
				t.Errorf("Judge = %+v, want ok %t, problem %q, detail containing %q, fresh %v", v, tc.wantOK, tc.wantProblem, tc.wantDetail, tc.wantFresh)
			}
		})
	}
}

// TestHeartbeatAfterUsesTheAge: the check compares the heartbeat's age (the
// database's clock) with tarsup's clock, so a database clock hours off
// neither passes nor fails a node by itself.
func TestHeartbeatAfterUsesTheAge(t *testing.T) {
	at := t0.Add(10 * time.Second)
	skewed := NodeRow{NodeName: "n", LastHeartbeat: t0.Add(-3 * time.Hour), HeartbeatAge: 2 * time.Second}
	if !read(at).HeartbeatAfter(skewed, t0) {
		t.Error("a heartbeat 2 s old when read 10 s after the check began came after it, whatever the database's clock says")
	}
	skewed.HeartbeatAge = 11 * time.Second
	if read(at).HeartbeatAfter(skewed, t0) {
		t.Error("a heartbeat 11 s old when read 10 s after the check began came before it")
	}
}

// TestMatchNode: a node container maps to its row by DOMAIN, then
// TARS_DOMAIN, then its IPv4, then other addresses; status names it so.
func TestMatchNode(t *testing.T) {
	rows := []NodeRow{{NodeName: "10.0.0.5", PresentState: RegActive}, {NodeName: "node-a.example", PresentState: RegInactive}}
	byIP := one(fx{name: "n1", image: "tarscloud/tars-node:latest", running: true, ips: map[string]string{"tars": "10.0.0.5"}})
	byDomain := one(fx{name: "n2", image: "tarscloud/tars-node:latest", running: true, env: []string{"DOMAIN=node-a.example"}, ips: map[string]string{"tars": "10.0.0.5"}})
	none := one(fx{name: "n3", image: "tarscloud/tars-node:latest", running: true, ips: map[string]string{"tars": "10.0.0.7"}})
	fw := one(fx{name: "fw", image: "tarscloud/framework:v3.0.15", running: true, ips: map[string]string{"tars": "10.0.0.5"}})
	for _, tc := range []struct {
		c         Container
		wantState string
	}{{byIP, RegActive}, {byDomain, RegInactive}, {none, RegMissing}, {fw, ""}} {
		if got, _ := NodeRegistration(tc.c, rows); got != tc.wantState {
			t.Errorf("%s: registration %q, want %q", tc.c.Name, got, tc.wantState)
		}
	}
}

// TestFailureMessage: a node that is not registered again is named with
// its host, container, node IP and what was wrong.
func TestFailureMessage(t *testing.T) {
	st := Step{Host: "tcp://10.1.0.1:2376", Container: Container{Name: "tars-node1"}, Cause: CauseAfterFramework}
	got := RegCheck{NodeName: "10.0.0.5", EndpointIP: "10.0.0.5"}.Failure(st, Verdict{Problem: ProblemInactive, Detail: "present_state is inactive"})
	want := "node tars-node1 on tcp://10.1.0.1:2376 (node IP 10.0.0.5) is not registered again after the framework steps, even after a restart: inactive: present_state is inactive"
	if got != want {
		t.Errorf("Failure =\n%s\nwant\n%s", got, want)
	}
	got = RegCheck{NodeName: "node-a.example", EndpointIP: "10.0.0.5"}.Failure(st, Verdict{Problem: ProblemOtherIP, Detail: "x"})
	if !strings.Contains(got, "(node IP 10.0.0.5, row node-a.example)") {
		t.Errorf("Failure = %s: want the row's name beside the IP when they differ", got)
	}
}

// regFixture is a deployment (db, master, four running nodes and a stopped
// one) and its pre-flight read: n1 and n2 active, n3 inactive, n4 and n5
// without a row.
func regFixture() ([]HostState, Registrations) {
	node := func(name string, running bool) fx {
		return fx{name: name, image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: running,
			env: []string{"WEB_HOST=http://fw:3000", "DOMAIN=" + name + ".tars"}}
	}
	s := state("h1",
		fx{name: "db", image: "mariadb:10.11", imageID: "sha256:m1", running: true},
		fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true, env: []string{"MYSQL_HOST=db"}},
		node("n1", true), node("n2", true), node("n3", true), node("n4", true), node("n5", false))
	all := []HostState{s}
	rows := []NodeRow{
		{NodeName: "n1.tars", EndpointIP: "10.0.0.5", PresentState: RegActive},
		{NodeName: "n2.tars", EndpointIP: "10.0.0.6", PresentState: RegActive},
		{NodeName: "n3.tars", EndpointIP: "10.0.0.7", PresentState: RegInactive},
		{NodeName: "fw-own", EndpointIP: "10.0.0.3", PresentState: RegActive},
	}
	return all, Registrations{"db:3306": {RegistrationSource: RegistrationSource{Deployment: "db:3306", Host: "h1"}, Read: NodeRead{Rows: rows}}}
}

// TestWithRegistration: which nodes get a reregister step, in which
// phases, with which policy, and what the dry run says of the others.
func TestWithRegistration(t *testing.T) {
	all, regs := regFixture()
	resolved := map[string]Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:latest":  pulled("sha256:n2", "tarscloud/tars-node:latest", nodeNew, ""),
	}
	check := func(name string) string {
		return name + ": reregister: active again at 10.0.0." + map[string]string{"n1": "5", "n2": "6"}[name] + " (row " + name + ".tars) in db_tars.t_node_info and heartbeating, within 2m0s, else restart once and wait 2m0s more: "
	}
	tests := []struct {
		name string
		req  Request
		pol  Policy
		want []string
	}{
		{name: "framework and nodes: checked after each", req: Request{To: "v3.0.16"}, pol: Policy{RegisterTimeout: 2 * time.Minute},
			want: []string{"# framework master", "fw: recreate",
				"# registration after the framework: 2 at a time; a failure ends the run; stop timeout 30s",
				check("n1") + CauseAfterFramework, check("n2") + CauseAfterFramework,
				"# nodes", "n1: recreate", "n2: recreate", "n3: recreate", "n4: recreate", "n5: recreate", "n5: left stopped",
				"# registration after the nodes: 2 at a time; a failure ends the run; stop timeout 30s",
				check("n1") + CauseAfterNodes, check("n2") + CauseAfterNodes}},
		{name: "framework only", req: Request{To: "v3.0.16", Only: []string{"fw"}}, pol: Policy{RegisterTimeout: 2 * time.Minute},
			want: []string{"# framework master", "fw: recreate", "# registration after the framework", check("n1") + CauseAfterFramework, check("n2") + CauseAfterFramework}},
		{name: "one node: the others of its deployment are checked too", req: Request{Only: []string{"n2"}}, pol: Policy{RegisterTimeout: 2 * time.Minute, Cleanup: true},
			want: []string{"# nodes", "n2: recreate", "# registration after the nodes", check("n1") + CauseAfterNodes, check("n2") + CauseAfterNodes, "# cleanup", "sha256:n1: cleanup image"}},
		{name: "--register-timeout 0: no check", req: Request{To: "v3.0.16"}, pol: Policy{},
			want: []string{"# framework master", "fw: recreate", "# nodes", "n1: recreate", "n2: recreate", "n3: recreate", "n4: recreate", "n5: recreate", "n5: left stopped"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cands, err := Select(all, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			p, err := BuildPlan(cands, resolved, all, tc.pol, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, notes := WithRegistration(p, regs, all, tc.pol)
			lines := strings.Split(strings.TrimSpace(p.String()), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("plan:\n%s\nwant %d lines starting %q", p, len(tc.want), tc.want)
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, tc.want[i]) {
					t.Errorf("line %d: %q, want it to start %q", i, l, tc.want[i])
				}
			}
			if tc.pol.RegisterTimeout == 0 {
				if len(notes) != 0 {
					t.Errorf("notes %v, want none with the check off", notes)
				}
				return
			}
			got := []string{}
			for _, n := range notes {
				got = append(got, n.String())
			}
			want := []string{"registration: n3 on h1 is not checked: its row n3.tars was inactive before the run",
				"registration: n4 on h1 is not checked: no row of db_tars.t_node_info names it (n4.tars) before the run"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("notes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestReregisterFollowsItsRecreate: after the node steps, the check of a
// recreated node waits for that recreate (After); before them it does not.
func TestReregisterFollowsItsRecreate(t *testing.T) {
	all, regs := regFixture()
	cands, err := Select(all, Request{To: "v3.0.16", Only: []string{"fw", "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPlan(cands, map[string]Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:latest":  pulled("sha256:n2", "tarscloud/tars-node:latest", nodeNew, ""),
	}, all, Policy{RegisterTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = WithRegistration(p, regs, all, Policy{RegisterTimeout: time.Minute})
	got := map[string]string{}
	for _, ph := range p.Phases {
		for _, st := range ph.Steps {
			if st.Kind == StepReregister {
				got[ph.Name+" "+st.Container.Name] = strings.Join(st.AfterNames, ",")
			}
		}
	}
	want := map[string]string{PhaseRegAfterFramework + " n1": "", PhaseRegAfterFramework + " n2": "", PhaseRegAfterNodes + " n1": "n1", PhaseRegAfterNodes + " n2": ""}
	if len(got) != len(want) {
		t.Fatalf("checks %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s waits for %q, want %q", k, got[k], v)
		}
	}
}

// TestRegistrationScope: the deployments a plan touches, read through a
// running master (a legacy one by its DBIP); a node whose framework is not
// on the engines is off, with the reason.
func TestRegistrationScope(t *testing.T) {
	all, _ := regFixture()
	s := all[0]
	s.Containers = append(s.Containers, state("h1",
		fx{name: "fw-slave", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", running: true, env: []string{"MYSQL_HOST=db", "SLAVE=true"}},
		fx{name: "legacy", image: "tarsdocker/tars:v2", imageID: "sha256:l1", running: true, env: []string{"DBIP=10.9.9.9"}},
		fx{name: "stray", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", running: true, env: []string{"WEB_HOST=http://elsewhere:3000"}},
	).Containers...)
	all = []HostState{s}
	p := Plan{Phases: []Phase{{Name: "x", Steps: []Step{
		{Kind: StepRecreate, Host: "h1", Container: byName(all, "fw-slave")},
		{Kind: StepRecreate, Host: "h1", Container: byName(all, "legacy")},
		{Kind: StepRecreate, Host: "h1", Container: byName(all, "stray")},
	}}}}
	var got []string
	for _, src := range RegistrationScope(p, all) {
		got = append(got, src.Deployment+" via "+src.Framework.Name+": "+src.Off)
	}
	want := []string{
		"10.9.9.9:3306 via legacy: ",
		"WEB_HOST http://elsewhere:3000 via : no framework of this node's deployment is on the engines given (nothing serves its WEB_HOST): t_node_info is read through a framework's MYSQL_* variables",
		"db:3306 via fw: ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("scope:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func byName(all []HostState, name string) Container {
	for _, s := range all {
		for _, c := range s.Containers {
			if c.Name == name {
				return c
			}
		}
	}
	return Container{}
}

// TestNodeRegistrationsUnknown: status gives the nodes of a deployment whose
// database could not be read "unknown", with why, and no heartbeat; a
// deployment that was read gives each node its row's state.
func TestNodeRegistrationsUnknown(t *testing.T) {
	all, regs := regFixture()
	got := NodeRegistrations(all, regs)
	if got["h1 n1"].State != RegActive || got["h1 n4"].State != RegMissing || got["h1 fw"].State != "" {
		t.Errorf("read: %+v", got)
	}
	dn := regs["db:3306"]
	dn.Off = "db_tars.t_node_info could not be read: database container db on h1 is exited"
	regs["db:3306"] = dn
	got = NodeRegistrations(all, regs)
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		if r := got["h1 "+n]; r.State != RegUnknown || r.Detail != dn.Off || !r.LastHeartbeat.IsZero() {
			t.Errorf("%s with the database down: %+v, want unknown with why", n, r)
		}
	}
	if _, ok := got["h1 fw"]; ok {
		t.Errorf("the framework got a registration: %+v", got["h1 fw"])
	}
}
