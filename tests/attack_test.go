//go:build e2e

package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// attackEngineIndex is the slot of the extra engine these tests use. Why an
// engine of their own: they lay out what a killed tarsup leaves behind, and
// another test's tarsup on a shared engine would recover it first.
const attackEngineIndex = 5

// attackEngine starts (or reuses) the attack engine and returns it with the
// connection flags tarsup needs for it.
func attackEngine(t *testing.T, ctx context.Context) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, ctx, attackEngineIndex)
}

// TestAttackKillDuringRepinThenRecover: a rollback puts the old container
// back at its own address by disconnecting it from the network and
// connecting it again with that address pinned. A tarsup killed (or an
// engine restarted) between the two leaves the old container, under its
// name again, attached to no network, beside the failed new container
// (NAME.tarsup-failed) whose journal names it. `tarsup recover` must put the
// old container back on its network at its address before it starts it,
// not start a framework with no address at all and throw the journal away.
func TestAttackKillDuringRepinThenRecover(t *testing.T) {
	bed.Parallel(t, attackEngineIndex)
	ctx := t.Context()
	e, conn := attackEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("repin-")
	subnet := e.Subnet(71)
	netName := p + "net"
	d.Network(netName, subnet)

	// A throwaway container takes .2 (the db .3), so the framework's dynamic address is .4
	// with a lower one free: the address the engine would give is not its.
	taken := d.Run(testbed.ContainerSpec{Name: p + "taken", Image: bed.Images.Nginx, Networks: []testbed.Attachment{{Network: netName}}})
	db := d.Run(testbed.ContainerSpec{Name: p + "mysql", Image: bed.Images.MySQL, Networks: []testbed.Attachment{{Network: netName}}})
	fwEnv := []string{"MYSQL_HOST=" + db.IP, "REBUILD=false"}
	name := p + "framework"
	fw := d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015, Env: fwEnv,
		Networks: []testbed.Attachment{{Network: netName, Aliases: []string{"framework"}}}, Restart: "always"})
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	if err := e.Client.ContainerRemove(ctx, taken.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if fw.IP != testbed.HostIP(subnet, 4) {
		t.Fatalf("set-up: framework at %s, want .4", fw.IP)
	}

	// What the kill leaves: the failed new container renamed aside (its
	// journal says which container it replaced), the old one stopped, under
	// its name again, and disconnected for the re-pin.
	host, _ := os.Hostname()
	d.Run(testbed.ContainerSpec{Name: name + ".tarsup-failed", Image: bed.Images.Framework3015, NoStart: true,
		Env:      fwEnv,
		Networks: []testbed.Attachment{{Network: netName, IPv4: fw.IP, Aliases: []string{"framework"}}},
		Labels: map[string]string{
			plan.LabelTxn: "e2e", plan.LabelTxnName: name, plan.LabelTxnOld: fw.ID,
			plan.LabelTxnOldRunning: "true", plan.LabelTxnOwner: host + "/" + fmt.Sprint(deadPID(t)) + "/1",
			plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339), plan.LabelTxnRestore: plan.RestoreHealthy,
		}})
	d.Stop(name)
	if err := e.Client.NetworkDisconnect(ctx, netName, fw.ID, false); err != nil {
		t.Fatal(err)
	}

	r := tarsup(t, ctx, append(append([]string{"recover"}, conn...), gateFlags...)...)
	requireExit(t, r, 0)
	in := inspect(t, ctx, e, name)
	if in.ID != fw.ID || !in.State.Running {
		t.Fatalf("%s: id %s running %v, want the old container %s running\n%s", name, in.ID, in.State.Running, fw.ID, r)
	}
	ep := in.NetworkSettings.Networks[netName]
	if ep == nil || ep.IPAddress != fw.IP {
		t.Fatalf("%s is back without its address %s on %s: networks %v\n%s", name, fw.IP, netName, in.NetworkSettings.Networks, r)
	}
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	if got := names(t, ctx, e, name); len(got) != 1 {
		t.Errorf("containers %v, want only %s", got, name)
	}
}

// probeSidecars lists the sidecar containers of tarsup's probes on e.
func probeSidecars(t *testing.T, ctx context.Context, e *testbed.Engine) []string {
	t.Helper()
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", plan.LabelProbe))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		out = append(out, nameOf(c.Names)+" ("+c.State+")")
	}
	return out
}

func nameOf(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return strings.TrimPrefix(names[0], "/")
}

// startAtProbe starts tarsup with args and sends it sig as soon as the
// engine reports the first probe sidecar created (the pre-flight probe, in
// parallel over the containers). It returns the exit code and the output.
func startAtProbe(t *testing.T, ctx context.Context, e *testbed.Engine, sig syscall.Signal, args ...string) (int, string) {
	t.Helper()
	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionCreate)),
		filters.Arg("label", plan.LabelProbe))})
	var out strings.Builder
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-msgs:
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	case err := <-errs:
		t.Fatalf("engine events: %v", err)
	case err := <-done:
		t.Fatalf("tarsup finished before any probe sidecar was created (%v):\n%s", err, out.String())
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("no probe sidecar was created:\n%s", out.String())
	}
	err := <-done
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestAttackSignalDuringPreflightProbe: SIGTERM, and then kill -9, to
// `tarsup upgrade --probe sidecar` while its pre-flight probe runs. Nothing
// may change, and no probe sidecar may stay behind: SIGTERM lets the run
// clean up its own, and after a kill -9 the next run that takes the
// engine's lock removes those of the dead tarsup. SIGTERM is exit 1 saying
// that the run was interrupted before any change (before: "context
// canceled"). (Before: a sidecar whose
// create was under way at the signal, and every sidecar of a killed run,
// stayed on the engine for good, each one naming a Tars container's
// network namespace.)
func TestAttackSignalDuringPreflightProbe(t *testing.T) {
	bed.Parallel(t, attackEngineIndex)
	ctx := t.Context()
	e, _ := attackEngine(t, ctx)
	conn := append([]string{"--host", e.Host, "--probe", "sidecar"}, tlsArgs(e)...)
	d := bed.On(ctx, t, e)
	p := uniq("sigprobe-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(72), Nodes: 4})
	node16, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: "sigprobe-" + bed.RunID, Role: testbed.RoleNode, Version: "v3.0.16"})
	if err != nil {
		t.Fatal(err)
	}
	all := []string{dep.Framework.Name}
	for _, n := range dep.Nodes {
		all = append(all, n.Name)
	}
	before := map[string]string{}
	for _, n := range all {
		before[n] = containerState(t, ctx, e, n)
	}
	args := append(append(append([]string{"upgrade", "--to", "v3.0.16", "--node-image", node16}, conn...), only(all...)...), gateFlags...)
	unchanged := func(when string, lockGone bool) {
		t.Helper()
		for _, n := range all {
			if after := containerState(t, ctx, e, n); after != before[n] {
				t.Errorf("%s: %s changed:\nbefore %s\nafter  %s", when, n, before[n], after)
			}
		}
		// A kill -9 leaves the lock; the next run takes it over.
		if got := names(t, ctx, e, lock.EngineLockName); lockGone && len(got) != 0 {
			t.Errorf("%s: the engine lock is left: %v", when, got)
		}
	}

	code, out := startAtProbe(t, ctx, e, syscall.SIGTERM, args...)
	t.Logf("after SIGTERM (exit %d):\n%s", code, out)
	if code != 1 || !strings.Contains(out, "interrupted") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("after SIGTERM during the pre-flight: exit %d, want 1 saying it was interrupted and nothing was changed:\n%s", code, out)
	}
	unchanged("after SIGTERM", true)
	if left := probeSidecars(t, ctx, e); len(left) > 0 {
		t.Errorf("after SIGTERM, probe sidecars are left: %v", left)
	}

	code, out = startAtProbe(t, ctx, e, syscall.SIGKILL, args...)
	t.Logf("after kill -9 (exit %d):\n%s", code, out)
	unchanged("after kill -9", false)
	r := tarsup(t, ctx, append(append([]string{"recover"}, conn...), gateFlags...)...)
	requireExit(t, r, 0)
	if left := probeSidecars(t, ctx, e); len(left) > 0 {
		t.Errorf("after kill -9 and tarsup recover, the dead run's probe sidecars are left: %v", left)
	}
	unchanged("after recover", true)
}
