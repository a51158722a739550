//go:build e2e

package tests

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/orchestrator"
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
	e, err := bed.Engine(ctx, attackEngineIndex)
	if err != nil {
		t.Fatal(err)
	}
	return e, append([]string{"--host", e.Host, "--probe", "direct"}, tlsArgs(e)...)
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
			orchestrator.LabelTxn: "e2e", orchestrator.LabelTxnName: name, orchestrator.LabelTxnOld: fw.ID,
			orchestrator.LabelTxnOldRunning: "true", orchestrator.LabelTxnOwner: host + "/" + fmt.Sprint(deadPID(t)) + "/1",
			orchestrator.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339), orchestrator.LabelTxnRestore: orchestrator.RestoreHealthy,
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
