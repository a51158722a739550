//go:build e2e

package tests

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tests/testbed"
)

// TestUpgradeKeepsDynamicIPs: a framework and a node whose addresses the
// engine assigned (no --ip) keep exactly those addresses across an
// upgrade, although lower addresses of their network are free by then.
// Tars records them (t_node_info): a new address is a new, unregistered
// node. The dry run lists the pins.
func TestUpgradeKeepsDynamicIPs(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("ips-")
	subnet := bed.Local.Subnet(90)
	netName := p + "net"
	d.Network(netName, subnet)

	// Two throwaway containers take .2 and .3 first.
	var throwaway []string
	for _, n := range []string{"a", "b"} {
		c := d.Run(testbed.ContainerSpec{Name: p + "taken-" + n, Image: bed.Images.Nginx, Networks: []testbed.Attachment{{Network: netName}}})
		throwaway = append(throwaway, c.ID)
	}
	fwName, nodeName := p+"framework", p+"node"
	fw := d.Run(testbed.ContainerSpec{Name: fwName, Image: bed.Images.Framework3015, Env: []string{"MYSQL_HOST=10.9.9.9", "REBUILD=false"},
		Networks: []testbed.Attachment{{Network: netName, Aliases: []string{"framework"}}}, Restart: "always"})
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	tag := "ips-" + bed.RunID
	nodeRef := floatingNode(t, ctx, tag, "v3.0.15")
	node := d.Run(testbed.ContainerSpec{Name: nodeName, Image: nodeRef, Env: []string{"WEB_HOST=http://" + net.JoinHostPort(fw.IP, "3000")},
		Networks: []testbed.Attachment{{Network: netName}}, Restart: "always"})
	d.WaitTCP(net.JoinHostPort(node.IP, "19385"))
	for _, id := range throwaway {
		if err := bed.Local.Client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	if fw.IP != testbed.HostIP(subnet, 4) || node.IP != testbed.HostIP(subnet, 5) {
		t.Fatalf("set-up: framework %s, node %s; want .4 and .5 (dynamic, above the freed .2 and .3)", fw.IP, node.IP)
	}
	// Dynamic: nothing asked for these addresses.
	if ipam := inspect(t, ctx, bed.Local, fwName).NetworkSettings.Networks[netName].IPAMConfig; ipam != nil && ipam.IPv4Address != "" {
		t.Fatalf("set-up: the framework has a static address %s", ipam.IPv4Address)
	}
	floatingNode(t, ctx, tag, "v3.0.16")
	mine := only(fwName, nodeName)

	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--dry-run"}, mine...), gateFlags...)...)
	requireExit(t, r, 0, fwName+": recreate v3.0.15 -> v3.0.16", "; pins "+fw.IP+" on "+netName, nodeName+": recreate", "; pins "+node.IP+" on "+netName)

	r = tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--dry-run", "--format", "json"}, mine...), gateFlags...)...)
	requireExit(t, r, 0)
	var plan struct {
		Plan []struct {
			Container string `json:"container"`
			Pins      []struct {
				Network string `json:"network"`
				IP      string `json:"ip"`
			} `json:"pins"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &plan); err != nil {
		t.Fatalf("dry run JSON: %v\n%s", err, r.Stdout)
	}
	pins := map[string]string{}
	for _, st := range plan.Plan {
		for _, p := range st.Pins {
			pins[st.Container] = p.IP + " on " + p.Network
		}
	}
	if pins[fwName] != fw.IP+" on "+netName || pins[nodeName] != node.IP+" on "+netName {
		t.Errorf("dry run JSON pins %v", pins)
	}

	r = tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"}, mine...), gateFlags...)...)
	requireExit(t, r, 0)
	for name, want := range map[string]*testbed.Container{fwName: fw, nodeName: node} {
		in := inspect(t, ctx, bed.Local, name)
		if in.ID == want.ID {
			t.Errorf("%s was not recreated", name)
		}
		if got := in.NetworkSettings.Networks[netName].IPAddress; got != want.IP {
			t.Errorf("%s came back at %s, want its old address %s", name, got, want.IP)
		}
	}
	d.WaitTCP(net.JoinHostPort(node.IP, "19385"))
}

// TestUpgradeDefaultBridgeRefused: the default bridge takes no fixed
// address, so a container there would come back at whatever address is
// free: refused (exit 3, nothing changed) unless --allow-ip-change.
func TestUpgradeDefaultBridgeRefused(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("bridge-")
	name := p + "framework"
	fw := d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015, Env: []string{"MYSQL_HOST=10.9.9.9", "REBUILD=false"}})
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	before := snapshot(t, ctx, bed.Local, p)

	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16"}, gateFlags...)...)
	requireExit(t, r, 3, name, fw.IP+" on bridge", "--allow-ip-change")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16", "--dry-run", "--allow-ip-change"}, gateFlags...)...)
	requireExit(t, r, 0, name+": recreate v3.0.15 -> v3.0.16", "may change "+fw.IP+" on bridge (--allow-ip-change)")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16", "--allow-ip-change"}, gateFlags...)...)
	requireExit(t, r, 0, name+": recreate v3.0.15 -> v3.0.16")
	if in := inspect(t, ctx, bed.Local, name); in.ID == fw.ID || !strings.HasSuffix(in.Config.Image, ":v3.0.16") {
		t.Errorf("with --allow-ip-change: ID %s image %s, want a new container on v3.0.16", in.ID, in.Config.Image)
	}
}

// TestUpgradeAutoRemoveRefused: stopping a --rm container makes the engine
// remove it (and its anonymous volumes), so there would be nothing to roll
// back to: refused, the container untouched.
func TestUpgradeAutoRemoveRefused(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("rm-")
	netName := p + "net"
	subnet := bed.Local.Subnet(91)
	d.Network(netName, subnet)
	name := p + "framework"
	fw := d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015, Env: []string{"MYSQL_HOST=10.9.9.9", "REBUILD=false"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: testbed.HostIP(subnet, 3)}},
		Customize: func(_ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			hc.AutoRemove = true
		}})
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	before := snapshot(t, ctx, bed.Local, p)

	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16"}, gateFlags...)...)
	requireExit(t, r, 3, name, "--rm", "Recreate it without --rm")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	if in := inspect(t, ctx, bed.Local, name); in.ID != fw.ID || !in.State.Running {
		t.Errorf("the --rm framework: ID %s running %v, want %s still running", in.ID, in.State.Running, fw.ID)
	}
}

// TestUpgradeImageOfAnotherRole: --framework-image naming the database
// image is refused before anything is pulled or changed.
func TestUpgradeImageOfAnotherRole(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("role-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(92)})
	before := snapshot(t, ctx, bed.Local, p)

	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--framework-image", bed.Images.MySQL}, only(dep.Framework.Name)...), gateFlags...)...)
	requireExit(t, r, 3, "--framework-image "+bed.Images.MySQL, "db image", dep.Framework.Name)
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--framework-image", bed.Images.NodeLatest}, only(dep.Framework.Name)...), gateFlags...)...)
	requireExit(t, r, 3, "node image")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}

// TestRollbackKeepsDynamicIP: a failed upgrade rolls back to the old
// container at its old address, although it was assigned dynamically and a
// lower address is free by then.
func TestRollbackKeepsDynamicIP(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("iprb-")
	subnet := bed.Local.Subnet(93)
	netName := p + "net"
	d.Network(netName, subnet)
	taken := d.Run(testbed.ContainerSpec{Name: p + "taken", Image: bed.Images.Nginx, Networks: []testbed.Attachment{{Network: netName}}})
	name := p + "framework"
	fw := d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015, Env: []string{"MYSQL_HOST=10.9.9.9", "REBUILD=false"},
		Networks: []testbed.Attachment{{Network: netName}}, Restart: "always"})
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	if err := bed.Local.Client.ContainerRemove(ctx, taken.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if fw.IP != testbed.HostIP(subnet, 3) {
		t.Fatalf("set-up: framework at %s, want .3 (dynamic, above the freed .2)", fw.IP)
	}

	r := tarsup(t, ctx, "upgrade", "--host", bed.Local.Host, "--only", name, "--framework-image", bed.Images.FrameworkNeverHealthy,
		"--health-timeout", "5s", "--monitor", "1s", "--stop-timeout", "5s", "--lock-wait", "10m")
	requireExit(t, r, 1, "rolled back")
	in := inspect(t, ctx, bed.Local, name)
	if in.ID != fw.ID || !in.State.Running {
		t.Fatalf("after the rollback %s is %s (running %v), want the old container %s", name, in.ID, in.State.Running, fw.ID)
	}
	if got := in.NetworkSettings.Networks[netName].IPAddress; got != fw.IP {
		t.Errorf("the old container came back at %s, want %s", got, fw.IP)
	}
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
}
