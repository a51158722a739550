//go:build e2e

// Package tests holds tarsup's end-to-end tests: a real Docker Engine, fake
// Tars images pulled from a registry the tests start, and extra engines that
// play other hosts (see tests/testbed). Run them with
//
//	go test -tags e2e ./tests/
//
// They need root, dockerd on the machine and a Docker Engine answering at
// $DOCKER_HOST or the local socket; without one they fail, never skip.
package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/tests/testbed"
)

// bed is what every test of the run shares; TestMain sets it before any test
// runs and never changes it afterwards.
var bed *testbed.Bed

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	setupCtx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	workDir, err := os.MkdirTemp("", "tarsup-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: e2e test bed: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)

	b, err := testbed.Setup(setupCtx, workDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: e2e test bed could not be set up (the e2e tests need a Docker Engine and root): %v\n", err)
		return 1
	}
	bed = b
	// Why: most tests lay a deployment out on the fake's stand-in database
	// (library/mysql:5.7), which has no dump tool, so no snapshot of it
	// can be taken; the snapshot's own tests (backup_test.go,
	// restore_test.go) run on the real MariaDB and turn it back on.
	if err := os.Setenv("TARSUP_NO_BACKUP", "true"); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer func() {
		// Why a fresh context: the tests may have used up the setup's time.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := bed.Close(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "e2e test bed cleanup: %v\n", err)
		}
	}()
	return m.Run()
}

// uniq makes a container or network name unique to this run, so that runs
// side by side on one engine do not collide.
func uniq(name string) string {
	return "e2e-" + bed.RunID + "-" + name
}

func httpBody(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}

// TestBedSmoke runs the TarsDocs layout on the local engine from images pulled
// from the test registry, and checks that the fake behaves as TARS.md says.
func TestBedSmoke(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	bed.Registry.ResetRequests()

	// An image of this test's own: earlier tests may have pulled the
	// standard ones already, and this test checks that a pull is real.
	fwRef, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.FrameworkRepo, Tag: "smoke-" + bed.RunID,
		Role: testbed.RoleFramework, Version: "v3.0.15", Labels: map[string]string{"smoke": bed.RunID}})
	if err != nil {
		t.Fatal(err)
	}
	bed.Registry.ResetRequests()
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("smoke-"), Subnet: bed.Local.Subnet(1), Nodes: 2, FrameworkImage: fwRef})

	pulled := false
	for _, r := range bed.Registry.Requests() {
		// HEAD alone when the engine already had the image under another
		// name: the manifest digest is asked for all the same.
		if strings.Contains(r.Path, "/tarscloud/framework/manifests/") {
			pulled = true
		}
	}
	if !pulled {
		t.Errorf("the engine did not pull the framework from the test registry; requests: %v", bed.Registry.Requests())
	}

	if got := strings.TrimSpace(httpBody(t, ctx, dep.WebHost+"/version")); got != "v3.0.15" {
		t.Errorf("framework /version = %q, want v3.0.15", got)
	}
	fw := dep.Framework.Name
	if got := strings.TrimSpace(d.ReadFile(fw, "/data/tars/db/t_node_info")); got != dep.Framework.IP {
		t.Errorf("t_node_info = %q, want the framework's IP %s", got, dep.Framework.IP)
	}
	nodes := d.ReadFile(fw, "/data/tars/db/nodes")
	for _, n := range dep.Nodes {
		if !strings.Contains(nodes, n.IP+"\n") {
			t.Errorf("node %s (%s) did not register; nodes file:\n%s", n.Name, n.IP, nodes)
		}
		if got := d.ReadFile(n.Name, "/data/tars/tarsnode-data/tarsnode.tgz"); !strings.Contains(got, "v3.0.15") {
			t.Errorf("node %s downloaded %q", n.Name, got)
		}
	}

	// Data on the volume survives a restart; REBUILD=false keeps it.
	timeout := 10
	if err := bed.Local.Client.ContainerRestart(ctx, fw, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	d.WaitTCP(net.JoinHostPort(dep.Framework.IP, "17890"))
	if starts := d.ReadFile(fw, "/data/tars/db/starts"); strings.Count(starts, "version=v3.0.15") != 2 {
		t.Errorf("after a restart, starts should hold two records:\n%s", starts)
	}
	if got := d.ReadFile(fw, "/data/tars/db/db_tars"); !strings.Contains(got, "created by v3.0.15") {
		t.Errorf("db_tars = %q", got)
	}

	t.Run("variants", func(t *testing.T) { testVariants(t, dep) })
}

// testVariants checks the misbehaving images, on the default bridge.
func testVariants(t *testing.T, dep *testbed.TarsDeployment) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	im := bed.Images

	hc := d.Run(testbed.ContainerSpec{Name: uniq("hc"), Image: im.FrameworkHC})
	d.WaitHealth(hc.Name, "healthy")

	crash := d.Run(testbed.ContainerSpec{Name: uniq("crash"), Image: im.FrameworkCrash})
	d.WaitTCP(net.JoinHostPort(crash.IP, "17890"))
	if code := d.Wait(crash.Name); code != 1 {
		t.Errorf("crash variant exited %d, want 1", code)
	}

	never := d.Run(testbed.ContainerSpec{Name: uniq("never"), Image: im.FrameworkNeverHealthy})
	waitLog(t, d, never.Name, "running without listening")
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(never.IP, "17890"), time.Second); err == nil {
		t.Errorf("never-healthy variant listens on 17890")
	}

	slow := d.Run(testbed.ContainerSpec{Name: uniq("slow"), Image: im.FrameworkSlow})
	waitLog(t, d, slow.Name, "FAKE_START_DELAY=3s")
	d.WaitTCP(net.JoinHostPort(slow.IP, "17890"))

	// The image's own REBUILD=true wipes the data on every start.
	vol := uniq("rebuild-data")
	rb := d.Run(testbed.ContainerSpec{Name: uniq("rebuild"), Image: im.FrameworkRebuild, Volumes: []string{vol + ":/data/tars"}})
	d.WaitTCP(net.JoinHostPort(rb.IP, "17890"))
	d.Stop(rb.Name)
	if err := bed.Local.Client.ContainerStart(ctx, rb.Name, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	d.WaitTCP(net.JoinHostPort(rb.IP, "17890"))
	if !strings.Contains(d.Logs(rb.Name), "REBUILD=true: dropped db_tars") {
		t.Errorf("rebuild variant did not log the drop:\n%s", d.Logs(rb.Name))
	}
	if starts := d.ReadFile(rb.Name, "/data/tars/db/starts"); strings.Count(starts, "version=") != 1 {
		t.Errorf("REBUILD=true should have wiped the earlier start record:\n%s", starts)
	}

	// A slave: no web, registry port only; one that insists on db_tars exits.
	slave := d.Run(testbed.ContainerSpec{Name: uniq("slave"), Image: im.Framework3015, Env: []string{"SLAVE=true"}})
	d.WaitTCP(net.JoinHostPort(slave.IP, "17890"))
	if err := testbed.WaitHTTP(ctx, "http://"+net.JoinHostPort(slave.IP, "3000")+"/get_tarsnode", time.Second); err == nil {
		t.Errorf("a slave serves the web on 3000")
	}
	strict := d.Run(testbed.ContainerSpec{Name: uniq("strict-slave"), Image: im.Framework3015, Env: []string{"SLAVE=true", "FAKE_SLAVE_REQUIRE_DB=true"}})
	if code := d.Wait(strict.Name); code != 1 {
		t.Errorf("a slave without db_tars and FAKE_SLAVE_REQUIRE_DB=true exited %d, want 1", code)
	}

	// INET names the interface whose IP is recorded; 127.0.0.1 is refused.
	lo := d.Run(testbed.ContainerSpec{Name: uniq("inet-lo"), Image: im.Framework3015, Env: []string{"INET=lo"}})
	if code := d.Wait(lo.Name); code != 1 {
		t.Errorf("a framework with INET=lo exited %d, want 1", code)
	}

	// A node needs WEB_HOST, and registers under DOMAIN when given.
	bare := d.Run(testbed.ContainerSpec{Name: uniq("bare-node"), Image: im.NodeStable})
	if code := d.Wait(bare.Name); code != 1 || !strings.Contains(d.Logs(bare.Name), "WEB_HOST") {
		t.Errorf("a node without WEB_HOST exited %d:\n%s", code, d.Logs(bare.Name))
	}
	named := d.Run(testbed.ContainerSpec{Name: uniq("named-node"), Image: im.NodeStable,
		Env: []string{"WEB_HOST=" + dep.WebHost, "DOMAIN=node.example"}, Networks: []testbed.Attachment{{Network: dep.Network}}})
	d.WaitTCP(net.JoinHostPort(named.IP, "19385"))
	if nodes := d.ReadFile(dep.Framework.Name, "/data/tars/db/nodes"); !strings.Contains(nodes, "node.example\n") {
		t.Errorf("node with DOMAIN did not register by name:\n%s", nodes)
	}

	// Bind mounts and anonymous volumes hold the framework's data.
	dir := t.TempDir()
	bound := d.Run(testbed.ContainerSpec{Name: uniq("bind"), Image: im.Framework3015, Volumes: []string{dir + ":/data/tars"}})
	d.WaitTCP(net.JoinHostPort(bound.IP, "17890"))
	if b, err := os.ReadFile(dir + "/db/db_tars"); err != nil || !strings.Contains(string(b), "v3.0.15") {
		t.Errorf("bind-mounted data: %q, %v", b, err)
	}
	anon := d.Run(testbed.ContainerSpec{Name: uniq("anon"), Image: im.Framework3015, Volumes: []string{"/data/tars"}})
	info, err := bed.Local.Client.ContainerInspect(ctx, anon.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Mounts) != 1 || info.Mounts[0].Type != "volume" || len(info.Mounts[0].Name) != 64 || info.Mounts[0].Destination != "/data/tars" {
		t.Errorf("anonymous volume: mounts %+v", info.Mounts)
	}

	// Host networking: no bridge IP; restart policies as given.
	host := d.Run(testbed.ContainerSpec{Name: uniq("hostnet"), Image: im.Nginx, NetworkMode: "host", Restart: "on-failure:3"})
	info, err = bed.Local.Client.ContainerInspect(ctx, host.ID)
	if err != nil {
		t.Fatal(err)
	}
	if host.IP != "" || !info.State.Running || info.HostConfig.RestartPolicy.Name != "on-failure" || info.HostConfig.RestartPolicy.MaximumRetryCount != 3 {
		t.Errorf("host-networked container: IP %q, running %t, restart %+v", host.IP, info.State.Running, info.HostConfig.RestartPolicy)
	}

	// The unrelated image and the db answer as their roles say.
	idle := d.Run(testbed.ContainerSpec{Name: uniq("idle"), Image: im.Nginx})
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(idle.IP, "80"), time.Second); err == nil {
		t.Errorf("the idle container listens")
	}
	d.WaitTCP(net.JoinHostPort(dep.DB.IP, "3306"))

	// A floating tag moves to a new digest when re-pushed with another version.
	old := im.Digest(im.NodeStable)
	ref, moved, err := im.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: "stable", Role: testbed.RoleNode, Version: "v3.0.16-" + bed.RunID})
	if err != nil {
		t.Fatal(err)
	}
	if ref != im.NodeStable || moved == old || im.Digest(im.NodeStable) != moved {
		t.Errorf("re-push of %s: ref %s digest %s (was %s)", im.NodeStable, ref, moved, old)
	}
	if _, _, err := im.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: "stable", Role: testbed.RoleNode, Version: "v3.0.15"}); err != nil {
		t.Fatal(err)
	}
	if im.Digest(im.NodeStable) != old {
		t.Errorf("pushing the original spec again should restore digest %s", old)
	}
}

func waitLog(t *testing.T, d *testbed.Deployer, name, want string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if strings.Contains(d.Logs(name), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never logged %q:\n%s", name, want, d.Logs(name))
}

// TestBedTLSEngine starts an extra engine and checks its TLS listener, pulls
// from the test registry, and the routes between it and the local engine.
func TestBedTLSEngine(t *testing.T) {
	ctx := t.Context()
	e, err := bed.Engine(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.Host, "tcp://127.0.0.") || e.TLS == nil {
		t.Fatalf("extra engine at %s with TLS %v", e.Host, e.TLS)
	}

	// The docker CLI, a fair witness, reaches it only with the certificates.
	cmd := exec.CommandContext(ctx, "docker", "info", "--format", "{{.DockerRootDir}} {{.Driver}}")
	cmd.Env = append(os.Environ(), e.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "vfs") {
		t.Fatalf("docker info on %s: %v: %s", e.Host, err, out)
	}
	plain := exec.CommandContext(ctx, "docker", "-H", e.Host, "info")
	plain.Env = append(os.Environ(), "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
	if out, err := plain.CombinedOutput(); err == nil {
		t.Errorf("the TLS listener answered a client without certificates:\n%s", out)
	}

	// A framework on the local engine (web published, as in the docs) and
	// nodes on the extra engine reaching it: at its container IP, and at the
	// host's address on the extra engine's bridge through the published port.
	local := bed.On(ctx, t, bed.Local)
	dep := local.TarsDocs(testbed.TarsLayout{Prefix: uniq("tls-"), Subnet: bed.Local.Subnet(2), PublishWeb: "3000"})
	info, err := bed.Local.Client.ContainerInspect(ctx, dep.Framework.ID)
	if err != nil {
		t.Fatal(err)
	}
	hostPort := info.NetworkSettings.Ports["3000/tcp"][0].HostPort

	remote := bed.On(ctx, t, e)
	n1 := remote.Run(testbed.ContainerSpec{Name: uniq("far-node1"), Image: bed.Images.NodeLatest,
		Env: []string{"WEB_HOST=" + dep.WebHost}, Restart: "always"})
	n2 := remote.Run(testbed.ContainerSpec{Name: uniq("far-node2"), Image: bed.Images.NodeLatest,
		Env: []string{"WEB_HOST=http://" + net.JoinHostPort(e.Gateway, hostPort)}})
	for _, n := range []*testbed.Container{n1, n2} {
		if !strings.HasPrefix(n.IP, "10.2") {
			t.Errorf("node %s on the extra engine has IP %q, want one in its 10.24x range", n.Name, n.IP)
		}
		remote.WaitTCP(net.JoinHostPort(n.IP, "19385"))
	}
	nodes := local.ReadFile(dep.Framework.Name, "/data/tars/db/nodes")
	if !strings.Contains(nodes, n1.IP+"\n") || !strings.Contains(nodes, n2.IP+"\n") {
		t.Errorf("remote nodes %s, %s not registered (no masquerading: the framework sees their own IPs):\n%s", n1.IP, n2.IP, nodes)
	}

	// The local engine's containers reach the extra engine's on any port.
	probe := local.Run(testbed.ContainerSpec{Name: uniq("probe"), Image: bed.Images.Nginx,
		Entrypoint: []string{"/tarsfake", "check", "tcp", net.JoinHostPort(n1.IP, "19385")}, Networks: []testbed.Attachment{{Network: dep.Network}}})
	if code := local.Wait(probe.Name); code != 0 {
		t.Errorf("a local container could not reach %s:19385 on the extra engine:\n%s", n1.IP, local.Logs(probe.Name))
	}

	// The TarsDocs layout on the extra engine itself: static IPs, aliases and
	// name resolution on a user-defined network, published ports on its IP.
	dep2 := remote.TarsDocs(testbed.TarsLayout{Prefix: uniq("remote-"), Subnet: e.Subnet(1), Nodes: 1, PublishWeb: "3000:3000"})
	if dep2.Framework.IP != testbed.HostIP(e.Subnet(1), 3) {
		t.Errorf("framework IP %s, want .3 of %s", dep2.Framework.IP, e.Subnet(1))
	}
	byAlias := remote.Run(testbed.ContainerSpec{Name: uniq("remote-alias-node"), Image: bed.Images.NodeLatest,
		Env: []string{"WEB_HOST=http://framework:3000"}, Networks: []testbed.Attachment{{Network: dep2.Network}}})
	remote.WaitTCP(net.JoinHostPort(byAlias.IP, "19385"))
	remote.WaitHTTP("http://" + net.JoinHostPort(e.IP, "3000") + "/get_tarsnode")

	// An engine restart brings back containers with restart=always.
	if err := e.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := e.Client.ContainerInspect(ctx, n1.ID)
	if err != nil {
		t.Fatal(err)
	}
	remote.WaitTCP(net.JoinHostPort(after.NetworkSettings.IPAddress, "19385"))
	if st, err := e.Client.ContainerInspect(ctx, n2.ID); err != nil || st.State.Running {
		t.Errorf("after an engine restart, %s (no restart policy) should be stopped: %v", n2.Name, err)
	}
}
