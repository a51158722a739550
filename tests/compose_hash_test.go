//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// composeBin is one Compose the test runs the project with.
type composeBin struct {
	// path is the docker-compose binary.
	path string
	// version is what it puts in com.docker.compose.version.
	version string
	// tarsupPath is the PATH tarsup runs with: the Compose tarsup may find.
	tarsupPath string
}

// run runs the Compose on the project, as composeProject.compose does with
// the machine's docker-compose, and returns its output, stderr included.
func (c composeBin) run(ctx context.Context, p *composeProject, args ...string) (string, error) {
	out, err := c.command(ctx, p, args...).CombinedOutput()
	return string(out), err
}

// output is run's standard output alone (Compose v2 warns on stderr).
func (c composeBin) output(ctx context.Context, p *composeProject, args ...string) (string, error) {
	out, err := c.command(ctx, p, args...).Output()
	return string(out), err
}

func (c composeBin) command(ctx context.Context, p *composeProject, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.path, append([]string{"-p", p.Name, "-f", p.File}, args...)...)
	cmd.Dir = p.Dir
	cmd.Env = append(append(os.Environ(), p.engine.Env()...), "REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE=")
	return cmd
}

// TestComposeUpAfterUpgrade brings the TarsDocs layout up with Compose v1
// and with Compose v2, upgrades it with `tarsup compose upgrade`, and then
// runs `up -d` with the same Compose: it must recreate nothing (every
// service keeps its container) and list every service running. Why: the
// recreated containers carry the config-hash (and, for v2, the image ID)
// that Compose computes for the rewritten file. The last case runs tarsup
// where only Compose v1 is installed while the project is Compose v2's:
// the hash then comes from tarsup's own copy of v2's rule, and must still
// satisfy the real Compose v2.
func TestComposeUpAfterUpgrade(t *testing.T) {
	ctx := t.Context()
	v2, err := testbed.ComposeV2(ctx, testbed.ComposeV2Version, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	// A directory where docker-compose is Compose v2, first in tarsup's PATH.
	v2Dir := t.TempDir()
	if err := os.Symlink(v2, filepath.Join(v2Dir, "docker-compose")); err != nil {
		t.Fatal(err)
	}
	v1Path, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("PATH")
	remote, err := bed.Engine(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		compose composeBin
		engine  *testbed.Engine
		subnet  int
		by      string // how tarsup says it computed the hash
	}{
		{"v1", composeBin{path: v1Path, version: "1.29.2", tarsupPath: path}, bed.Local, 113, "(docker-compose 1.29.2)"},
		{"v1 on an engine behind TLS", composeBin{path: v1Path, version: "1.29.2", tarsupPath: path}, remote, 116, "(docker-compose 1.29.2)"},
		{"v2", composeBin{path: v2, version: strings.TrimPrefix(testbed.ComposeV2Version, "v"), tarsupPath: v2Dir + ":" + path}, bed.Local, 114, "(docker-compose " + strings.TrimPrefix(testbed.ComposeV2Version, "v") + ")"},
		{"v2 without v2 on the PATH of tarsup", composeBin{path: v2, version: strings.TrimPrefix(testbed.ComposeV2Version, "v"), tarsupPath: path}, bed.Local, 115, "(compose-go (Compose v2's rule))\nwarning: project "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testComposeUpAfterUpgrade(t, tc.compose, tc.engine, tc.subnet, tc.by)
		})
	}
}

func testComposeUpAfterUpgrade(t *testing.T, cb composeBin, e *testbed.Engine, subnetN int, by string) {
	ctx := t.Context()
	subnet := e.Subnet(subnetN)
	ip := func(n int) string { return testbed.HostIP(subnet, n) }
	nodeTag := uniq("chash" + strconv.Itoa(subnetN))
	floatingNode(t, ctx, nodeTag, "v3.0.16")
	prefix := uniq("chash" + strconv.Itoa(subnetN) + "-")
	p := newComposeProject(t, e, t.TempDir(), "e2e-"+bed.RunID+"-chash"+strconv.Itoa(subnetN), "tarsdocs.yaml", map[string]string{
		"PREFIX": prefix, "SUBNET": subnet, "IP2": ip(2), "IP3": ip(3), "IP5": ip(5), "NODE_TAG": nodeTag,
	})
	if out, err := cb.run(ctx, p, "up", "-d", "--quiet-pull"); err != nil {
		t.Fatalf("%s up: %v\n%s", cb.path, err, out)
	}
	for _, a := range []string{net.JoinHostPort(ip(3), "17890"), net.JoinHostPort(ip(5), "19385")} {
		if err := testbed.WaitTCP(ctx, a, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	fwName, nodeName, dbName := prefix+"framework", prefix+"node", prefix+"mysql"
	all := []string{fwName, nodeName, dbName}
	if v := inspect(t, ctx, e, fwName).Config.Labels["com.docker.compose.version"]; v != cb.version {
		t.Fatalf("the framework was created by Compose %q, want %s", v, cb.version)
	}
	before := ids(t, ctx, e, all)
	// The node's floating tag moves on, so that both Tars roles are recreated.
	floatingNode(t, ctx, nodeTag, "v3.0.17")

	args := append([]string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", e.Host, "--to", "v3.0.16"}, gateFlags...)
	if e.TLS != nil {
		args = append(args, "--tlsverify", "--tlscacert", e.TLS.CA, "--tlscert", e.TLS.Cert, "--tlskey", e.TLS.Key)
	}
	env := []string{"PATH=" + cb.tarsupPath}
	dry := testbed.RunEnv(ctx, env, bed.Tarsup(t), append(args, "--dry-run")...)
	requireExit(t, dry, 0, fwName+": recreate v3.0.15 -> v3.0.16", "label com.docker.compose.config-hash -> (")
	// The JSON report says who will compute each hash.
	js := testbed.RunEnv(ctx, env, bed.Tarsup(t), append(args, "--dry-run", "--format", "json")...)
	requireExit(t, js, 0)
	var rep struct {
		ConfigHashes []struct {
			Container  string `json:"container"`
			ComputedBy string `json:"computed_by"`
			Exact      bool   `json:"exact"`
		} `json:"config_hashes"`
	}
	if err := json.Unmarshal([]byte(js.Stdout), &rep); err != nil {
		t.Fatalf("dry run JSON: %v\n%s", err, js.Stdout)
	}
	var listed []string
	for _, h := range rep.ConfigHashes {
		listed = append(listed, h.Container)
		if h.Exact != !strings.Contains(by, "warning") || !strings.Contains(by, h.ComputedBy) {
			t.Errorf("dry run JSON: %s computed by %q, exact %t; want %s", h.Container, h.ComputedBy, h.Exact, by)
		}
	}
	sort.Strings(listed)
	if want := []string{fwName, nodeName}; !slices.Equal(listed, want) {
		t.Errorf("dry run JSON lists config hashes of %v, want %v", listed, want)
	}
	r := testbed.RunEnv(ctx, env, bed.Tarsup(t), args...)
	requireExit(t, r, 0, fwName+": recreate", nodeName+": recreate",
		"compose config-hash of "+fwName+": ", "compose config-hash of "+nodeName+": ", by)
	t.Logf("tarsup compose upgrade --dry-run:\n%s\ntarsup compose upgrade:\n%s", dry.Stdout, r.Stdout)
	upgraded := ids(t, ctx, e, all)
	if upgraded[fwName] == before[fwName] || upgraded[nodeName] == before[nodeName] || upgraded[dbName] != before[dbName] {
		t.Fatalf("after the upgrade: containers %v, were %v", upgraded, before)
	}
	if strings.HasPrefix(cb.version, "2") {
		fw := inspect(t, ctx, e, fwName)
		if got := fw.Config.Labels["com.docker.compose.image"]; got != fw.Image {
			t.Errorf("com.docker.compose.image = %q, want the new image's ID %s", got, fw.Image)
		}
	}

	// The operator's next `up -d`, with the Compose that made the project.
	out, err := cb.run(ctx, p, "up", "-d")
	if err != nil {
		t.Fatalf("%s up after the upgrade: %v\n%s", cb.path, err, out)
	}
	t.Logf("%s up -d after the upgrade:\n%s", cb.path, out)
	if after := ids(t, ctx, e, all); !equalMaps(after, upgraded) {
		t.Errorf("up -d after the upgrade recreated containers: now %v, after the upgrade %v", after, upgraded)
	}
	running, err := cb.output(ctx, p, "ps", "--services", "--filter", "status=running")
	if err != nil {
		t.Fatalf("%s ps: %v\n%s", cb.path, err, running)
	}
	got := strings.Fields(running)
	sort.Strings(got)
	if want := []string{"framework", "mysql", "node"}; !slices.Equal(got, want) {
		t.Errorf("%s ps lists running services %v, want %v", cb.path, got, want)
	}
}

// ids returns the container ID of each named container.
func ids(t *testing.T, ctx context.Context, e *testbed.Engine, names []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		out[n] = inspect(t, ctx, e, n).ID
	}
	return out
}
