//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/tests/testbed"
)

// templateField is a field of a testdata/compose template.
var templateField = regexp.MustCompile(`@[A-Z0-9_]+@`)

// composeProject is a compose project brought up by the real docker-compose
// on one engine, from a file under testdata/compose.
type composeProject struct {
	t      *testing.T
	engine *testbed.Engine
	// Name is the project name (-p), also the name of its directory.
	Name string
	Dir  string
	File string
}

// newComposeProject writes testdata/compose/<template> with the @KEY@ fields
// of vars filled in as <dir>/<name>/compose.yaml, and registers its
// `docker-compose down -v` for the end of the test.
func newComposeProject(t *testing.T, e *testbed.Engine, dir, name, template string, vars map[string]string) *composeProject {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "compose", template))
	if err != nil {
		t.Fatal(err)
	}
	pairs := []string{"@RUN@", bed.RunID, "@REGISTRY@", bed.Registry.Addr}
	for k, v := range vars {
		pairs = append(pairs, "@"+k+"@", v)
	}
	text := strings.NewReplacer(pairs...).Replace(string(tmpl))
	if left := templateField.FindString(text); left != "" {
		t.Fatalf("testdata/compose/%s: field %s not filled in", template, left)
	}
	p := &composeProject{t: t, engine: e, Name: name, Dir: filepath.Join(dir, name)}
	p.File = filepath.Join(p.Dir, "compose.yaml")
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.File, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Why a fresh context: the test's own may be done.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := p.compose(ctx, "down", "-v", "--timeout", "2"); err != nil {
			t.Errorf("docker-compose down %s: %v\n%s", p.Name, err, out)
		}
	})
	return p
}

// compose runs docker-compose on the project against its engine.
func (p *composeProject) compose(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"-p", p.Name, "-f", p.File}, args...)...)
	cmd.Dir = p.Dir
	// Why the CA bundle variables are emptied: python-requests lets them
	// override the engine's CA that docker-py passes (DOCKER_CERT_PATH), and
	// the TLS handshake with an extra engine then fails.
	cmd.Env = append(append(os.Environ(), p.engine.Env()...), "REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// up brings the project up and waits for the given addresses to accept connections.
func (p *composeProject) up(ctx context.Context, addrs ...string) {
	p.t.Helper()
	if out, err := p.compose(ctx, "up", "-d", "--quiet-pull"); err != nil {
		p.t.Fatalf("docker-compose up %s: %v\n%s", p.Name, err, out)
	}
	for _, a := range addrs {
		if err := testbed.WaitTCP(ctx, a, 90*time.Second); err != nil {
			p.t.Fatalf("project %s: %v", p.Name, err)
		}
	}
}

// requireAllUp checks with docker-compose itself that every service of the
// project has a running container, listed under its name.
func (p *composeProject) requireAllUp(ctx context.Context, containers ...string) {
	p.t.Helper()
	out, err := p.compose(ctx, "ps", "--services", "--filter", "status=running")
	if err != nil {
		p.t.Fatalf("docker-compose ps %s: %v\n%s", p.Name, err, out)
	}
	running := strings.Fields(out)
	sort.Strings(running)
	want, err := p.compose(ctx, "config", "--services")
	if err != nil {
		p.t.Fatalf("docker-compose config %s: %v\n%s", p.Name, err, want)
	}
	services := strings.Fields(want)
	sort.Strings(services)
	if !slices.Equal(running, services) {
		p.t.Errorf("docker-compose ps lists running services %v, want %v", running, services)
	}
	table, err := p.compose(ctx, "ps")
	if err != nil {
		p.t.Fatalf("docker-compose ps %s: %v\n%s", p.Name, err, table)
	}
	for _, c := range containers {
		ok := false
		for _, l := range strings.Split(table, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == c && slices.Contains(f, "Up") {
				ok = true
			}
		}
		if !ok {
			p.t.Errorf("docker-compose ps does not list %s as up:\n%s", c, table)
		}
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// changed returns the lines of a that b does not have at the same index,
// and the other way round; both files must have the same number of lines.
func changed(t *testing.T, a, b string) (removed, added []string) {
	t.Helper()
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		t.Fatalf("the file went from %d to %d lines:\n%s", len(al), len(bl), b)
	}
	for i := range al {
		if al[i] != bl[i] {
			removed, added = append(removed, al[i]), append(added, bl[i])
		}
	}
	return removed, added
}

func startedAt(t *testing.T, in container.InspectResponse) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, in.State.StartedAt)
	if err != nil {
		t.Fatalf("%s: started at %q: %v", in.Name, in.State.StartedAt, err)
	}
	return ts
}

// composeLabels returns the labels docker compose put on a container.
func composeLabels(in container.InspectResponse) map[string]string {
	out := map[string]string{}
	for k, v := range in.Config.Labels {
		if strings.HasPrefix(k, "com.docker.compose.") {
			out[k] = v
		}
	}
	return out
}

// TestComposeUpgrade upgrades the TarsDocs layout brought up by docker-compose:
// the dry run changes nothing; the upgrade changes only the framework's image
// line (its comment kept), recreates the framework and then the node whose
// tag moved, keeps data, IPs and compose's labels, leaves the db alone, and
// docker-compose still lists every service as up.
func TestComposeUpgrade(t *testing.T) {
	ctx := t.Context()
	subnet := bed.Local.Subnet(71)
	ip := func(n int) string { return testbed.HostIP(subnet, n) }
	nodeTag := "compose-" + bed.RunID
	// Why v3.0.16 from the start: a node older than the framework's target
	// is refused (version skew).
	floatingNode(t, ctx, nodeTag, "v3.0.16")
	prefix := uniq("cup-")
	p := newComposeProject(t, bed.Local, t.TempDir(), "e2e-"+bed.RunID+"-cup", "tarsdocs.yaml", map[string]string{
		"PREFIX": prefix, "SUBNET": subnet, "IP2": ip(2), "IP3": ip(3), "IP5": ip(5), "NODE_TAG": nodeTag,
	})
	p.up(ctx, net.JoinHostPort(ip(3), "17890"), net.JoinHostPort(ip(5), "19385"))
	fwName, nodeName, dbName := prefix+"framework", prefix+"node", prefix+"mysql"
	before := map[string]container.InspectResponse{}
	for _, n := range []string{fwName, nodeName, dbName} {
		before[n] = inspect(t, ctx, bed.Local, n)
	}
	// The node's floating tag moves on: a new digest behind the same tag.
	floatingNode(t, ctx, nodeTag, "v3.0.17")
	orig := readText(t, p.File)
	fwRepo := bed.Images.FrameworkRepo
	args := append([]string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags...)

	t.Run("dry run", func(t *testing.T) {
		snap := snapshot(t, ctx, bed.Local, prefix)
		r := tarsup(t, ctx, append(args, "--dry-run")...)
		requireExit(t, r, 0,
			fwName+": recreate v3.0.15 -> v3.0.16", nodeName+": recreate "+nodeTag+" -> "+nodeTag,
			"--- "+p.File, "+++ "+p.File,
			"-    image: "+fwRepo+":v3.0.15 # pinned by ops\n", "+    image: "+fwRepo+":v3.0.16 # pinned by ops\n")
		// A step line starts with its container's name; the registration
		// check's note may name the database it reads through.
		if strings.Contains("\n"+r.Stdout, "\n"+dbName+":") {
			t.Errorf("the dry run mentions the db container:\n%s", r)
		}
		if got := readText(t, p.File); got != orig {
			t.Errorf("the dry run changed the file:\n%s", got)
		}
		requireUnchanged(t, snap, snapshot(t, ctx, bed.Local, prefix))
	})

	r := tarsup(t, ctx, args...)
	requireExit(t, r, 0, fwName+": recreate v3.0.15 -> v3.0.16", nodeName+": recreate "+nodeTag+" -> "+nodeTag, "compose file "+p.File+": written")

	// The file: only the framework's image line, its comment kept.
	removed, added := changed(t, orig, readText(t, p.File))
	if want := []string{"    image: " + fwRepo + ":v3.0.15 # pinned by ops"}; !slices.Equal(removed, want) {
		t.Errorf("lines changed %q, want %q", removed, want)
	}
	if want := []string{"    image: " + fwRepo + ":v3.0.16 # pinned by ops"}; !slices.Equal(added, want) {
		t.Errorf("lines now %q, want %q", added, want)
	}

	after := map[string]container.InspectResponse{}
	for _, n := range []string{fwName, nodeName, dbName} {
		after[n] = inspect(t, ctx, bed.Local, n)
	}
	fw, node, db := after[fwName], after[nodeName], after[dbName]
	if fw.ID == before[fwName].ID || fw.Config.Image != fwRepo+":v3.0.16" || !fw.State.Running {
		t.Errorf("framework: ID %s (was %s), image %s, running %t", fw.ID, before[fwName].ID, fw.Config.Image, fw.State.Running)
	}
	if node.ID == before[nodeName].ID || node.Image == before[nodeName].Image || node.Config.Image != before[nodeName].Config.Image || !node.State.Running {
		t.Errorf("node: ID %s (was %s), image %s %s (was %s), running %t", node.ID, before[nodeName].ID, node.Config.Image, node.Image, before[nodeName].Image, node.State.Running)
	}
	if db.ID != before[dbName].ID || db.State.StartedAt != before[dbName].State.StartedAt {
		t.Errorf("the db container was touched: ID %s started %s, was %s started %s", db.ID, db.State.StartedAt, before[dbName].ID, before[dbName].State.StartedAt)
	}
	// In Tars order, as the engine's own clock says: the node after the framework.
	if !startedAt(t, node).After(startedAt(t, fw)) {
		t.Errorf("node started at %s, not after the framework (%s)", node.State.StartedAt, fw.State.StartedAt)
	}
	// Static IPs and compose's labels are kept.
	netName := p.Name + "_internal"
	for n, want := range map[string]string{fwName: ip(3), nodeName: ip(5), dbName: ip(2)} {
		if ep := after[n].NetworkSettings.Networks[netName]; ep == nil || ep.IPAddress != want {
			t.Errorf("%s on %s: %+v, want IP %s", n, netName, ep, want)
		}
		got, was := composeLabels(after[n]), composeLabels(before[n])
		if n != dbName {
			// The config-hash is the rewritten file's (TestComposeUpAfterUpgrade).
			delete(got, "com.docker.compose.config-hash")
			delete(was, "com.docker.compose.config-hash")
		}
		if !equalMaps(got, was) {
			t.Errorf("%s: compose labels %v, were %v", n, got, was)
		}
	}
	// The data on the bind mounts is kept: the same databases, one more start.
	dbDir := filepath.Join(p.Dir, "framework", "data", "db")
	if got := readText(t, filepath.Join(dbDir, "db_tars")); !strings.Contains(got, "created by v3.0.15") {
		t.Errorf("db_tars = %q: the databases were recreated", got)
	}
	starts := readText(t, filepath.Join(dbDir, "starts"))
	if strings.Count(starts, "version=v3.0.15 ip="+ip(3)) != 1 || strings.Count(starts, "version=v3.0.16 ip="+ip(3)) != 1 {
		t.Errorf("starts:\n%s", starts)
	}
	if got := strings.TrimSpace(readText(t, filepath.Join(dbDir, "t_node_info"))); got != ip(3) {
		t.Errorf("t_node_info = %q, want %s", got, ip(3))
	}
	// The recreated node fetched tarsnode from the upgraded framework.
	if got := readText(t, filepath.Join(p.Dir, "node", "data", "tarsnode-data", "tarsnode.tgz")); !strings.Contains(got, "v3.0.16") {
		t.Errorf("the node downloaded %q", got)
	}
	p.requireAllUp(ctx, fwName, nodeName, dbName)

	// Once more: the file and the containers agree, nothing moved.
	r = tarsup(t, ctx, args...)
	requireExit(t, r, 0, "nothing to do", "compose files: no change")

	// docker-compose itself takes over again, from the file, which now
	// names the image that runs (TestComposeUpAfterUpgrade checks that it
	// recreates nothing).
	out, err := p.compose(ctx, "up", "-d")
	if err != nil {
		t.Fatalf("docker-compose up after the upgrade: %v\n%s", err, out)
	}
	t.Logf("docker-compose up after the upgrade:\n%s", out)
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(ip(3), "17890"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	fw = inspect(t, ctx, bed.Local, fwName)
	if fw.Config.Image != fwRepo+":v3.0.16" || fw.NetworkSettings.Networks[netName].IPAddress != ip(3) {
		t.Errorf("after docker-compose up the framework runs %s at %s", fw.Config.Image, fw.NetworkSettings.Networks[netName].IPAddress)
	}
	if got := readText(t, filepath.Join(dbDir, "db_tars")); !strings.Contains(got, "created by v3.0.15") {
		t.Errorf("after docker-compose up, db_tars = %q", got)
	}
	if db := inspect(t, ctx, bed.Local, dbName); db.ID != before[dbName].ID {
		t.Errorf("docker-compose up recreated the db container")
	}
	p.requireAllUp(ctx, fwName, nodeName, dbName)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestComposeRefusals checks that a file that breaks a rule, does not load,
// or disagrees with what runs stops the upgrade before anything changes:
// the files byte for byte, every container as it was.
func TestComposeRefusals(t *testing.T) {
	ctx := t.Context()
	subnet := bed.Local.Subnet(72)
	ip := func(n int) string { return testbed.HostIP(subnet, n) }
	nodeTag := "compose-ref-" + bed.RunID
	floatingNode(t, ctx, nodeTag, "v3.0.16")
	prefix := uniq("cref-")
	dir := t.TempDir()
	p := newComposeProject(t, bed.Local, dir, "e2e-"+bed.RunID+"-cref", "tarsdocs.yaml", map[string]string{
		"PREFIX": prefix, "SUBNET": subnet, "IP2": ip(2), "IP3": ip(3), "IP5": ip(5), "NODE_TAG": nodeTag,
	})
	p.up(ctx, net.JoinHostPort(ip(3), "17890"), net.JoinHostPort(ip(5), "19385"))
	orig := readText(t, p.File)
	snap := snapshot(t, ctx, bed.Local, prefix)
	upgrade := append([]string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags...)

	for _, tc := range []struct {
		name string
		// edit turns the original file into the one to try.
		edit     func(string) string
		code     int
		contains []string
	}{
		{
			name: "REBUILD true",
			edit: func(s string) string { return strings.Replace(s, `REBUILD: "false"`, `REBUILD: "true"`, 1) },
			code: 3, contains: []string{p.File, "service framework", "REBUILD=true", "db_tars", "nothing was changed"},
		},
		{
			name: "broken YAML",
			edit: func(s string) string { return strings.Replace(s, "    restart: always\n", "    restart: [always\n", 1) },
			code: 2, contains: []string{p.File, "not valid YAML"},
		},
		{
			name: "invalid compose file",
			edit: func(s string) string {
				return strings.Replace(s, "    restart: always\n", "    restart: always\n    no_such_key: 1\n", 1)
			},
			code: 2, contains: []string{p.File, "no_such_key"},
		},
		{
			name: "the file names another repository than the container runs",
			edit: func(s string) string {
				return strings.Replace(s, bed.Images.FrameworkRepo+":v3.0.15", "mirror.invalid/tarscloud/framework:v3.0.15", 1)
			},
			code: 2, contains: []string{"service framework in " + p.File, prefix + "framework", "docker compose up -d framework", "nothing was changed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.edit(orig)
			if text == orig {
				t.Fatal("the edit changed nothing")
			}
			writeText(t, p.File, text)
			defer writeText(t, p.File, orig)
			r := tarsup(t, ctx, upgrade...)
			requireExit(t, r, tc.code, tc.contains...)
			if got := readText(t, p.File); got != text {
				t.Errorf("the file changed:\n%s", got)
			}
			requireUnchanged(t, snap, snapshot(t, ctx, bed.Local, prefix))
		})
	}

	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(dir, "nope", "compose.yaml")
		r := tarsup(t, ctx, "compose", "upgrade", "-f", missing, "--host", bed.Local.Host, "--to", "v3.0.16")
		requireExit(t, r, 2, missing, "no such file")
	})

	t.Run("tarsweb alone", func(t *testing.T) {
		web := newComposeProject(t, bed.Local, dir, "e2e-"+bed.RunID+"-cweb", "web-alone.yaml", nil)
		text := readText(t, web.File)
		r := tarsup(t, ctx, "compose", "upgrade", "-f", web.File, "--host", bed.Local.Host, "--to", "v3.0.16")
		requireExit(t, r, 3, web.File, "service web", "tarsweb alone")
		if got := readText(t, web.File); got != text {
			t.Errorf("the file changed:\n%s", got)
		}
	})

	t.Run("a project in a list that does not load", func(t *testing.T) {
		broken := filepath.Join(dir, "broken")
		if err := os.MkdirAll(broken, 0o755); err != nil {
			t.Fatal(err)
		}
		writeText(t, filepath.Join(broken, "compose.yaml"), "services:\n  framework: [\n")
		list := filepath.Join(dir, "projects.txt")
		writeText(t, list, p.Dir+"\nbroken # this one is bad\n")
		r := tarsup(t, ctx, append([]string{"compose", "upgrade", "--project-list", list, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags...)...)
		requireExit(t, r, 2, filepath.Join(broken, "compose.yaml"))
		if got := readText(t, p.File); got != orig {
			t.Errorf("the good project's file changed:\n%s", got)
		}
		requireUnchanged(t, snap, snapshot(t, ctx, bed.Local, prefix))
	})
}

// TestComposeFleet upgrades two projects on two engines as one fleet: the
// framework master on the local engine first, then the nodes on both
// engines. The project on the extra engine names it with x-tarsup (host and
// TLS files). A pull that fails on the engines leaves every file and every
// container as it was.
func TestComposeFleet(t *testing.T) {
	ctx := t.Context()
	remote, err := bed.Engine(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	localNet, remoteNet := bed.Local.Subnet(73), remote.Subnet(73)
	nodeTag := "compose-fleet-" + bed.RunID
	floatingNode(t, ctx, nodeTag, "v3.0.16")
	dir := t.TempDir()
	master := newComposeProject(t, bed.Local, dir, "e2e-"+bed.RunID+"-cmaster", "fleet-master.yaml", map[string]string{
		"SUBNET": localNet, "IP2": testbed.HostIP(localNet, 2), "IP3": testbed.HostIP(localNet, 3), "IP5": testbed.HostIP(localNet, 5), "NODE_TAG": nodeTag,
	})
	fwIP := testbed.HostIP(localNet, 3)
	master.up(ctx, net.JoinHostPort(fwIP, "17890"), net.JoinHostPort(testbed.HostIP(localNet, 5), "19385"))
	far := newComposeProject(t, remote, dir, "e2e-"+bed.RunID+"-cfar", "fleet-remote.yaml", map[string]string{
		"HOST": remote.Host, "TLS_CA": remote.TLS.CA, "TLS_CERT": remote.TLS.Cert, "TLS_KEY": remote.TLS.Key,
		"SUBNET": remoteNet, "IP5": testbed.HostIP(remoteNet, 5), "FRAMEWORK_IP": fwIP, "NODE_TAG": nodeTag,
	})
	far.up(ctx, net.JoinHostPort(testbed.HostIP(remoteNet, 5), "19385"))

	fwName, localNode, dbName := master.Name+"_framework_1", master.Name+"_node_1", master.Name+"_mysql_1"
	farNode := far.Name + "_node_1"
	list := filepath.Join(dir, "projects.txt")
	writeText(t, list, "# one project per host\n"+master.Name+"\n"+far.Name+"/compose.yaml\n")
	origMaster, origFar := readText(t, master.File), readText(t, far.File)
	snapLocal, snapRemote := snapshot(t, ctx, bed.Local, master.Name+"_"), snapshot(t, ctx, remote, far.Name+"_")
	if len(snapLocal) != 3 || len(snapRemote) != 1 {
		t.Fatalf("containers: local %v, remote %v", snapLocal, snapRemote)
	}

	t.Run("status", func(t *testing.T) {
		r := tarsup(t, ctx, "compose", "status", "--project-list", list, "--host", bed.Local.Host, "--format", "json")
		requireExit(t, r, 0)
		rows := composeStatusRows(t, r.Stdout)
		want := []string{
			master.Name + " " + bed.Local.Host + " framework framework " + fwName + " v3.0.15 in-step running healthy",
			master.Name + " " + bed.Local.Host + " mysql db " + dbName + " 5.7.44 in-step running healthy",
			master.Name + " " + bed.Local.Host + " node node " + localNode + " v3.0.16 in-step running healthy",
			far.Name + " " + remote.Host + " node node " + farNode + " v3.0.16 in-step running healthy",
		}
		if !slices.Equal(rows, want) {
			t.Errorf("compose status:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	})

	// The node's tag moves on; the fleet upgrade recreates both nodes.
	floatingNode(t, ctx, nodeTag, "v3.0.17")
	upgrade := append([]string{"compose", "upgrade", "--project-list", list, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags...)

	t.Run("a failed pull changes nothing on any engine", func(t *testing.T) {
		missing := bed.Images.NodeRepo + ":missing-" + bed.RunID
		r := tarsup(t, ctx, append(upgrade, "--node-image", missing)...)
		requireExit(t, r, 2, missing, "nothing was changed", "compose file "+master.File+": restored", "compose file "+far.File+": restored")
		if got := readText(t, master.File); got != origMaster {
			t.Errorf("%s changed:\n%s", master.File, got)
		}
		if got := readText(t, far.File); got != origFar {
			t.Errorf("%s changed:\n%s", far.File, got)
		}
		requireUnchanged(t, snapLocal, snapshot(t, ctx, bed.Local, master.Name+"_"))
		requireUnchanged(t, snapRemote, snapshot(t, ctx, remote, far.Name+"_"))
	})

	r := tarsup(t, ctx, upgrade...)
	requireExit(t, r, 0, fwName+": recreate v3.0.15 -> v3.0.16", localNode+": recreate", farNode+": recreate")
	removed, added := changed(t, origMaster, readText(t, master.File))
	if !slices.Equal(removed, []string{`    image: "` + bed.Images.FrameworkRepo + `:v3.0.15"`}) || !slices.Equal(added, []string{`    image: "` + bed.Images.FrameworkRepo + `:v3.0.16"`}) {
		t.Errorf("%s: lines %q became %q", master.File, removed, added)
	}
	if got := readText(t, far.File); got != origFar {
		t.Errorf("%s changed (its node follows its tag):\n%s", far.File, got)
	}
	fw := inspect(t, ctx, bed.Local, fwName)
	for _, n := range []struct {
		e    *testbed.Engine
		name string
	}{{bed.Local, localNode}, {remote, farNode}} {
		in := inspect(t, ctx, n.e, n.name)
		if in.Image == "" || !in.State.Running || !startedAt(t, in).After(startedAt(t, fw)) {
			t.Errorf("%s: running %t, started %s, not after the framework (%s)", n.name, in.State.Running, in.State.StartedAt, fw.State.StartedAt)
		}
	}
	if db := inspect(t, ctx, bed.Local, dbName); db.State.StartedAt != strings.Fields(snapLocal[dbName])[3] {
		t.Errorf("the db container restarted at %s", db.State.StartedAt)
	}
	// Both nodes registered again with the upgraded framework.
	for _, nodeDir := range []string{filepath.Join(master.Dir, "node"), filepath.Join(far.Dir, "node")} {
		if got := readText(t, filepath.Join(nodeDir, "data", "tarsnode-data", "tarsnode.tgz")); !strings.Contains(got, "v3.0.16") {
			t.Errorf("%s: the node downloaded %q", nodeDir, got)
		}
	}
	if nodes := readText(t, filepath.Join(master.Dir, "framework", "data", "db", "nodes")); !strings.Contains(nodes, testbed.HostIP(remoteNet, 5)+"\n") {
		t.Errorf("the node on the other engine did not register:\n%s", nodes)
	}
	master.requireAllUp(ctx, fwName, localNode, dbName)
	far.requireAllUp(ctx, farNode)

	r = tarsup(t, ctx, "compose", "status", "--project-list", list, "--host", bed.Local.Host, "--format", "json")
	requireExit(t, r, 0)
	if rows := composeStatusRows(t, r.Stdout); len(rows) != 4 || !strings.Contains(rows[0], " framework framework "+fwName+" v3.0.16 in-step running healthy") {
		t.Errorf("compose status after the upgrade:\n%s", strings.Join(rows, "\n"))
	}
}

// composeStatusRows parses `compose status --format json` into lines
// "project host service role container version in-step|drift state health".
func composeStatusRows(t *testing.T, out string) []string {
	t.Helper()
	var rep struct {
		Services []struct {
			Project, Host, Service, Role, Container, Version, State, Health string
			InStep                                                          bool `json:"in_step"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("compose status JSON: %v\n%s", err, out)
	}
	var rows []string
	for _, s := range rep.Services {
		step := "drift"
		if s.InStep {
			step = "in-step"
		}
		rows = append(rows, strings.Join([]string{s.Project, s.Host, s.Service, s.Role, s.Container, s.Version, step, s.State, s.Health}, " "))
	}
	return rows
}

// TestComposeRollback checks that the files follow a rollback: a framework
// that fails its gate is rolled back and the file comes back byte for byte;
// a node that fails after the framework was upgraded is rolled back, and the
// file then keeps the framework's new line (it runs that image) and gets the
// node's old line back.
func TestComposeRollback(t *testing.T) {
	ctx := t.Context()
	subnet := bed.Local.Subnet(74)
	ip := func(n int) string { return testbed.HostIP(subnet, n) }
	nodeTag := "compose-rb-" + bed.RunID
	floatingNode(t, ctx, nodeTag, "v3.0.16")
	neverNode, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: "compose-never-" + bed.RunID, Role: testbed.RoleNode,
		Version: "v3.0.16", Env: []string{"FAKE_NEVER_HEALTHY=true"}})
	if err != nil {
		t.Fatal(err)
	}
	prefix := uniq("crb-")
	p := newComposeProject(t, bed.Local, t.TempDir(), "e2e-"+bed.RunID+"-crb", "tarsdocs.yaml", map[string]string{
		"PREFIX": prefix, "SUBNET": subnet, "IP2": ip(2), "IP3": ip(3), "IP5": ip(5), "NODE_TAG": nodeTag,
	})
	p.up(ctx, net.JoinHostPort(ip(3), "17890"), net.JoinHostPort(ip(5), "19385"))
	fwName, nodeName := prefix+"framework", prefix+"node"
	orig := readText(t, p.File)
	quick := []string{"--health-timeout", "6s", "--monitor", "2s", "--stop-timeout", "5s", "--lock-wait", "10m"}
	base := []string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", bed.Local.Host}

	t.Run("the framework fails: the file comes back byte for byte", func(t *testing.T) {
		before := inspect(t, ctx, bed.Local, fwName)
		r := tarsup(t, ctx, slices.Concat(base, []string{"--framework-image", bed.Images.FrameworkNeverHealthy}, quick)...)
		requireExit(t, r, 1, fwName, "rolled back", "compose file "+p.File+": written", "compose file "+p.File+": restored")
		if got := readText(t, p.File); got != orig {
			t.Errorf("the file was not restored:\n%s", got)
		}
		after := inspect(t, ctx, bed.Local, fwName)
		if after.ID != before.ID || after.Config.Image != before.Config.Image || !after.State.Running {
			t.Errorf("framework after the rollback: %s %s running %t; was %s %s", after.ID, after.Config.Image, after.State.Running, before.ID, before.Config.Image)
		}
		p.requireAllUp(ctx, fwName, nodeName)
	})

	t.Run("a node fails after the framework: the framework's line stays", func(t *testing.T) {
		nodeBefore := inspect(t, ctx, bed.Local, nodeName)
		r := tarsup(t, ctx, slices.Concat(base, []string{"--to", "v3.0.16", "--node-image", neverNode}, quick)...)
		requireExit(t, r, 1, fwName+": recreate v3.0.15 -> v3.0.16", nodeName, "rolled back",
			"compose file "+p.File+": partly kept: the image of framework (upgraded) stays")
		removed, added := changed(t, orig, readText(t, p.File))
		if !slices.Equal(removed, []string{"    image: " + bed.Images.FrameworkRepo + ":v3.0.15 # pinned by ops"}) ||
			!slices.Equal(added, []string{"    image: " + bed.Images.FrameworkRepo + ":v3.0.16 # pinned by ops"}) {
			t.Errorf("lines %q became %q; want only the framework's image line", removed, added)
		}
		if fw := inspect(t, ctx, bed.Local, fwName); fw.Config.Image != bed.Images.FrameworkRepo+":v3.0.16" || !fw.State.Running {
			t.Errorf("framework runs %s, running %t", fw.Config.Image, fw.State.Running)
		}
		if node := inspect(t, ctx, bed.Local, nodeName); node.ID != nodeBefore.ID || node.Config.Image != nodeBefore.Config.Image || !node.State.Running {
			t.Errorf("node after the rollback: %s %s running %t; was %s %s", node.ID, node.Config.Image, node.State.Running, nodeBefore.ID, nodeBefore.Config.Image)
		}
		p.requireAllUp(ctx, fwName, nodeName)
	})
}
