//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-units"
	"github.com/tarsup/tarsup/tests/testbed"
)

// gateFlags keep the tests quick (the fake framework starts in
// milliseconds) and wait for the engine lock of any other tarsup (another
// test run on this machine) instead of giving up.
var gateFlags = []string{"--health-timeout", "20s", "--monitor", "2s", "--stop-timeout", "5s", "--lock-wait", "10m"}

func tarsup(t *testing.T, ctx context.Context, args ...string) testbed.Result {
	t.Helper()
	return testbed.Run(ctx, bed.Tarsup(t), args...)
}

func inspect(t testing.TB, ctx context.Context, e *testbed.Engine, name string) container.InspectResponse {
	t.Helper()
	in, err := e.Client.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return in
}

// names lists the containers on e whose name starts with prefix.
func names(t testing.TB, ctx context.Context, e *testbed.Engine, prefix string) []string {
	t.Helper()
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		for _, n := range c.Names {
			if n = strings.TrimPrefix(n, "/"); strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// snapshot is what "nothing changed" means: each container's ID, image,
// state and start time.
func snapshot(t *testing.T, ctx context.Context, e *testbed.Engine, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names(t, ctx, e, prefix) {
		in := inspect(t, ctx, e, n)
		out[n] = in.ID + " " + in.Image + " " + in.State.Status + " " + in.State.StartedAt
	}
	return out
}

func requireUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("containers changed:\nbefore %v\nafter  %v", before, after)
	}
}

func requireExit(t *testing.T, r testbed.Result, code int, contains ...string) {
	t.Helper()
	if r.ExitCode != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	for _, c := range contains {
		if !strings.Contains(r.Stdout+r.Stderr, c) {
			t.Fatalf("output lacks %q:\n%s", c, r)
		}
	}
}

// TestUpgradeFaithfulRecreate recreates a framework container that uses
// every setting an operator might, and compares `docker inspect` before and
// after field by field: only the image, the ID, created/started times and
// what the new image defines may differ.
func TestUpgradeFaithfulRecreate(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("faithful-")
	sub1, sub2 := bed.Local.Subnet(10), bed.Local.Subnet(11)
	net1, net2 := d.Network(p+"net1", sub1), d.Network(p+"net2", sub2)
	vol := d.Volume(p + "named")
	bind := t.TempDir()
	if err := os.WriteFile(filepath.Join(bind, "keep"), []byte("bind data"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := p + "framework"
	ip1, ip2 := testbed.HostIP(sub1, 3), testbed.HostIP(sub2, 7)
	c := d.Run(testbed.ContainerSpec{
		Name:     name,
		Image:    bed.Images.Framework3015,
		Env:      []string{"MYSQL_HOST=10.9.9.9", "REBUILD=false", "OPERATOR_SETTING=kept"},
		Labels:   map[string]string{"ops.team": "tars"},
		Hostname: "tars-master",
		Volumes:  []string{vol + ":/data/tars", bind + ":/srv/bind:ro", "/var/anon"},
		Networks: []testbed.Attachment{
			{Network: net1, IPv4: ip1, Aliases: []string{"framework", "registry"}},
			{Network: net2, IPv4: ip2, Aliases: []string{"fw2"}},
		},
		Ports:   []string{"127.0.0.1::3000", "127.0.0.1::17890"},
		Restart: "on-failure:3",
		Customize: func(cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			cfg.Domainname = "tars.local"
			cfg.WorkingDir = "/data"
			cfg.StopSignal = "SIGINT"
			cfg.StopTimeout = ptr(7)
			hc.Memory = 256 << 20
			hc.NanoCPUs = 500_000_000
			hc.PidsLimit = ptr(int64(300))
			hc.Ulimits = []*units.Ulimit{{Name: "nofile", Soft: 10240, Hard: 10240}}
			hc.CapAdd = strslice.StrSlice{"NET_ADMIN"}
			hc.CapDrop = strslice.StrSlice{"MKNOD"}
			hc.ExtraHosts = []string{"mysql.internal:10.9.9.9"}
			hc.DNS = []string{"10.9.9.53"}
			hc.DNSSearch = []string{"tars.local"}
			hc.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
			hc.Tmpfs = map[string]string{"/run/tars": "size=1m"}
			hc.LogConfig = container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}}
			hc.Init = ptr(false)
			hc.SecurityOpt = []string{"no-new-privileges"}
		},
	})
	_ = c
	d.WaitTCP(net.JoinHostPort(ip1, "17890"))
	before := inspect(t, ctx, bed.Local, name)

	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16"}, gateFlags...)...)
	requireExit(t, r, 0, name+": recreate v3.0.15 -> v3.0.16")

	after := inspect(t, ctx, bed.Local, name)
	if after.ID == before.ID {
		t.Fatal("the container was not recreated")
	}
	if got := names(t, ctx, bed.Local, p); !slices.Equal(got, []string{name}) {
		t.Fatalf("containers after the upgrade: %v, want only %s", got, name)
	}
	if !strings.HasSuffix(after.Config.Image, "/tarscloud/framework:v3.0.16") {
		t.Errorf("image %s", after.Config.Image)
	}

	// Config: what the operator set is kept; image defaults may differ.
	bc, ac := *before.Config, *after.Config
	bc.Image, ac.Image = "", ""
	bc.Env, ac.Env = dropEnv(bc.Env, "FAKE_VERSION"), dropEnv(ac.Env, "FAKE_VERSION")
	for k := range ac.Labels {
		if strings.HasPrefix(k, "tarsup.txn") || k == "tarsup.previous" {
			delete(ac.Labels, k)
		}
	}
	delete(bc.Labels, "org.opencontainers.image.version")
	delete(ac.Labels, "org.opencontainers.image.version")
	if !reflect.DeepEqual(bc, ac) {
		t.Errorf("Config differs:\nbefore %+v\nafter  %+v", bc, ac)
	}

	// HostConfig: identical, but the anonymous volume is now attached by its
	// name (the only way to give a new container the same volume).
	bh, ah := *before.HostConfig, *after.HostConfig
	var anon string
	for _, m := range before.Mounts {
		if m.Destination == "/var/anon" {
			anon = m.Name
		}
	}
	if anon == "" {
		t.Fatal("no anonymous volume before the upgrade")
	}
	wantBinds := append(slices.Clone(bh.Binds), anon+":/var/anon")
	if !slices.Equal(ah.Binds, wantBinds) {
		t.Errorf("Binds %v, want %v", ah.Binds, wantBinds)
	}
	bh.Binds, ah.Binds = nil, nil
	if !reflect.DeepEqual(bh, ah) {
		t.Errorf("HostConfig differs:\nbefore %+v\nafter  %+v", bh, ah)
	}

	// Mounts: the same volumes and binds, by name and source.
	if got, want := mounts(after), mounts(before); !slices.Equal(got, want) {
		t.Errorf("Mounts %v, want %v", got, want)
	}
	// Networks: same static addresses and aliases; published ports the same.
	for n, ep := range before.NetworkSettings.Networks {
		aep := after.NetworkSettings.Networks[n]
		if aep == nil {
			t.Errorf("network %s lost", n)
			continue
		}
		if aep.IPAddress != ep.IPAddress || !reflect.DeepEqual(aep.IPAMConfig, ep.IPAMConfig) {
			t.Errorf("network %s: address %s %+v, want %s %+v", n, aep.IPAddress, aep.IPAMConfig, ep.IPAddress, ep.IPAMConfig)
		}
		if got, want := withoutID(aep.Aliases, after.ID), withoutID(ep.Aliases, before.ID); !slices.Equal(got, want) {
			t.Errorf("network %s: aliases %v, want %v", n, got, want)
		}
	}
	if !reflect.DeepEqual(before.HostConfig.PortBindings, after.HostConfig.PortBindings) {
		t.Errorf("port bindings %v, want %v", after.HostConfig.PortBindings, before.HostConfig.PortBindings)
	}
	// Data survived: the framework kept its database and recorded both starts.
	starts := d.ReadFile(name, "/data/tars/db/starts")
	if !strings.Contains(starts, "v3.0.15") || !strings.Contains(starts, "v3.0.16") {
		t.Errorf("starts on the named volume:\n%s", starts)
	}
	if got := d.ReadFile(name, "/srv/bind/keep"); got != "bind data" {
		t.Errorf("bind mount content %q", got)
	}
	if got := strings.TrimSpace(d.ReadFile(name, "/data/tars/db/t_node_info")); got != ip1 {
		t.Errorf("recorded IP %q, want %s", got, ip1)
	}
}

func ptr[T any](v T) *T { return &v }

// floatingNode pushes tars-node:TAG at version and returns its reference: a
// tag of the test's own that it can move (tars-node tags float).
func floatingNode(t *testing.T, ctx context.Context, tag, version string) string {
	t.Helper()
	ref, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: tag, Role: testbed.RoleNode, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// only limits a command to the given containers: tests share the engine with
// whatever else runs there.
func only(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "--only", n)
	}
	return out
}

func dropEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func withoutID(aliases []string, id string) []string {
	var out []string
	for _, a := range aliases {
		if a != id[:12] {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func mounts(in container.InspectResponse) []string {
	var out []string
	for _, m := range in.Mounts {
		mode := m.Mode
		if m.Type == "volume" {
			// A volume attached by name reports mode "z"; an anonymous one
			// "": the same volume either way.
			mode = ""
		}
		out = append(out, string(m.Type)+" "+m.Name+" "+m.Source+" -> "+m.Destination+" rw="+boolStr(m.RW)+" "+mode+" "+string(m.Propagation))
	}
	sort.Strings(out)
	return out
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestUpgradeTarsDocsLayout upgrades the documented layout: static IPs and
// data are kept, the node still answers, the db container is untouched.
func TestUpgradeTarsDocsLayout(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("docs-")
	tag := "docs-" + bed.RunID
	nodeRef := floatingNode(t, ctx, tag, "v3.0.15")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(12), Nodes: 1, NodeImage: nodeRef})
	dbBefore := inspect(t, ctx, bed.Local, dep.DB.Name)
	mine := only(dep.Framework.Name, dep.Nodes[0].Name)

	// The node's tag has not moved: a framework at v3.0.16 would leave it older.
	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"}, mine...), gateFlags...)...)
	requireExit(t, r, 3, dep.Nodes[0].Name, "older than its framework")

	floatingNode(t, ctx, tag, "v3.0.16")
	r = tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"}, mine...), gateFlags...)...)
	requireExit(t, r, 0, dep.Framework.Name+": recreate v3.0.15 -> v3.0.16", dep.Nodes[0].Name+": recreate "+tag+" -> "+tag)
	// Master first, then the node.
	if i, j := strings.Index(r.Stdout, dep.Framework.Name+": recreate"), strings.Index(r.Stdout, dep.Nodes[0].Name+": recreate"); i < 0 || j < i {
		t.Errorf("the framework was not recreated before the node:\n%s", r.Stdout)
	}

	fw := inspect(t, ctx, bed.Local, dep.Framework.Name)
	if ip := fw.NetworkSettings.Networks[dep.Network].IPAddress; ip != dep.Framework.IP {
		t.Errorf("framework IP %s, want %s", ip, dep.Framework.IP)
	}
	if v := strings.TrimSpace(httpBody(t, ctx, dep.WebHost+"/version")); v != "v3.0.16" {
		t.Errorf("framework version %s", v)
	}
	if db := d.ReadFile(dep.Framework.Name, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
		t.Errorf("db_tars was recreated: %q", db)
	}
	dbAfter := inspect(t, ctx, bed.Local, dep.DB.Name)
	if dbAfter.ID != dbBefore.ID || dbAfter.State.StartedAt != dbBefore.State.StartedAt {
		t.Error("the db container was touched")
	}
	testbed.WaitTCP(ctx, net.JoinHostPort(dep.Nodes[0].IP, "19385"), 10*time.Second)
	if got := names(t, ctx, bed.Local, p); len(got) != 3 {
		t.Errorf("containers %v", got)
	}

	// Nothing moved now: a second run does nothing and says so.
	r = tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"}, mine...), gateFlags...)...)
	requireExit(t, r, 0, "nothing to do")
}

// TestUpgradeRefusals: REBUILD=true, the db container and a missing tag
// change nothing.
func TestUpgradeRefusals(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("refuse-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(13), FrameworkEnv: []string{"REBUILD=true"}})
	before := snapshot(t, ctx, bed.Local, p)

	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"}, only(dep.Framework.Name)...)...)
	requireExit(t, r, 3, dep.Framework.Name, "REBUILD=true", "db_tars", "db_user_system")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, "upgrade", "--host", bed.Local.Host, "--only", dep.DB.Name)
	requireExit(t, r, 3, dep.DB.Name, "database container")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--dry-run"}, only(dep.Framework.Name)...)...)
	requireExit(t, r, 3, "REBUILD=true")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}

func TestUpgradeMissingTagAndBadReference(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("missing-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(14)})
	before := snapshot(t, ctx, bed.Local, p)

	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v9.9.9"}, only(dep.Framework.Name)...)...)
	requireExit(t, r, 2, "v9.9.9", "nothing was changed")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--framework-image", "Bad/Ref:x"}, only(dep.Framework.Name)...)...)
	requireExit(t, r, 2, "Bad/Ref:x")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}

// TestUpgradeImageDefaultRebuild: an image whose ENV sets REBUILD=true never
// makes a recreated container drop the databases.
func TestUpgradeImageDefaultRebuild(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("imgrebuild-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(15)})

	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--framework-image", bed.Images.FrameworkRebuild}, only(dep.Framework.Name)...), gateFlags...)...)
	requireExit(t, r, 0)
	fw := inspect(t, ctx, bed.Local, dep.Framework.Name)
	env := strings.Join(fw.Config.Env, "\n")
	if strings.Contains(env, "REBUILD=true") && !strings.HasSuffix(strings.Split(env, "REBUILD=true")[1], "REBUILD=false") {
		t.Errorf("env still ends with REBUILD=true:\n%s", env)
	}
	if logs := d.Logs(dep.Framework.Name); strings.Contains(logs, "dropped") {
		t.Errorf("the framework dropped its databases:\n%s", logs)
	}
	if db := d.ReadFile(dep.Framework.Name, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
		t.Errorf("db_tars was recreated: %q", db)
	}
}

// TestUpgradeRollsBack: a new image that never becomes healthy, and one that
// crashes after starting, are both rolled back: the old container is back
// under its name, healthy, and exit code 1 tells why with the last log lines.
func TestUpgradeRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name, image string
		why         string
	}{
		{"never healthy", bed.Images.FrameworkNeverHealthy, "not healthy after"},
		// It answers first, then dies during the monitor period (seen as a
		// refused probe, an exit or a restart, whichever comes first).
		{"crashes after start", bed.Images.FrameworkCrash, "during the --monitor period"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			d := bed.On(ctx, t, bed.Local)
			p := uniq("rb-" + strings.ReplaceAll(tc.name, " ", "") + "-")
			dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(16 + len(tc.name)%7)})
			before := inspect(t, ctx, bed.Local, dep.Framework.Name)

			r := tarsup(t, ctx, "upgrade", "--host", bed.Local.Host, "--framework-image", tc.image, "--only", dep.Framework.Name,
				"--health-timeout", "6s", "--monitor", "4s", "--stop-timeout", "5s", "--lock-wait", "10m")
			requireExit(t, r, 1, dep.Framework.Name, tc.why, "last log lines")

			after := inspect(t, ctx, bed.Local, dep.Framework.Name)
			if after.ID != before.ID || !after.State.Running {
				t.Fatalf("the old container is not back: %s running=%v\ntarsup: %s", after.ID, after.State.Running, r)
			}
			if got := names(t, ctx, bed.Local, p); len(got) != 2 {
				t.Errorf("containers after the rollback: %v", got)
			}
			d.WaitHTTP(dep.WebHost + "/get_tarsnode")
		})
	}
}

// TestRollbackCommand: `tarsup rollback NAME` puts back the image and
// configuration a container had before its last upgrade.
func TestRollbackCommand(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("rollback-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(24)})
	before := inspect(t, ctx, bed.Local, dep.Framework.Name)

	requireExit(t, tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"}, only(dep.Framework.Name)...), gateFlags...)...), 0)
	r := tarsup(t, ctx, append(append([]string{"rollback", "--host", bed.Local.Host}, gateFlags...), dep.Framework.Name)...)
	requireExit(t, r, 0, "rolled back")

	after := inspect(t, ctx, bed.Local, dep.Framework.Name)
	if after.Image != before.Image {
		t.Errorf("image %s, want the old %s", after.Image, before.Image)
	}
	if !slices.Equal(dropEnv(after.Config.Env, "x"), before.Config.Env) {
		t.Errorf("env %v, want %v", after.Config.Env, before.Config.Env)
	}
	if v := strings.TrimSpace(httpBody(t, ctx, dep.WebHost+"/version")); v != "v3.0.15" {
		t.Errorf("version after rollback %s", v)
	}
	r = tarsup(t, ctx, "rollback", "--host", bed.Local.Host, dep.DB.Name)
	requireExit(t, r, 2, "never upgraded")
}

// TestDryRun prints the plan and changes nothing, as text and JSON.
func TestDryRun(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("dry-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(25), Nodes: 1, NodeImage: floatingNode(t, ctx, "dry-"+bed.RunID, "v3.0.16")})
	before := snapshot(t, ctx, bed.Local, p)
	mine := only(dep.Framework.Name, dep.Nodes[0].Name)

	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--dry-run"}, mine...)...)
	requireExit(t, r, 0, dep.Framework.Name+": recreate v3.0.15 -> v3.0.16 (sha256:", "): --to v3.0.16")
	// A step line starts with its container's name; the database may be
	// named elsewhere (the registration check says what it reads through).
	if strings.Contains(r.Stdout, dep.Nodes[0].Name+": recreate") || strings.Contains("\n"+r.Stdout, "\n"+dep.DB.Name+":") {
		t.Errorf("plan names containers that should not change:\n%s", r.Stdout)
	}
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--dry-run", "--format", "json"}, mine...)...)
	requireExit(t, r, 0)
	var rep struct {
		DryRun bool `json:"dry_run"`
		Plan   []struct {
			Container, From, To, Cause string
			ToDigest                   string `json:"to_digest"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.Stdout)
	}
	var planned []string
	for _, s := range rep.Plan {
		if strings.HasPrefix(s.Container, p) {
			planned = append(planned, s.Container)
			if s.ToDigest != bed.Images.Digest(bed.Images.Framework3016) {
				t.Errorf("to_digest %s, want %s", s.ToDigest, bed.Images.Digest(bed.Images.Framework3016))
			}
		}
	}
	if !rep.DryRun || !slices.Equal(planned, []string{dep.Framework.Name}) {
		t.Errorf("JSON plan %+v", rep)
	}
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}

// leftovers lists tarsup's temporary containers on e.
func leftovers(t *testing.T, ctx context.Context, e *testbed.Engine) []string {
	t.Helper()
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", "tarsup-"))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		out = append(out, c.Names...)
	}
	return out
}

// TestUpgradeCleanup: --cleanup removes the old image once no container
// uses it.
func TestUpgradeCleanup(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("cleanup-")
	// A tag and content of this test's own, so no other container shares the image.
	oldRef, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.FrameworkRepo, Tag: "cleanup-" + bed.RunID, Role: testbed.RoleFramework, Version: "v3.0.15-" + bed.RunID})
	if err != nil {
		t.Fatal(err)
	}
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(26), FrameworkImage: oldRef})
	oldID := inspect(t, ctx, bed.Local, dep.Framework.Name).Image

	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--cleanup"}, only(dep.Framework.Name)...), gateFlags...)...)
	requireExit(t, r, 0, "remove old image: done")
	if _, err := bed.Local.Client.ImageInspect(ctx, oldID); err == nil {
		t.Errorf("the old image %s is still there", oldID)
	}
	if _, err := bed.Local.Client.ImageInspect(ctx, bed.Images.Framework3016); err != nil {
		t.Errorf("the new image is gone: %v", err)
	}
}
