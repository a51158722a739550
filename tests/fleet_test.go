//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/tests/testbed"
)

// Fleet tests (issue 4): one Tars deployment spread over three engines, the
// local one and two extra engines with TLS listeners (east and west), driven
// by one tarsup command. Each engine's containers carry the test's prefix.

// flFleet is a deployment over three engines: on the local engine the db and
// the framework master, with 3306 and 3000 published so that the extra
// engines' containers reach them at their bridge IPs (see testbed.StartEngine
// on routing between engines); nodes on every engine. East's nodes sit on its
// default bridge, west's on a user-defined network with static IPs.
type flFleet struct {
	Prefix            string
	Local, East, West *testbed.Engine
	Network           string // the local network of the db and the framework
	WestNetwork       string
	DB, Framework     *testbed.Container
	WebHost           string // the nodes' WEB_HOST: the framework's bridge IP
	Nodes             []flNode
	// Args reach the three engines in one command: the local engine and east
	// through an inventory file (each extra engine has its own CA and client
	// certificate), west through --host with the TLS flags, which apply to
	// the --host engines only.
	Args []string

	on        map[*testbed.Engine]*testbed.Deployer
	k         int // the subnets' number
	westSlots int
}

// flNode is a node container the fixture started.
type flNode struct {
	Engine *testbed.Engine
	Name   string
	ID     string
	IP     string
}

// flEngines returns the two extra engines of the fleet tests.
func flEngines(tb testing.TB, ctx context.Context) (east, west *testbed.Engine) {
	tb.Helper()
	var err error
	if east, err = bed.Engine(ctx, 1); err != nil {
		tb.Fatal(err)
	}
	if west, err = bed.Engine(ctx, 2); err != nil {
		tb.Fatal(err)
	}
	return east, west
}

// flDeploy lays out the fleet: k picks the subnets (Subnet(k) on the local
// engine and on west), perEngine[i] nodes of nodeImage go on the local
// engine, east and west. It waits until everything answers.
func flDeploy(tb testing.TB, ctx context.Context, prefix string, k int, perEngine [3]int, nodeImage string) *flFleet {
	tb.Helper()
	east, west := flEngines(tb, ctx)
	f := &flFleet{Prefix: prefix, k: k, Local: bed.Local, East: east, West: west, on: map[*testbed.Engine]*testbed.Deployer{}}
	for _, e := range f.engines() {
		f.on[e] = bed.On(ctx, tb, e)
	}
	local := f.on[bed.Local]

	subnet := bed.Local.Subnet(k)
	f.Network = prefix + "internal"
	local.Network(f.Network, subnet)
	dbIP, fwIP := testbed.HostIP(subnet, 2), testbed.HostIP(subnet, 3)
	f.DB = local.Run(testbed.ContainerSpec{
		Name:     prefix + "mysql",
		Image:    bed.Images.MySQL,
		Env:      []string{"MYSQL_ROOT_PASSWORD=tars2015"},
		Volumes:  []string{prefix + "mysql-data:/var/lib/mysql"},
		Networks: []testbed.Attachment{{Network: f.Network, IPv4: dbIP, Aliases: []string{"mysql"}}},
		Ports:    []string{"3306"},
		Restart:  "always",
	})
	f.Framework = local.Run(testbed.ContainerSpec{
		Name:  prefix + "framework",
		Image: bed.Images.Framework3015,
		Env: []string{"MYSQL_HOST=" + dbIP, "MYSQL_ROOT_PASSWORD=tars2015", "MYSQL_USER=root", "MYSQL_PORT=3306",
			"REBUILD=false", "INET=eth0", "SLAVE=false"},
		Volumes:  []string{prefix + "framework-data:/data/tars"},
		Networks: []testbed.Attachment{{Network: f.Network, IPv4: fwIP, Aliases: []string{"framework"}}},
		Ports:    []string{"3000"},
		Restart:  "always",
	})
	f.WebHost = "http://" + fwIP + ":3000"
	local.WaitTCP(net.JoinHostPort(fwIP, "17890"))
	local.WaitHTTP(f.WebHost + "/get_tarsnode")

	f.WestNetwork = prefix + "west"
	f.on[west].Network(f.WestNetwork, west.Subnet(k))

	for i, e := range f.engines() {
		for n := 1; n <= perEngine[i]; n++ {
			f.AddNode(tb, e, fmt.Sprintf("%s-node%d", f.engineName(e), n), nodeImage)
		}
	}
	f.Args = f.hostArgs(tb)
	return f
}

func (f *flFleet) engines() []*testbed.Engine { return []*testbed.Engine{f.Local, f.East, f.West} }

func (f *flFleet) engineName(e *testbed.Engine) string {
	switch e {
	case f.Local:
		return "local"
	case f.East:
		return "east"
	}
	return "west"
}

// hostName is how tarsup's reports name an engine of f.Args.
func (f *flFleet) hostName(e *testbed.Engine) string {
	if e == f.West {
		return e.Host
	}
	return f.engineName(e)
}

// AddNode runs one more node, named Prefix+name, of image on e, as the
// fixture's nodes are, and waits until it answers.
func (f *flFleet) AddNode(tb testing.TB, e *testbed.Engine, name, image string) flNode {
	tb.Helper()
	spec := testbed.ContainerSpec{
		Name:    f.Prefix + name,
		Image:   image,
		Env:     []string{"WEB_HOST=" + f.WebHost},
		Volumes: []string{f.Prefix + name + "-data:/data/tars"},
		Restart: "always",
	}
	switch e {
	case f.Local:
		spec.Networks = []testbed.Attachment{{Network: f.Network}}
	case f.West:
		f.westSlots++
		spec.Networks = []testbed.Attachment{{Network: f.WestNetwork, IPv4: testbed.HostIP(f.West.Subnet(f.k), 10+f.westSlots)}}
	}
	c := f.on[e].Run(spec)
	f.on[e].WaitTCP(net.JoinHostPort(c.IP, "19385"))
	n := flNode{Engine: e, Name: c.Name, ID: c.ID, IP: c.IP}
	f.Nodes = append(f.Nodes, n)
	return n
}

// hostArgs writes the inventory file and returns the engine flags.
func (f *flFleet) hostArgs(tb testing.TB) []string {
	tb.Helper()
	inv := fmt.Sprintf("# the local engine and east; west comes with --host\nhosts:\n  - name: local\n    url: %q\n  - name: east\n    url: %q\n    tls: {ca: %q, cert: %q, key: %q}\n",
		f.Local.Host, f.East.Host, f.East.TLS.CA, f.East.TLS.Cert, f.East.TLS.Key)
	path := filepath.Join(tb.TempDir(), "inventory.yaml")
	if err := os.WriteFile(path, []byte(inv), 0o600); err != nil {
		tb.Fatal(err)
	}
	return append([]string{"--inventory", path, "--host", f.West.Host}, tlsArgs(f.West)...)
}

// only limits a command to the framework and the given nodes (all of the
// fixture's nodes when none are given).
func (f *flFleet) only(nodes ...flNode) []string {
	if len(nodes) == 0 {
		nodes = f.Nodes
	}
	names := []string{f.Framework.Name}
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return only(names...)
}

// flSnapshot is "nothing changed" over the three engines: each of the
// fixture's containers (by prefix) with its ID, image, state and start time.
func flSnapshot(t *testing.T, ctx context.Context, f *flFleet) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range f.engines() {
		for k, v := range snapshot(t, ctx, e, f.Prefix) {
			out[f.engineName(e)+" "+k] = v
		}
	}
	return out
}

// requireNoLeftovers fails when tarsup left a temporary container
// (.tarsup-new, -old, -failed) of the fleet on any engine.
func (f *flFleet) requireNoLeftovers(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, e := range f.engines() {
		for _, n := range leftovers(t, ctx, e) {
			if strings.HasPrefix(strings.TrimPrefix(n, "/"), f.Prefix) {
				t.Errorf("temporary container left on %s: %s", f.engineName(e), n)
			}
		}
	}
}

// tarsup runs a tarsup command that changes engines, waiting (--lock-wait)
// while another tarsup holds an engine's lock: e2e runs of other checkouts
// share the local engine. It also waits while a tarsup built before the
// engine lock existed is swapping a container that is not the fleet's: that
// refusal changes nothing and says to wait. Any other outcome is returned
// as it is.
func (f *flFleet) tarsup(tb testing.TB, ctx context.Context, args ...string) testbed.Result {
	tb.Helper()
	r, _ := f.timed(tb, ctx, args...)
	return r
}

// timed is tarsup that also returns how long its last run took.
func (f *flFleet) timed(tb testing.TB, ctx context.Context, args ...string) (testbed.Result, time.Duration) {
	tb.Helper()
	busy := regexp.MustCompile(`another tarsup is upgrading: (\S+) on `)
	if !slices.Contains(args, "--lock-wait") {
		// Why only then: a flag given twice is a usage error.
		args = append(slices.Clone(args), "--lock-wait", "5m")
	}
	for i := 0; ; i++ {
		start := time.Now()
		r := testbed.Run(ctx, bed.Tarsup(tb), args...)
		took := time.Since(start)
		m := busy.FindStringSubmatch(r.Stderr)
		if r.ExitCode != 3 || m == nil || strings.HasPrefix(m[1], f.Prefix) || i == 30 {
			return r, took
		}
		tb.Logf("waiting for another run's swap of %s", m[1])
		time.Sleep(2 * time.Second)
	}
}

// flTime parses an engine timestamp (Created, State.StartedAt).
func flTime(t *testing.T, what, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s: bad engine timestamp %q: %v", what, s, err)
	}
	return ts
}

// flMaxUnderWay reads the event lines of a text run and returns how many of
// the named containers' recreates were under way at once, at most. It is a
// property of the output's order, not of time: a step prints its "started"
// line after it took one of the --parallel slots and its result line before
// it gives the slot back.
func flMaxUnderWay(out string, names []string) int {
	under, most := 0, 0
	for _, line := range strings.Split(out, "\n") {
		for _, n := range names {
			if !strings.Contains(line, " "+n+": recreate ") {
				continue
			}
			switch {
			case strings.Contains(line, ": started"):
				under++
				most = max(most, under)
			case strings.Contains(line, ": upgraded"), strings.Contains(line, ": rolled back"), strings.Contains(line, ": failed"), strings.Contains(line, ": left for inspection"):
				under--
			}
		}
	}
	return most
}

// TestFleetUpgrade: pre-flight on every engine before any change (an
// unreachable engine, a pull that fails on one engine: exit 2 and every
// container on every engine as it was), then the upgrade of the framework
// and of nodes on three engines with --parallel 2, master first by the
// engines' own clocks; healthy nodes outside the plan are re-checked when
// they belong to the upgraded framework, and left alone when they do not.
func TestFleetUpgrade(t *testing.T) {
	ctx := t.Context()
	tag := "fleet-" + bed.RunID
	nodeRef := floatingNode(t, ctx, tag, "v3.0.15")
	f := flDeploy(t, ctx, uniq("fleet-"), 100, [3]int{2, 2, 2}, nodeRef)
	nodes := slices.Clone(f.Nodes)
	mine := f.only(nodes...)

	// A node of this deployment on west whose image comes from a registry
	// west cannot reach: it runs, but its tag cannot be pulled there.
	strayReg := freeLoopbackPort(t)
	strayRef := strayReg + "/tarscloud/tars-node:" + tag
	if err := testbed.Pull(ctx, f.West, floatingNode(t, ctx, "stray-"+bed.RunID, "v3.0.16"), false); err != nil {
		t.Fatal(err)
	}
	if err := f.West.Client.ImageTag(ctx, bed.Images.NodeRepo+":stray-"+bed.RunID, strayRef); err != nil {
		t.Fatal(err)
	}
	stray := f.AddNode(t, f.West, "west-stray", strayRef)

	// A node of another deployment (its own framework, no shared database)
	// on east: upgrading this fleet's framework is none of its business.
	other := f.on[f.Local].Run(testbed.ContainerSpec{Name: f.Prefix + "other-framework", Image: bed.Images.Framework3015,
		Env: []string{"INET=eth0"}, Networks: []testbed.Attachment{{Network: f.Network}}, Ports: []string{"3000"}})
	f.on[f.Local].WaitHTTP("http://" + net.JoinHostPort(other.IP, "3000") + "/get_tarsnode")
	bystander := f.on[f.East].Run(testbed.ContainerSpec{Name: f.Prefix + "other-node", Image: bed.Images.NodeLatest,
		Env: []string{"WEB_HOST=http://" + net.JoinHostPort(other.IP, "3000")}})
	f.on[f.East].WaitTCP(net.JoinHostPort(bystander.IP, "19385"))

	floatingNode(t, ctx, tag, "v3.0.16")
	// --allow-ip-change: east's nodes run on its default bridge, which
	// takes no fixed address (tests/ips_test.go has the refusal).
	upgrade := append(append([]string{"upgrade", "--to", "v3.0.16", "--parallel", "2", "--allow-ip-change"}, f.Args...), gateFlags...)
	before := flSnapshot(t, ctx, f)

	// An unreachable engine among the three: exit 2, naming it.
	closed := freeLoopbackPort(t)
	r := f.tarsup(t, ctx, append(append(slices.Clone(upgrade), "--host", "tcp://"+closed), mine...)...)
	requireExit(t, r, 2, closed)
	requireUnchanged(t, before, flSnapshot(t, ctx, f))

	// A pull that fails on west only, after the other engines pulled.
	r = f.tarsup(t, ctx, append(append(slices.Clone(upgrade), mine...), only(stray.Name)...)...)
	requireExit(t, r, 2, strayRef, "nothing was changed")
	requireUnchanged(t, before, flSnapshot(t, ctx, f))

	// The upgrade: master, then the nodes two at a time across the engines.
	r = f.tarsup(t, ctx, append(slices.Clone(upgrade), mine...)...)
	requireExit(t, r, 0, f.Framework.Name+": recreate v3.0.15 -> v3.0.16")
	fw := inspect(t, ctx, f.Local, f.Framework.Name)
	if fw.ID == f.Framework.ID || !strings.HasSuffix(fw.Config.Image, "/tarscloud/framework:v3.0.16") || !fw.State.Running {
		t.Fatalf("framework after the upgrade: %s %s running=%t", fw.ID, fw.Config.Image, fw.State.Running)
	}
	fwStarted := flTime(t, "framework StartedAt", fw.State.StartedAt)
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
		in := inspect(t, ctx, n.Engine, n.Name)
		if in.ID == n.ID || !in.State.Running {
			t.Errorf("%s on %s was not recreated: %s running=%t", n.Name, f.engineName(n.Engine), in.ID, in.State.Running)
			continue
		}
		if created := flTime(t, n.Name+" Created", in.Created); !created.After(fwStarted) {
			t.Errorf("%s on %s was recreated at %s, before the framework started at %s (engine clocks)", n.Name, f.engineName(n.Engine), in.Created, fw.State.StartedAt)
		}
		if !strings.Contains(r.Stdout, f.hostName(n.Engine)+" "+n.Name+": recreate "+tag+" -> "+tag+": upgraded") {
			t.Errorf("no upgraded line for %s on %s:\n%s", n.Name, f.hostName(n.Engine), r.Stdout)
		}
		// A real tarsnode fetches itself from the web on start: the new
		// container did so from the new framework, across engines.
		if got := f.on[n.Engine].ReadFile(n.Name, "/data/tars/tarsnode-data/tarsnode.tgz"); !strings.Contains(got, "v3.0.16") {
			t.Errorf("%s on %s fetched %q, want the v3.0.16 framework's tarsnode", n.Name, f.engineName(n.Engine), got)
		}
	}
	if got := flMaxUnderWay(r.Stdout, names); got != 2 {
		t.Errorf("with --parallel 2, at most %d node recreates were under way at once, want 2:\n%s", got, r.Stdout)
	}
	if i, j := strings.Index(r.Stdout, f.Framework.Name+": recreate"), strings.Index(r.Stdout, nodes[0].Name+": recreate"); i < 0 || j < i {
		t.Errorf("the output does not show the framework before the nodes:\n%s", r.Stdout)
	}

	// The stray node answered before, so it was re-checked (and not
	// touched: it still answers); the other deployment's node was not.
	if !strings.Contains(r.Stdout, stray.Name+": re-check: ok") {
		t.Errorf("the healthy node %s outside the plan was not re-checked after its framework's upgrade:\n%s", stray.Name, r.Stdout)
	}
	after := flSnapshot(t, ctx, f)
	for _, n := range []string{"west " + stray.Name, "east " + bystander.Name, "local " + f.DB.Name, "local " + other.Name} {
		if after[n] != before[n] {
			t.Errorf("%s changed: %s -> %s", n, before[n], after[n])
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, bystander.Name) {
		t.Errorf("the upgrade dealt with %s, a node of another deployment:\n%s", bystander.Name, r)
	}
	f.requireNoLeftovers(t, ctx)
}

// flResults decodes the per-step results of `upgrade --format json`.
func flResults(t *testing.T, r testbed.Result) []struct{ Host, Container, Result, Error string } {
	t.Helper()
	var rep struct {
		Results []struct{ Host, Container, Result, Error string } `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, r)
	}
	return rep.Results
}

// TestFleetMaxFailures: a node image that never becomes healthy is rolled
// back on each node it was tried on, and once more nodes than --max-failures
// failed, no new node is started: the rest stay exactly as they were.
func TestFleetMaxFailures(t *testing.T) {
	ctx := t.Context()
	tag := "maxfail-" + bed.RunID
	f := flDeploy(t, ctx, uniq("maxfail-"), 101, [3]int{2, 1, 1}, floatingNode(t, ctx, tag, "v3.0.15"))
	// The tag moves to an image that runs but never listens.
	if _, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: tag, Role: testbed.RoleNode,
		Version: "v3.0.16", Env: []string{"FAKE_NEVER_HEALTHY=true"}}); err != nil {
		t.Fatal(err)
	}
	var nodeOnly []string
	for _, n := range f.Nodes {
		nodeOnly = append(nodeOnly, "--only", n.Name)
	}

	for _, maxFailures := range []int{0, 1} {
		t.Run(fmt.Sprintf("max-failures=%d", maxFailures), func(t *testing.T) {
			before := flSnapshot(t, ctx, f)
			args := append(append([]string{"upgrade", "--parallel", "1", "--max-failures", fmt.Sprint(maxFailures), "--format", "json",
				"--health-timeout", "5s", "--monitor", "1s", "--stop-timeout", "5s", "--allow-ip-change"}, f.Args...), nodeOnly...)
			r := f.tarsup(t, ctx, args...)
			requireExit(t, r, 1, "not healthy after 5s")
			res := flResults(t, r)
			if len(res) != len(f.Nodes) {
				t.Fatalf("%d results for %d nodes:\n%s", len(res), len(f.Nodes), r)
			}
			// In plan order: the first maxFailures+1 were tried and rolled
			// back, then no new node was started.
			for i, s := range res {
				want := "skipped"
				if i <= maxFailures {
					want = "rolled back"
				}
				if s.Result != want {
					t.Errorf("step %d (%s on %s): %q, want %q", i+1, s.Container, s.Host, s.Result, want)
				}
			}
			after := flSnapshot(t, ctx, f)
			for _, n := range f.Nodes {
				i := slices.IndexFunc(res, func(s struct{ Host, Container, Result, Error string }) bool { return s.Container == n.Name })
				key := f.engineName(n.Engine) + " " + n.Name
				if i < 0 || res[i].Host != f.hostName(n.Engine) {
					t.Errorf("no result for %s on %s", n.Name, f.hostName(n.Engine))
					continue
				}
				if res[i].Result == "skipped" {
					if after[key] != before[key] {
						t.Errorf("skipped %s changed: %s -> %s", key, before[key], after[key])
					}
					continue
				}
				// Rolled back: the very same container, started again.
				in := inspect(t, ctx, n.Engine, n.Name)
				if in.ID != n.ID || !in.State.Running || !strings.Contains(in.Config.Image, ":"+tag) {
					t.Errorf("%s after the rollback: %s running=%t image %s; want the old container %s back", key, in.ID, in.State.Running, in.Config.Image, n.ID)
				}
				if !strings.Contains(res[i].Error, "not healthy after 5s") {
					t.Errorf("%s: error %q does not say why", key, res[i].Error)
				}
			}
			for k, v := range before {
				if !strings.Contains(k, "-node") && after[k] != v {
					t.Errorf("%s changed: %s -> %s", k, v, after[k])
				}
			}
			f.requireNoLeftovers(t, ctx)
			// The nodes that were rolled back answer again.
			for _, n := range f.Nodes {
				if err := testbed.WaitTCP(ctx, net.JoinHostPort(n.IP, "19385"), 30*time.Second); err != nil {
					t.Errorf("%s: %v", n.Name, err)
				}
			}
		})
	}
}

// flRemoveOnCleanup removes containers and volumes that tarsup made on e
// (they carry none of the bed's labels) when the test ends.
func flRemoveOnCleanup(t *testing.T, e *testbed.Engine, containers, volumes []string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, c := range containers {
			if err := e.Client.ContainerRemove(ctx, c, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				t.Errorf("clean up %s on %s: %v", c, e.Host, err)
			}
		}
		for _, v := range volumes {
			if err := e.Client.VolumeRemove(ctx, v, true); err != nil && !errdefs.IsNotFound(err) {
				t.Errorf("clean up volume %s on %s: %v", v, e.Host, err)
			}
		}
	})
}

// flRequireFresh fails unless e runs no container at all.
func flRequireFresh(t *testing.T, ctx context.Context, e *testbed.Engine) {
	t.Helper()
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) > 0 {
		var names []string
		for _, c := range list {
			names = append(names, c.Names...)
		}
		t.Fatalf("engine %s is not fresh: %v", e.Host, names)
	}
}

func flEnv(in container.InspectResponse) map[string]string {
	m := map[string]string{}
	for _, kv := range in.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestFleetAdd: `node add` and `framework add` on engines that run no Tars
// container yet, gated on health by the sidecar probe (the engines are
// remote), refused when the engine already runs one; then one upgrade takes
// the master, the added framework host and the added node in that order.
func TestFleetAdd(t *testing.T) {
	ctx := t.Context()
	east, west := flEngines(t, ctx)
	flRequireFresh(t, ctx, east)
	flRequireFresh(t, ctx, west)
	f := flDeploy(t, ctx, uniq("add-"), 102, [3]int{}, "")
	p := f.Prefix
	badNode, node, node2, slave, slave2 := p+"badnode", p+"node", p+"node2", p+"fw2", p+"fw3"
	flRemoveOnCleanup(t, west, []string{badNode, node, node2}, []string{badNode + "-data", node + "-data", node2 + "-data"})
	flRemoveOnCleanup(t, east, []string{slave, slave2}, []string{slave + "-data", slave2 + "-data"})
	westArgs := append([]string{"--host", west.Host}, tlsArgs(west)...)
	eastArgs := append([]string{"--host", east.Host}, tlsArgs(east)...)

	// A node that never answers fails its gate and is removed again.
	bad, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: "addbad-" + bed.RunID, Role: testbed.RoleNode,
		Version: "v3.0.15", Env: []string{"FAKE_NEVER_HEALTHY=true"}})
	if err != nil {
		t.Fatal(err)
	}
	r := f.tarsup(t, ctx, append([]string{"node", "add", "--web-host", f.WebHost, "--name", badNode, "--image", bad,
		"--health-timeout", "5s", "--monitor", "1s"}, westArgs...)...)
	requireExit(t, r, 1, badNode, "not healthy after 5s", "removed again")
	if got := names(t, ctx, west, p); len(got) > 0 {
		t.Fatalf("after a failed add, west holds %v", got)
	}

	// The node.
	tag := "add-" + bed.RunID
	nodeRef := floatingNode(t, ctx, tag, "v3.0.15")
	fwIP := f.Framework.IPs[f.Network]
	r = f.tarsup(t, ctx, append(append([]string{"node", "add", "--web-host", f.WebHost, "--registry", fwIP, "--name", node, "--image", nodeRef}, westArgs...), gateFlags...)...)
	requireExit(t, r, 0, node, "added")
	in := inspect(t, ctx, west, node)
	env := flEnv(in)
	if env["WEB_HOST"] != f.WebHost || env["TARS_REGISTRY_ADDRESS"] != fwIP+":17890" {
		t.Errorf("node env %v", in.Config.Env)
	}
	if !in.State.Running || in.HostConfig.RestartPolicy.Name != container.RestartPolicyAlways {
		t.Errorf("node running=%t restart %+v", in.State.Running, in.HostConfig.RestartPolicy)
	}
	if len(in.Mounts) != 1 || in.Mounts[0].Name != node+"-data" || in.Mounts[0].Destination != "/data/tars" {
		t.Errorf("node mounts %+v, want the volume %s-data on /data/tars", in.Mounts, node)
	}
	nodeIP := in.NetworkSettings.Networks["bridge"].IPAddress
	if got := f.on[f.Local].ReadFile(f.Framework.Name, "/data/tars/db/nodes"); !strings.Contains(got, nodeIP+"\n") {
		t.Errorf("the added node %s did not register with the framework:\n%s", nodeIP, got)
	}

	// One node per engine.
	beforeWest := snapshot(t, ctx, west, p)
	r = f.tarsup(t, ctx, append(append([]string{"node", "add", "--web-host", f.WebHost, "--name", node2, "--image", nodeRef}, westArgs...), gateFlags...)...)
	requireExit(t, r, 3, "already runs", node)
	requireUnchanged(t, beforeWest, snapshot(t, ctx, west, p))

	// A framework host against the master's database.
	pw := filepath.Join(t.TempDir(), "mysql-password")
	if err := os.WriteFile(pw, []byte("tars2015\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbIP := f.DB.IPs[f.Network]
	r = f.tarsup(t, ctx, append(append([]string{"framework", "add", "--mysql-host", dbIP, "--mysql-password-file", pw,
		"--name", slave, "--image", bed.Images.Framework3015}, eastArgs...), gateFlags...)...)
	requireExit(t, r, 0, slave, "added")
	in = inspect(t, ctx, east, slave)
	env = flEnv(in)
	if env["SLAVE"] != "true" || env["REBUILD"] != "false" || env["MYSQL_HOST"] != dbIP || env["MYSQL_ROOT_PASSWORD"] != "tars2015" {
		t.Errorf("framework host env %v", in.Config.Env)
	}
	if !in.State.Running || in.HostConfig.RestartPolicy.Name != container.RestartPolicyAlways {
		t.Errorf("framework host running=%t restart %+v", in.State.Running, in.HostConfig.RestartPolicy)
	}
	if logs := f.on[east].Logs(slave); !strings.Contains(logs, "MySQL at "+net.JoinHostPort(dbIP, "3306")+" answers") {
		t.Errorf("the framework host did not reach the database:\n%s", logs)
	}
	if starts := f.on[east].ReadFile(slave, "/data/tars/db/starts"); !strings.Contains(starts, "slave=true rebuild=false") {
		t.Errorf("starts of the framework host:\n%s", starts)
	}

	beforeEast := snapshot(t, ctx, east, p)
	r = f.tarsup(t, ctx, append(append([]string{"framework", "add", "--mysql-host", dbIP, "--mysql-password-file", pw,
		"--name", slave2, "--image", bed.Images.Framework3015}, eastArgs...), gateFlags...)...)
	requireExit(t, r, 3, "already runs", slave)
	requireUnchanged(t, beforeEast, snapshot(t, ctx, east, p))

	// One upgrade: the master, then the framework host, then the node.
	floatingNode(t, ctx, tag, "v3.0.16")
	// --allow-ip-change: node add and framework add put them on the
	// default bridge, which takes no fixed address.
	r = f.tarsup(t, ctx, append(append(append([]string{"upgrade", "--to", "v3.0.16", "--allow-ip-change"}, f.Args...), only(f.Framework.Name, slave, node)...), gateFlags...)...)
	requireExit(t, r, 0, slave+": recreate v3.0.15 -> v3.0.16")
	master, host, tnode := inspect(t, ctx, f.Local, f.Framework.Name), inspect(t, ctx, east, slave), inspect(t, ctx, west, node)
	if flTime(t, "master StartedAt", master.State.StartedAt).After(flTime(t, "framework host Created", host.Created)) {
		t.Errorf("the framework host was recreated at %s, before the master started at %s", host.Created, master.State.StartedAt)
	}
	if flTime(t, "framework host StartedAt", host.State.StartedAt).After(flTime(t, "node Created", tnode.Created)) {
		t.Errorf("the node was recreated at %s, before the framework host started at %s", tnode.Created, host.State.StartedAt)
	}
	if env := flEnv(host); env["SLAVE"] != "true" || env["REBUILD"] != "false" || !strings.HasSuffix(host.Config.Image, ":v3.0.16") {
		t.Errorf("framework host after the upgrade: %s %v", host.Config.Image, host.Config.Env)
	}
	for _, c := range []container.InspectResponse{master, host, tnode} {
		if !c.State.Running {
			t.Errorf("%s is not running after the upgrade", c.Name)
		}
	}
}
