package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/fault"
)

// TestPlanHooks: the operator's hook commands and a container's hook
// labels become the hooks of its recreate, in the order they run, and the
// dry run shows each, with its timeout and what its failure does. A
// stopped container is neither stopped nor started: no label hook.
func TestPlanHooks(t *testing.T) {
	master := fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
		labels: map[string]string{LabelHookPreStop: `["/usr/local/bin/drain","--wait"]`, LabelHookPostStart: "undrain && echo done"}}
	stopped := fx{name: "n1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld,
		labels: map[string]string{LabelHookPreStop: "drain"}}
	states := []HostState{state("h1", master, stopped)}
	resolved := map[string]Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:stable":  pulled("sha256:n2", "tarscloud/tars-node:stable", nodeNew, ""),
	}
	hooks := HookPolicy{PreUpgrade: []string{"tar czf /backup/$TARSUP_CONTAINER.tgz /srv/tars", "sync"}, PostUpgrade: []string{"check"},
		OnRollback: []string{"page-oncall"}, Timeout: 90 * time.Second}
	for _, tt := range []struct {
		name     string
		failure  string
		wantPost string
	}{
		{"rollback by default", "", "a failure rolls back"},
		{"warn", PostHookWarn, "a failure is a warning (--post-hook-failure warn)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cands, err := Select(states, Request{To: "v3.0.16", NodeImage: "tarscloud/tars-node:stable"})
			if err != nil {
				t.Fatal(err)
			}
			hp := hooks
			hp.PostFailure = tt.failure
			p, err := BuildPlan(cands, resolved, states, Policy{Parallel: 1, Hooks: hp}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := `fw: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16
fw: hook pre-upgrade on this machine: sh -c "tar czf /backup/$TARSUP_CONTAINER.tgz /srv/tars" (timeout 1m30s; a failure skips the step, changing nothing)
fw: hook pre-upgrade on this machine: sh -c "sync" (timeout 1m30s; a failure skips the step, changing nothing)
fw: hook pre-stop in the old container, before it stops (label tarsup.hook.pre-stop): ["/usr/local/bin/drain","--wait"] (timeout 1m30s; a failure skips the step, changing nothing)
fw: hook post-start in the new container, once it passed its gate (label tarsup.hook.post-start): sh -c "undrain && echo done" (timeout 1m30s; POST)
fw: hook post-upgrade on this machine: sh -c "check" (timeout 1m30s; once the step is done, with its result; after an upgrade, POST)
fw: hook on-rollback on this machine: sh -c "page-oncall" (timeout 1m30s; after a rollback; a failure is reported)
n1: recreate latest -> stable (sha256:cccc… -> sha256:dddd…): --node-image tarscloud/tars-node:stable
n1: left stopped (not started, not gated): it was stopped
n1: hook pre-upgrade on this machine: sh -c "tar czf /backup/$TARSUP_CONTAINER.tgz /srv/tars" (timeout 1m30s; a failure skips the step, changing nothing)
n1: hook pre-upgrade on this machine: sh -c "sync" (timeout 1m30s; a failure skips the step, changing nothing)
n1: hook post-upgrade on this machine: sh -c "check" (timeout 1m30s; once the step is done, with its result; after an upgrade, POST)
n1: hook on-rollback on this machine: sh -c "page-oncall" (timeout 1m30s; after a rollback; a failure is reported)
`
			want = strings.ReplaceAll(want, "POST", tt.wantPost)
			if got := stepLines(p); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
			fw := p.Steps()[0]
			var order []string
			for _, h := range fw.Hooks {
				order = append(order, h.When+"="+h.Name)
			}
			if got, want := strings.Join(order, " "), "pre-upgrade=--pre-upgrade #1 pre-upgrade=--pre-upgrade #2 pre-stop=label tarsup.hook.pre-stop post-start=label tarsup.hook.post-start post-upgrade=--post-upgrade on-rollback=--on-rollback"; got != want {
				t.Errorf("hooks %s, want %s", got, want)
			}
			if got := fw.HooksAt(HookPreStop)[0]; !slices.Equal(got.Argv, []string{"/usr/local/bin/drain", "--wait"}) || !got.InContainer {
				t.Errorf("pre-stop %+v: want the exec form, in the container", got)
			}
			if got := fw.HooksAt(HookPostStart)[0].Argv; !slices.Equal(got, []string{"sh", "-c", "undrain && echo done"}) {
				t.Errorf("post-start argv %q: want the shell form", got)
			}
		})
	}
}

// TestPlanNoHooks: without hooks, a plan's lines are as they always were
// and its steps still carry the default policy.
func TestPlanNoHooks(t *testing.T) {
	states := []HostState{state("h1", fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true})}
	cands, _ := Select(states, Request{To: "v3.0.16"})
	p, err := BuildPlan(cands, map[string]Resolved{"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, "")}, states, Policy{Parallel: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stepLines(p), "fw: recreate v3.0.15 -> v3.0.16 (sha256:aaaa… -> sha256:bbbb…): --to v3.0.16\n"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}
	if st := p.Steps()[0]; st.HookTimeout != DefaultHookTimeout || st.PostHookFailure != PostHookRollback || len(st.Hooks) != 0 {
		t.Errorf("step hooks %v, timeout %s, post failure %q", st.Hooks, st.HookTimeout, st.PostHookFailure)
	}
}

// TestPlanBadHookLabel: a hook label that names no command is bad input
// (exit 2), named with its container, before anything runs.
func TestPlanBadHookLabel(t *testing.T) {
	for _, v := range []string{"", "   ", `["/bin/drain"`, `[]`, `[""]`, `[1,2]`} {
		t.Run(v, func(t *testing.T) {
			states := []HostState{state("h1", fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true,
				labels: map[string]string{LabelHookPostStart: v}})}
			cands, _ := Select(states, Request{To: "v3.0.16"})
			_, err := BuildPlan(cands, map[string]Resolved{"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, "")}, states, Policy{Parallel: 1}, nil)
			if fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(fmt.Sprint(err), "fw on h1") || !strings.Contains(fmt.Sprint(err), LabelHookPostStart) {
				t.Fatalf("err %v (exit %d), want exit 2 naming fw on h1 and the label", err, fault.ExitCode(err))
			}
		})
	}
}

// TestRefusalErrorRanks: bad input is told first; refusals alone stay
// refusals.
func TestRefusalErrorRanks(t *testing.T) {
	bad := fault.Mark(fault.BadInput, errors.New("label x is empty"))
	if err := refusalError([]error{errors.New("--rm"), bad}); fault.ExitCode(err) != fault.ExitBadInput || strings.Contains(err.Error(), "--rm") {
		t.Errorf("%v: want the bad input alone, exit 2", err)
	}
	if err := refusalError([]error{errors.New("--rm")}); fault.ExitCode(err) != fault.ExitRefused || err.Error() != "refused: --rm" {
		t.Errorf("%v: want the refusal, exit 3", err)
	}
}

// TestHookInput: what a hook is told of its step, in its environment and
// on its standard input.
func TestHookInput(t *testing.T) {
	st := Step{Host: "tcp://10.0.0.5:2376", Container: Container{Name: "tars-node", ID: "abc", Role: "node"},
		From: "tarscloud/tars-node:latest", To: "tarscloud/tars-node:stable", FromDigest: nodeOld, ToDigest: nodeNew, Cause: "tag latest moved"}
	h := Hook{When: HookPostUpgrade, Name: "--post-upgrade"}
	in := st.HookInput(h, HookResultRolledBack, "def")
	want := []string{"TARSUP_HOOK=post-upgrade", "TARSUP_HOST=tcp://10.0.0.5:2376", "TARSUP_CONTAINER=tars-node", "TARSUP_CONTAINER_ID=abc",
		"TARSUP_NEW_ID=def", "TARSUP_ROLE=node", "TARSUP_FROM=tarscloud/tars-node:latest", "TARSUP_TO=tarscloud/tars-node:stable", "TARSUP_RESULT=rolled-back"}
	if got := in.Env(); !slices.Equal(got, want) {
		t.Errorf("env %q\nwant %q", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(in.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"hook": "post-upgrade", "name": "--post-upgrade", "host": "tcp://10.0.0.5:2376", "container": "tars-node", "id": "abc", "new_id": "def",
		"role": "node", "from": "tarscloud/tars-node:latest", "to": "tarscloud/tars-node:stable", "from_digest": nodeOld, "to_digest": nodeNew, "cause": "tag latest moved", "result": "rolled-back"} {
		if back[k] != v {
			t.Errorf("stdin JSON %s = %q, want %q", k, back[k], v)
		}
	}
	if got := st.HookInput(Hook{When: HookPreUpgrade}, "", "").Env(); !slices.Contains(got, "TARSUP_RESULT=") {
		t.Errorf("a pre hook's env %q: want an empty TARSUP_RESULT", got)
	}
}
