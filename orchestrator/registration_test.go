package orchestrator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// fakeNodes plays a deployment's t_node_info: each node heartbeats (its
// last_heartbeat is the read's time) while beating says so, and Locate
// fails while locateErr is set. It counts the queries.
type fakeNodes struct {
	mu        sync.Mutex
	ips       map[string]string // node_name -> endpoint_ip
	beating   func(name string) bool
	state     func(name string) string // present_state; active when nil
	locateErr error
	readErr   error
	queries   int
}

func (f *fakeNodes) Locate(context.Context, *engine.Host, plan.Container) (NodeSource, error) {
	if f.locateErr != nil {
		return nil, f.locateErr
	}
	return f, nil
}

func (f *fakeNodes) Nodes(context.Context) ([]plan.NodeRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if f.readErr != nil {
		return nil, f.readErr
	}
	now := time.Now()
	var rows []plan.NodeRow
	for name, ip := range f.ips {
		r := plan.NodeRow{NodeName: name, EndpointIP: ip, PresentState: plan.RegActive, LastHeartbeat: now.Add(-time.Hour), HeartbeatAge: time.Hour}
		if f.beating == nil || f.beating(name) {
			r.LastHeartbeat, r.HeartbeatAge = now, 0
		}
		if f.state != nil {
			r.PresentState = f.state(name)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// regExecutor is an executor whose checks read nodes every millisecond.
func regExecutor(t *testing.T, f *fakeEngine, nodes *fakeNodes) (*Executor, *engine.Host) {
	x, h := fakeExecutor(f)
	x.Nodes = nodes
	x.Opts.RegisterTimeout, x.Opts.RegisterInterval = 50*time.Millisecond, time.Millisecond
	return x, h
}

// regPlan is the registration phase of a plan over nodes read before by
// the pre-flight (ReadRegistrations, which the test runs).
func regPlan(t *testing.T, x *Executor, h *engine.Host, fw plan.Container, nodes ...plan.Container) plan.Plan {
	t.Helper()
	var steps []plan.Step
	for _, n := range nodes {
		steps = append(steps, plan.Step{Kind: plan.StepReregister, Host: h.Name(), Container: n, Cause: plan.CauseAfterFramework, StopTimeout: 1,
			Reg: plan.RegCheck{Deployment: plan.DeploymentOf(fw), NodeName: n.Name, EndpointIP: "ip-" + n.Name, Timeout: x.Opts.RegisterTimeout}})
	}
	draft := plan.Plan{Phases: []plan.Phase{{Name: "framework master", Steps: []plan.Step{{Kind: plan.StepRecreate, Host: h.Name(), Container: fw}}}}}
	states := []plan.HostState{{Host: h.Name(), Containers: append([]plan.Container{fw}, nodes...)}}
	if _, err := x.ReadRegistrations(context.Background(), draft, states); err != nil {
		t.Fatal(err)
	}
	return plan.Plan{Phases: []plan.Phase{{Name: plan.PhaseRegAfterFramework, Steps: steps, Parallel: len(steps), StopOnFailure: true}}}
}

func regFixture(t *testing.T) (*fakeEngine, plan.Container, []plan.Container) {
	f := newFakeEngine(t)
	fw := f.add("fw", "tarscloud/framework:v3.0.16", true)
	fw.Config.Env = []string{"MYSQL_HOST=db"}
	x, h := fakeExecutor(f)
	var nodes []plan.Container
	for _, n := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, containerOf(t, x, h, f.add(n, "tarscloud/tars-node:latest", true).ID))
	}
	return f, containerOf(t, x, h, fw.ID), nodes
}

// TestReregister: a node that heartbeats passes untouched; one that
// registers again only after a restart is restarted once; one that never
// does is named with what was wrong, and the run fails (exit 1).
func TestReregister(t *testing.T) {
	for _, tc := range []struct {
		name       string
		beating    func(f *fakeEngine) func(string) bool
		state      func(string) string
		wantResult string
		wantCalls  string
		wantErr    string
	}{
		{name: "heartbeating", beating: func(*fakeEngine) func(string) bool { return nil }, wantResult: ResultOK},
		{name: "registers again once restarted", wantResult: ResultRestarted, wantCalls: "stop n1,start n1",
			beating: func(f *fakeEngine) func(string) bool {
				return func(string) bool { return strings.Contains(strings.Join(f.calls, ","), "start n1") }
			}},
		{name: "never heartbeats again", wantResult: ResultUnregistered, wantCalls: "stop n1,start n1",
			beating: func(*fakeEngine) func(string) bool { return func(string) bool { return false } },
			wantErr: "node n1 on fake (node IP ip-n1, row n1) is not registered again after the framework steps, even after a restart: old heartbeat: last heartbeat"},
		{name: "inactive", wantResult: ResultUnregistered, wantCalls: "stop n1,start n1",
			beating: func(*fakeEngine) func(string) bool { return nil }, state: func(string) string { return plan.RegInactive },
			wantErr: "even after a restart: inactive: present_state is inactive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, fw, nodes := regFixture(t)
			src := &fakeNodes{ips: map[string]string{"n1": "ip-n1"}, beating: tc.beating(f)}
			x, h := regExecutor(t, f, src)
			p := regPlan(t, x, h, fw, nodes[0])
			src.state = tc.state // the pre-flight read saw it active
			f.calls = nil
			results, err := x.Run(context.Background(), p)
			if got := outcome(results); got != "n1="+tc.wantResult {
				t.Errorf("results %q, want n1=%s", got, tc.wantResult)
			}
			if got := strings.Join(f.calls, ","); got != tc.wantCalls {
				t.Errorf("engine calls %q, want %q", got, tc.wantCalls)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want one containing %q", err, tc.wantErr)
			}
			if err != nil && fault.ExitCode(err) != fault.ExitFailed {
				t.Errorf("exit code %d, want 1", fault.ExitCode(err))
			}
		})
	}
}

// TestReregisterWithoutReads: a database that stops answering during the
// run fails the check without restarting the node: nothing says the node
// is not registered.
func TestReregisterWithoutReads(t *testing.T) {
	f, fw, nodes := regFixture(t)
	src := &fakeNodes{ips: map[string]string{"n1": "ip-n1"}}
	x, h := regExecutor(t, f, src)
	p := regPlan(t, x, h, fw, nodes[0])
	src.readErr = errors.New("connection refused")
	f.calls = nil
	results, err := x.Run(context.Background(), p)
	if outcome(results) != "n1="+ResultFailed || len(f.calls) > 0 {
		t.Errorf("results %q, engine calls %v; want failed and no restart", outcome(results), f.calls)
	}
	if err == nil || !strings.Contains(err.Error(), "db_tars.t_node_info could not be read for 50ms (connection refused); the node was not restarted") {
		t.Errorf("err %v", err)
	}
}

// TestReregisterSharesReads: every check of a deployment waits on the same
// reads: the queries do not grow with the number of nodes.
func TestReregisterSharesReads(t *testing.T) {
	f, fw, nodes := regFixture(t)
	started := time.Now()
	src := &fakeNodes{ips: map[string]string{"n1": "ip-n1", "n2": "ip-n2", "n3": "ip-n3"},
		beating: func(string) bool { return time.Since(started) > 20*time.Millisecond }}
	x, h := regExecutor(t, f, src)
	x.Opts.RegisterTimeout, x.Opts.RegisterInterval = time.Second, 5*time.Millisecond
	p := regPlan(t, x, h, fw, nodes...)
	src.queries = 0
	results, err := x.Run(context.Background(), p)
	if err != nil || outcome(results) != "n1=ok n2=ok n3=ok" {
		t.Fatalf("results %q, err %v", outcome(results), err)
	}
	elapsed := time.Since(started)
	// One read per interval at most, plus the one each check's start may
	// force: far fewer than one per node per interval.
	if limit := int(elapsed/(5*time.Millisecond)) + 3; src.queries > limit {
		t.Errorf("%d queries in %s for 3 nodes, want at most %d (one per interval)", src.queries, elapsed, limit)
	}
}

// TestReregisterAfterAFailedRecreate: the check of a node whose recreate
// failed does not run (its container is in no state to judge).
func TestReregisterAfterAFailedRecreate(t *testing.T) {
	f, fw, nodes := regFixture(t)
	src := &fakeNodes{ips: map[string]string{"n1": "ip-n1"}}
	x, h := regExecutor(t, f, src)
	p := regPlan(t, x, h, fw, nodes[0])
	p.Phases[0].Steps[0].After = []string{nodes[0].ID}
	for _, done := range []string{ResultFailed, ResultLeft} {
		r := x.do(context.Background(), p.Phases[0].Steps[0], map[string]string{nodes[0].ID: done})
		if r.Result != ResultSkipped || r.Err != nil {
			t.Errorf("after a recreate that %s: %s (%v), want skipped", done, r.Result, r.Err)
		}
	}
	if r := x.do(context.Background(), p.Phases[0].Steps[0], map[string]string{nodes[0].ID: ResultRolledBack}); r.Result != ResultOK {
		t.Errorf("after a rollback: %s (%v), want the old container checked: ok", r.Result, r.Err)
	}
}

// TestReadRegistrations: a deployment whose database does not answer is
// off, with the reason, and the run goes on; when the operator asked for
// the check (--register-timeout given) it is bad input: nothing changed.
func TestReadRegistrations(t *testing.T) {
	f, fw, nodes := regFixture(t)
	draft := plan.Plan{Phases: []plan.Phase{{Name: "framework master", Steps: []plan.Step{{Kind: plan.StepRecreate, Host: "fake", Container: fw}}}}}
	states := []plan.HostState{{Host: "fake", Containers: append([]plan.Container{fw}, nodes...)}}
	for _, tc := range []struct {
		name      string
		src       *fakeNodes
		required  bool
		wantOff   string
		wantError bool
	}{
		{name: "read", src: &fakeNodes{ips: map[string]string{"n1": "ip-n1"}}},
		{name: "no database found", src: &fakeNodes{locateErr: errors.New("MYSQL_HOST db names no container")}, wantOff: "its database was not found: MYSQL_HOST db names no container"},
		{name: "wrong password", src: &fakeNodes{readErr: errors.New("access denied (MYSQL_ROOT_PASSWORD)")}, wantOff: "db_tars.t_node_info could not be read: access denied (MYSQL_ROOT_PASSWORD)"},
		{name: "asked for", src: &fakeNodes{readErr: errors.New("access denied")}, required: true, wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, _ := regExecutor(t, f, tc.src)
			x.Opts.RegisterRequired = tc.required
			regs, err := x.ReadRegistrations(context.Background(), draft, states)
			if tc.wantError {
				if fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), "--register-timeout 0") {
					t.Errorf("err %v, want bad input naming --register-timeout 0", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := regs["db:3306"].Off; got != tc.wantOff {
				t.Errorf("off %q, want %q", got, tc.wantOff)
			}
			if tc.wantOff == "" && len(regs["db:3306"].Read.Rows) != 1 {
				t.Errorf("rows %v, want the one row", regs["db:3306"].Read.Rows)
			}
		})
	}
}

// TestStatusRegistration: status reads each deployment's t_node_info once
// and gives each node its row's state (missing when none) and heartbeat;
// a framework's row stays empty, and the nodes of a deployment whose
// database does not answer are unknown, with why.
func TestStatusRegistration(t *testing.T) {
	f := newFakeEngine(t)
	fw := f.add("fw", "tarscloud/framework:v3.0.16", true)
	fw.Config.Env = []string{"MYSQL_HOST=db"}
	for _, n := range []string{"n1", "n2", "n3"} {
		f.add(n, "tarscloud/tars-node:latest", true).Config.Env = []string{"DOMAIN=" + n}
	}
	src := &fakeNodes{ips: map[string]string{"n1": "10.0.0.5", "n2": "10.0.0.6"}, state: func(n string) string {
		if n == "n2" {
			return plan.RegInactive
		}
		return plan.RegActive
	}}
	x, h := regExecutor(t, f, src)
	var states []plan.HostState
	var rows []StatusRow
	cs := []plan.Container{}
	for _, name := range []string{"fw", "n1", "n2", "n3"} {
		c, _ := f.find(name)
		cs = append(cs, containerOf(t, x, h, c.ID))
		rows = append(rows, StatusRow{Host: h.Name(), Name: name})
	}
	states = []plan.HostState{{Host: h.Name(), Containers: cs}}
	x.AddRegistration(context.Background(), states, rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.Name+"="+r.Registration+"/"+map[bool]string{true: "hb", false: ""}[r.LastHeartbeat != ""])
	}
	if want := "fw=/ n1=active/hb n2=inactive/hb n3=missing/"; strings.Join(got, " ") != want {
		t.Errorf("rows %q, want %q", strings.Join(got, " "), want)
	}
	if src.queries != 1 {
		t.Errorf("%d queries, want one for the deployment", src.queries)
	}
	src.readErr = errors.New("access denied")
	for i := range rows {
		rows[i].Registration, rows[i].LastHeartbeat = "", ""
	}
	x.AddRegistration(context.Background(), states, rows)
	// Why unknown and not empty: the operator must tell a database that
	// does not answer from a container that is no node.
	for _, r := range rows {
		want := plan.RegUnknown
		if r.Name == "fw" {
			want = ""
		}
		if r.Registration != want || r.LastHeartbeat != "" || (want != "" && !strings.Contains(r.RegistrationDetail, "access denied")) {
			t.Errorf("%s: registration %q (%q), heartbeat %q with a database that does not answer, want %q and why", r.Name, r.Registration, r.RegistrationDetail, r.LastHeartbeat, want)
		}
	}
}
