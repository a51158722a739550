package orchestrator

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestPlanCarriesHealthBefore: each step carries the pre-flight finding and
// the rollback's demand that follows from it, and the dry run says so.
func TestPlanCarriesHealthBefore(t *testing.T) {
	master := fx{name: "tars-framework", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true}
	node := fx{name: "tars-node", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	node2 := fx{name: "tars-node-2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	s := state("h1", master, node, node2)
	cands, err := plan.Select([]plan.HostState{s}, plan.Request{To: "v3.0.16"})
	if err != nil {
		t.Fatal(err)
	}
	refused := plan.HealthBefore{State: plan.HealthUnhealthy, Detail: "tars-framework tcp :17890: connection refused"}
	before := plan.Preflight{
		"c0ffeetars-framework00000000000000": refused,
		"c0ffeetars-node00000000000000":      healthyBefore,
		"c0ffeetars-node-200000000000000":    {State: plan.HealthUnhealthy, Detail: "tars-node-2 tcp :19385: connection refused"},
	}
	p, err := plan.BuildPlan(cands, map[string]plan.Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:latest":  pulled("sha256:n1", "tarscloud/tars-node:latest", nodeOld, ""),
	}, []plan.HostState{s}, plan.Policy{Parallel: 1}, before)
	if err != nil {
		t.Fatal(err)
	}
	// The node that did not answer before is not re-checked: nothing to compare with.
	want := "tars-framework: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16 (unhealthy before: tars-framework tcp :17890: connection refused)\n" +
		"tars-node: re-check (probe, restart once if it does not answer): the framework was upgraded\n"
	if got := stepLines(p); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	st := p.Steps()[0]
	if st.Before != refused || st.Restore != plan.RestoreRunning || st.Before.String() != "no: "+refused.Detail {
		t.Errorf("step before %+v (%s), restore %q; want %+v, %q", st.Before, st.Before, st.Restore, refused, plan.RestoreRunning)
	}

	p, err = plan.BuildPlan(cands, map[string]plan.Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:latest":  pulled("sha256:n1", "tarscloud/tars-node:latest", nodeOld, ""),
	}, []plan.HostState{s}, plan.Policy{Parallel: 1}, plan.Preflight{"c0ffeetars-framework00000000000000": healthyBefore})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Steps()[0]; strings.Contains(st.Line(false), "before") || st.Restore != plan.RestoreHealthy || st.Before.String() != "yes" {
		t.Errorf("a healthy container's step: %q, restore %q, before %s", st.Line(false), st.Restore, st.Before)
	}
}

// noDockerHealth makes a fake container one without a HEALTHCHECK.
func noDockerHealth(c *container.InspectResponse) *container.InspectResponse {
	c.State.Health = nil
	return c
}

// draftOf is a one-step plan replacing c with a new container that has no
// HEALTHCHECK (its gate uses the Tars probe).
func draftOf(c plan.Container) plan.Plan {
	return plan.Plan{Phases: []plan.Phase{{Name: "framework master", Steps: []plan.Step{{Kind: plan.StepRecreate, Host: "fake", Container: c}}}}}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_ = l.Close()
	return port
}

func publish(c *container.InspectResponse, containerPort int, hostPort string) {
	c.NetworkSettings.Ports = nat.PortMap{nat.Port(strconv.Itoa(containerPort) + "/tcp"): {{HostIP: "127.0.0.1", HostPort: hostPort}}}
}

// TestPreflight tells a probe that cannot work (exit 2, nothing touched)
// from a container that answers unhealthy (a finding, not an error).
func TestPreflight(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "tarsup")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	_, open, _ := net.SplitHostPort(listener.Addr().String())

	tests := []struct {
		name    string
		mode    string
		binary  string
		setup   func(f *fakeEngine) *container.InspectResponse
		want    plan.HealthBefore
		wantErr []string // the error names these; nil: no error
	}{
		{
			name: "direct, no address at all: the fix is the sidecar or a published port",
			mode: health.ProbeDirect,
			setup: func(f *fakeEngine) *container.InspectResponse {
				return noDockerHealth(f.add("fw", "tarscloud/framework:v3.0.15", true))
			},
			wantErr: []string{"cannot probe fw on fake", "no address reaches port 17890", "use --probe sidecar, or publish the port"},
		},
		{
			name: "direct, an address nothing answers from (no route, or the dial times out): cannot work",
			mode: health.ProbeDirect,
			setup: func(f *fakeEngine) *container.InspectResponse {
				c := noDockerHealth(f.add("n1", "tarscloud/tars-node:latest", true))
				// The IPv6 documentation prefix (RFC 3849): no route, or a dial
				// that times out. (This machine's network accepts any IPv4 connect.)
				c.NetworkSettings.Networks = map[string]*network.EndpointSettings{"far": {IPAddress: "2001:db8::1"}}
				return c
			},
			wantErr: []string{"cannot probe n1 on fake", "no address of it answers from here ([2001:db8::1]:19385)", "use --probe sidecar, or publish the port"},
		},
		{
			name:   "sidecar from a binary that cannot run FROM scratch: the fix is a static build",
			mode:   health.ProbeSidecar,
			binary: notELF,
			setup: func(f *fakeEngine) *container.InspectResponse {
				return noDockerHealth(f.add("fw", "tarscloud/framework:v3.0.15", true))
			},
			wantErr: []string{"cannot probe fw on fake", "not a static Linux executable", "CGO_ENABLED=0"},
		},
		{
			name: "direct, reached, refused: unhealthy before, no error",
			mode: health.ProbeDirect,
			setup: func(f *fakeEngine) *container.InspectResponse {
				c := noDockerHealth(f.add("n1", "tarscloud/tars-node:latest", true))
				publish(c, health.PortNode, closedPort(t))
				return c
			},
			want: plan.HealthBefore{State: plan.HealthUnhealthy},
		},
		{
			name: "direct, answers: healthy before",
			mode: health.ProbeDirect,
			setup: func(f *fakeEngine) *container.InspectResponse {
				c := noDockerHealth(f.add("n1", "tarscloud/tars-node:latest", true))
				publish(c, health.PortNode, open)
				return c
			},
			want: plan.HealthBefore{State: plan.HealthHealthy},
		},
		{
			name: "Docker health unhealthy, the new container has Docker health too: a finding, the Tars probe is not needed",
			mode: health.ProbeDirect,
			setup: func(f *fakeEngine) *container.InspectResponse {
				f.health["tarscloud/framework:v3.0.15"] = plan.HealthUnhealthy
				c := f.add("fw", "tarscloud/framework:v3.0.15", true)
				c.Config.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "/check"}}
				return c
			},
			want: plan.HealthBefore{State: plan.HealthUnhealthy, Detail: "Docker health is unhealthy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			c := tt.setup(f)
			x, h := fakeExecutor(f)
			p := &health.Prober{Mode: tt.mode, Binary: tt.binary}
			oc := containerOf(t, x, h, c.ID)
			draft := draftOf(oc)
			if c.Config.Healthcheck != nil {
				draft.Phases[0].Steps[0].Spec = plan.Spec{Config: &container.Config{Healthcheck: c.Config.Healthcheck}}
			}
			f.calls = nil
			got, err := p.Preflight(context.Background(), x.Hosts, draft)
			if len(f.calls) > 0 {
				t.Errorf("the pre-flight changed the engine: %v", f.calls)
			}
			if tt.wantErr != nil {
				t.Logf("%v", err)
				if !errors.Is(err, fault.BadInput) {
					t.Fatalf("err = %v, want bad input (exit 2)", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %q, want it to name %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := got[oc.ID]
			if b.State != tt.want.State || (tt.want.Detail != "" && b.Detail != tt.want.Detail) {
				t.Errorf("found %+v, want %+v", b, tt.want)
			}
			if b.State == plan.HealthUnhealthy && b.Detail == "" {
				t.Errorf("an unhealthy finding without its reason")
			}
		})
	}
}

// TestRollbackOfContainerUnhealthyBefore: the old container did not answer
// before the upgrade and the new one fails its gate. The plan's
// RestoreRunning puts the old one back as it was without demanding a health
// it never had; the journal records that demand for `recover`.
func TestRollbackOfContainerUnhealthyBefore(t *testing.T) {
	for _, tt := range []struct {
		restore    string
		wantResult string
		wantErr    string
	}{
		{plan.RestoreRunning, ResultRolledBack, "runs again as before the upgrade; it was not healthy before the upgrade either"},
		// The demand of a container that was healthy: it must be healthy again.
		{plan.RestoreHealthy, ResultFailed, "ROLLBACK FAILED"},
	} {
		t.Run(tt.restore, func(t *testing.T) {
			f := newFakeEngine(t)
			f.health["fw:old"] = plan.HealthUnhealthy
			f.health["fw:bad"] = plan.HealthUnhealthy
			old := f.add("fw", "fw:old", true)
			x, h := fakeExecutor(f)
			oc := containerOf(t, x, h, old.ID)
			st := plan.Step{Host: "fake", Container: oc, From: "fw:old", To: "fw:bad", Restore: tt.restore,
				Before: plan.HealthBefore{State: plan.HealthUnhealthy, Detail: "Docker health is unhealthy"},
				Spec:   plan.Derive(plan.DeriveInput{Old: oc.Inspect, NewRef: "fw:bad", Role: oc.Role, APIVersion: "1.41"}), Previous: plan.PreviousSpec(oc, "1.41")}
			x.Opts.Policy(1).RecreatePolicy(&st)
			var journalled string
			f.onCreate = func(cfg *container.Config) { journalled = cfg.Labels[plan.LabelTxnRestore] }
			f.calls = nil
			r := x.do(context.Background(), st, nil)
			if r.Result != tt.wantResult || r.Err == nil || !strings.Contains(r.Err.Error(), tt.wantErr) {
				t.Fatalf("result %q, err %v; want %q with %q", r.Result, r.Err, tt.wantResult, tt.wantErr)
			}
			if journalled != tt.restore {
				t.Errorf("journal label %s=%q, want %q", plan.LabelTxnRestore, journalled, tt.restore)
			}
			want := []string{"create fw.tarsup-new (fw:bad)", "rename fw -> fw.tarsup-old", "rename fw.tarsup-new -> fw", "stop fw.tarsup-old", "start fw",
				"rename fw -> fw.tarsup-failed", "stop fw.tarsup-failed", "rename fw.tarsup-old -> fw", "start fw"}
			if tt.restore == plan.RestoreRunning {
				want = append(want, "remove fw.tarsup-failed")
			}
			if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			back, err := f.find("fw")
			if err != nil || back.ID != old.ID || !back.State.Running {
				t.Errorf("the old container is not back under its name, running: %+v %v", back, err)
			}
		})
	}
}

// TestRecoverGateFailedJournal: killed after the gate failed, once the
// rollback renamed the failed container aside. Recovery rolls back at once:
// it never inspects, starts or gates the failed container (the gate timeout
// is long: a gate of it would hang the test), and the old one, unhealthy
// before as the journal says, is asked only to run.
func TestRecoverGateFailedJournal(t *testing.T) {
	for _, running := range []bool{true, false} {
		t.Run("failed container running="+strconv.FormatBool(running), func(t *testing.T) {
			f := newFakeEngine(t)
			f.health["fw:old"] = plan.HealthUnhealthy
			f.health["fw:bad"] = plan.HealthUnhealthy
			old := f.add("fw.tarsup-old", "fw:old", false)
			failed := f.add("fw.tarsup-failed", "fw:bad", running)
			failed.Config.Labels = map[string]string{plan.LabelTxn: "t1", plan.LabelTxnName: "fw", plan.LabelTxnOld: old.ID, plan.LabelTxnOldRunning: "true", plan.LabelTxnRestore: plan.RestoreRunning}
			f.noInspect = map[string]bool{failed.ID: true}
			x, h := fakeExecutor(f)
			x.Opts.Gate.Timeout = 10 * time.Minute
			f.calls = nil
			rec, err := x.Recover(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			// The undo renames the old container back before it removes the
			// failed one: a kill in between leaves nothing unlabelled (ownership).
			want := "stop fw.tarsup-failed\nrename fw.tarsup-old -> fw\nremove fw.tarsup-failed\nstart fw"
			if got := strings.Join(f.calls, "\n"); got != want {
				t.Errorf("calls:\n%s\nwant:\n%s", got, want)
			}
			if len(rec) != 1 || rec[0].Result != "done" || !strings.HasPrefix(rec[0].Action, "undo") {
				t.Errorf("recovery %+v", rec)
			}
		})
	}
}

// TestPreflightProvesWhatTheGatesUse: a container with Docker health but no
// address reachable from here is fine where every gate reads Docker's health
// (the new container has a HEALTHCHECK too), and a probe that cannot work
// where a gate uses the Tars probe: a re-check, or a new container without
// a HEALTHCHECK.
func TestPreflightProvesWhatTheGatesUse(t *testing.T) {
	hc := &container.HealthConfig{Test: []string{"CMD", "/check"}}
	for _, tt := range []struct {
		name    string
		kind    string
		newSpec *container.Config
		wantErr bool
	}{
		{"recreate, the new container has a HEALTHCHECK", plan.StepRecreate, &container.Config{Healthcheck: hc}, false},
		{"recreate, the new container has none", plan.StepRecreate, &container.Config{}, true},
		{"re-check (always the Tars probe)", plan.StepRecheck, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEngine(t)
			c := f.add("n1", "tarscloud/tars-node:latest", true) // Docker health: healthy; no address
			x, h := fakeExecutor(f)
			oc := containerOf(t, x, h, c.ID)
			st := plan.Step{Kind: tt.kind, Host: "fake", Container: oc}
			if tt.newSpec != nil {
				st.Spec = plan.Spec{Config: tt.newSpec}
			}
			draft := plan.Plan{Phases: []plan.Phase{{Name: "nodes", Steps: []plan.Step{st}}}}
			got, err := (&health.Prober{Mode: health.ProbeDirect}).Preflight(context.Background(), x.Hosts, draft)
			if tt.wantErr {
				if !errors.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "no address reaches port 19385") {
					t.Fatalf("err = %v, want the probe that cannot work", err)
				}
				return
			}
			if err != nil || !got[oc.ID].Healthy() {
				t.Fatalf("found %+v, err %v; want healthy by Docker's health", got[oc.ID], err)
			}
		})
	}
}

// TestWaitRunning: the gate of an old container that was not healthy
// before asks only that it runs and stays up.
func TestWaitRunning(t *testing.T) {
	f := newFakeEngine(t)
	f.health["fw:old"] = plan.HealthUnhealthy
	c := f.add("fw", "fw:old", true)
	x, h := fakeExecutor(f)
	g := x.Opts.Gate
	g.Monitor = 5 * time.Millisecond
	if err := g.WaitRunning(context.Background(), h, c.ID, ""); err != nil {
		t.Fatalf("a running container, unhealthy as before: %v", err)
	}
	f.setRunning(c, false)
	var ge *health.GateError
	if err := g.WaitRunning(context.Background(), h, c.ID, ""); !errors.As(err, &ge) || !strings.Contains(ge.Reason, "exited") {
		t.Fatalf("a container that is not running: %v, want a gate error saying it exited", err)
	}
}
