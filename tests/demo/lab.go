package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/tarsup/tarsup/swapname"
	"github.com/tarsup/tarsup/tests/testbed"
)

// What marks the lab. The label is the demo's own, not the test bed's run
// label: the bed removes what dead test runs left, and the lab is meant to
// outlive the demo.
const (
	// Label is on every container, volume, network and image of the lab.
	Label = "tarsup.demo"
	// LabelValue is Label's value.
	LabelValue = "lab"
	// Prefix starts the name of everything the lab is made of.
	Prefix = "tarsup-demo-"
	// Subnet is the lab network's: fixed, so that the README can name it,
	// and outside the 10.240.0.0/12 the test bed hands out.
	Subnet = "172.31.250.0/24"
	// repoPrefix starts the stand-in images' repositories in the demo's
	// registry (127.0.0.1:PORT/tarsup-demo/tarscloud/framework): tarsup
	// reads a role from a repository's last two parts, as for a mirror.
	repoPrefix = "tarsup-demo/"
)

// The lab's names, as testbed.TarsDocs makes them from Prefix.
var (
	netName   = Prefix + "internal"
	dbName    = Prefix + "mysql"
	fwName    = Prefix + "framework"
	slaveName = Prefix + "slave"
	nodeNames = []string{Prefix + "node1", Prefix + "node2"}
)

// tarsNames are the containers tarsup is let at, in the Tars order.
func tarsNames() []string { return append([]string{fwName, slaveName}, nodeNames...) }

// containerNames are all the lab's containers.
func containerNames() []string { return append([]string{dbName}, tarsNames()...) }

// volumeNames are the lab's named volumes (TarsDocs: <container>-data).
func volumeNames() []string {
	var out []string
	for _, n := range containerNames() {
		out = append(out, n+"-data")
	}
	return out
}

// labFilter selects what carries the demo's label.
func labFilter() filters.Args { return filters.NewArgs(filters.Arg("label", Label+"="+LabelValue)) }

// labT is the testbed.TB of the demo: a failed lay-out step panics with a
// labFailure, which catch turns back into an error.
type labT struct{ out io.Writer }

type labFailure struct{ err error }

func (labT) Helper()           {}
func (labT) Fatal(args ...any) { panic(labFailure{errors.New(fmt.Sprint(args...))}) }
func (labT) Fatalf(format string, args ...any) {
	panic(labFailure{fmt.Errorf(format, args...)})
}
func (t labT) Errorf(format string, args ...any) {
	fmt.Fprintf(t.out, "warning: "+format+"\n", args...)
}
func (t labT) Logf(format string, args ...any) { fmt.Fprintf(t.out, format+"\n", args...) }

// catch runs f and returns its error, or the error of a labT.Fatal in it.
func catch(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			lf, ok := r.(labFailure)
			if !ok {
				panic(r)
			}
			err = lf.err
		}
	}()
	return f()
}

// checkFree refuses (errRefused) when something that is not the lab's holds
// its subnet or one of its names on engine e, or, for a local engine, when
// an interface of this machine is in the subnet.
func checkFree(ctx context.Context, e *testbed.Engine, localAddrs []net.Addr) error {
	_, want, _ := net.ParseCIDR(Subnet)
	var taken []string
	nets, err := e.Client.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return fmt.Errorf("list networks on %s: %w", e.Host, err)
	}
	for _, n := range nets {
		if isLab(n.Name, n.Labels) {
			continue
		}
		for _, c := range n.IPAM.Config {
			if overlaps(c.Subnet, want) {
				taken = append(taken, fmt.Sprintf("network %s has subnet %s", n.Name, c.Subnet))
			}
		}
		if n.Name == netName {
			taken = append(taken, "network "+n.Name+" exists")
		}
	}
	for _, a := range localAddrs {
		if ipn, ok := a.(*net.IPNet); ok && want.Contains(ipn.IP) {
			taken = append(taken, "this machine has address "+ipn.String())
		}
	}
	names, err := takenNames(ctx, e)
	if err != nil {
		return err
	}
	taken = append(taken, names...)
	if len(taken) > 0 {
		return fmt.Errorf("%w: the lab needs subnet %s and the names %s* on %s, and %s: remove or rename what holds them (nothing was changed)",
			errRefused, Subnet, Prefix, e.Host, strings.Join(taken, "; "))
	}
	return nil
}

// takenNames lists the lab's container and volume names held by objects
// that are not the lab's (a container under one of a swap's temporary
// names included).
func takenNames(ctx context.Context, e *testbed.Engine) ([]string, error) {
	var taken []string
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("list containers on %s: %w", e.Host, err)
	}
	lab := map[string]bool{}
	for _, n := range containerNames() {
		lab[n] = true
	}
	for _, c := range list {
		for _, n := range c.Names {
			n = strings.TrimPrefix(n, "/")
			if lab[baseName(n)] && !isLab(n, c.Labels) {
				taken = append(taken, "container "+n+" exists")
			}
		}
	}
	vols, err := e.Client.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list volumes on %s: %w", e.Host, err)
	}
	for _, want := range volumeNames() {
		for _, v := range vols.Volumes {
			if v.Name == want && !isLab(v.Name, v.Labels) {
				taken = append(taken, "volume "+v.Name+" exists")
			}
		}
	}
	return taken, nil
}

// baseName is the service name of a container name: NAME for NAME and for
// its swap's temporary names (NAME.tarsup-new, -old, -failed).
func baseName(name string) string {
	for _, s := range []string{swapname.New, swapname.Old, swapname.Failed} {
		if b, ok := strings.CutSuffix(name, s); ok {
			return b
		}
	}
	return name
}

// isLab tells whether an object of this name and labels is the lab's: the
// label and the prefix, both.
func isLab(name string, labels map[string]string) bool {
	return labels[Label] == LabelValue && strings.HasPrefix(strings.TrimPrefix(name, "/"), Prefix)
}

// overlaps tells whether the subnet cidr (as the engine reports it) and n
// share an address; a cidr that does not parse (IPv6-less, empty) does not.
func overlaps(cidr string, n *net.IPNet) bool {
	_, other, err := net.ParseCIDR(cidr)
	if err != nil {
		return false
	}
	return other.Contains(n.IP) || n.Contains(other.IP)
}
