//go:build e2e

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// rfGate keeps the refresh tests quick: the fake Tars programs start in
// milliseconds. The monitor period is long enough for a second run to meet
// the first one's lock.
var rfGate = []string{"--health-timeout", "30s", "--monitor", "3s", "--stop-timeout", "5s"}

// rfEngineIndex is the extra engine the refresh and watch tests use. Why an
// extra engine: it belongs to this test process alone, while the machine's
// engine may hold other runs' containers, which an engine-wide rule (the
// framework version skew, an upgrade under way) would let interfere.
const rfEngineIndex = 5

// rfEngine returns the refresh tests' engine and the connection flags tarsup
// needs for it. Probes go direct: its containers are routable from here.
func rfEngine(t testing.TB, ctx context.Context) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, ctx, rfEngineIndex)
}

// rfOnly limits a run to the test's own containers: the engine may hold
// other tests' containers (a refresh checks every Tars container it sees).
func rfOnly(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "--only", n)
	}
	return out
}

func rfRun(t testing.TB, ctx context.Context, args ...string) testbed.Result {
	t.Helper()
	return testbed.Run(ctx, bed.Tarsup(t), args...)
}

// rfQuiet checks the cron contract of a refresh that found nothing: exactly
// want on stdout, and nothing on stderr but the warning about an upgrade
// under way on the engine (other tests' runs may share it).
func rfQuiet(t testing.TB, r testbed.Result, want string) {
	t.Helper()
	rfExit(t, r, 0)
	var noise []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if l != "" && !strings.Contains(l, "an upgrade is under way or was interrupted on this engine") {
			noise = append(noise, l)
		}
	}
	if r.Stdout != want || len(noise) > 0 {
		t.Fatalf("want exactly %q on stdout and no log: %s", want, r)
	}
}

func rfExit(t testing.TB, r testbed.Result, code int, contains ...string) {
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

// rfState is what "untouched" means for each named container: its ID, image,
// state and start time.
func rfState(t testing.TB, ctx context.Context, e *testbed.Engine, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		in, err := e.Client.ContainerInspect(ctx, n)
		if err != nil {
			t.Fatalf("docker inspect %s: %v", n, err)
		}
		out[n] = in.ID[:12] + " " + in.Image[:19] + " " + in.State.Status + " " + in.State.StartedAt
	}
	return out
}

// rfLeftovers lists containers whose name starts with prefix and carries
// one of tarsup's temporary suffixes.
func rfLeftovers(t testing.TB, ctx context.Context, e *testbed.Engine, prefix string) []string {
	t.Helper()
	var out []string
	for _, n := range names(t, ctx, e, prefix) {
		if strings.Contains(n, ".tarsup-") {
			out = append(out, n)
		}
	}
	return out
}

// rfHEADsOnly checks that the registry saw nothing but manifest HEADs (and
// the API version pings that precede them) and returns how many HEADs.
func rfHEADsOnly(t testing.TB, reqs []testbed.Request) int {
	t.Helper()
	heads := 0
	for _, r := range reqs {
		switch {
		case r.Method == http.MethodHead && strings.Contains(r.Path, "/manifests/"):
			heads++
		case r.Method == http.MethodGet && r.Path == "/v2/":
		default:
			t.Errorf("registry request %s %s (%d): a refresh that finds nothing moved sends manifest HEADs only; all requests:\n%s", r.Method, r.Path, r.Status, rfRequests(reqs))
		}
	}
	return heads
}

func rfRequests(reqs []testbed.Request) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s %s %d\n", r.Method, r.Path, r.Status)
	}
	return b.String()
}

// rfImageDigests returns the repo digests of the image a container runs.
func rfImageDigests(t testing.TB, ctx context.Context, e *testbed.Engine, name string) []string {
	t.Helper()
	in, err := e.Client.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	img, err := e.Client.ImageInspect(ctx, in.Image)
	if err != nil {
		t.Fatal(err)
	}
	return img.RepoDigests
}

// rfProc is a tarsup process the test watches while it runs.
type rfProc struct {
	cmd    *exec.Cmd
	stdout *rfBuffer
	stderr *rfBuffer
	done   chan struct{}
	err    error
}

// rfStart starts tarsup in the background; the process is killed when the
// test ends if it is still running.
func rfStart(t testing.TB, ctx context.Context, args ...string) *rfProc {
	t.Helper()
	p := &rfProc{stdout: &rfBuffer{}, stderr: &rfBuffer{}, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bed.Tarsup(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start tarsup %v: %v", args, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *rfProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit, at most timeout, and returns its exit code.
func (p *rfProc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("tarsup did not exit within %s\nstdout:\n%s\nstderr:\n%s", timeout, p.stdout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput waits until the process wrote want to stderr or stdout.
func (p *rfProc) waitOutput(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String()+p.stdout.String(), want) {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("tarsup did not write %q (running: %v)\nstdout:\n%s\nstderr:\n%s", want, p.running(), p.stdout, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rfBuffer is a bytes.Buffer safe for a writer and readers at once.
type rfBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *rfBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *rfBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// rfNodeRepo pushes a tars-node image of the test's own (a mirror-style path
// ending in tarscloud/tars-node), so that moving its tags affects no other
// test. It returns the references of the tags, all at version.
func rfNodeRepo(t testing.TB, ctx context.Context, mirror, version string, tags ...string) []string {
	t.Helper()
	var refs []string
	for _, tag := range tags {
		ref, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: mirror + "/" + testbed.NodeRepo, Tag: tag, Role: testbed.RoleNode, Version: version})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	return refs
}

// TestRefresh: nothing moved -> one line and HEADs only; a floating node tag
// moves -> --monitor-only reports and changes nothing; two refreshes at once
// -> the second exits at once naming the lock; the first recreates just the
// nodes on that tag; run again -> nothing pulled, HEADs only.
func TestRefresh(t *testing.T) {
	ctx := t.Context()
	e, conn := rfEngine(t, ctx)
	d := bed.On(ctx, t, e)
	refs := rfNodeRepo(t, ctx, "e2e-refresh", "v3.0.15", "latest", "stable")
	latest, stable := refs[0], refs[1]

	p := uniq("rf-")
	subnet := e.Subnet(61)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: subnet, Nodes: 2, NodeImage: latest})
	n3 := d.Run(testbed.ContainerSpec{
		Name: p + "node3", Image: stable, Env: []string{"WEB_HOST=" + dep.WebHost},
		Volumes:  []string{p + "node3-data:/data/tars"},
		Networks: []testbed.Attachment{{Network: dep.Network, IPv4: testbed.HostIP(subnet, 7)}},
		Restart:  "always",
	})
	d.WaitTCP(net.JoinHostPort(n3.IP, "19385"))
	fw, n1, n2 := dep.Framework.Name, dep.Nodes[0].Name, dep.Nodes[1].Name
	all := []string{fw, n1, n2, n3.Name, dep.DB.Name}
	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	args := append(append(append([]string{"refresh", "--lock", lock}, conn...), rfOnly(fw, n1, n2, n3.Name)...), rfGate...)

	// Nothing moved: exactly one line, no pull, HEADs only.
	bed.Registry.ResetRequests()
	r := rfRun(t, ctx, args...)
	rfQuiet(t, r, "refresh: 4 containers checked, 3 tags, nothing moved\n")
	if heads := rfHEADsOnly(t, bed.Registry.Requests()); heads != 3 {
		t.Errorf("%d manifest HEADs, want one per distinct tag (3):\n%s", heads, rfRequests(bed.Registry.Requests()))
	}

	// The floating tag moves on.
	_, moved, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: "e2e-refresh/" + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.16"})
	if err != nil {
		t.Fatal(err)
	}
	before := rfState(t, ctx, e, all...)

	// --monitor-only: reports the plan, changes nothing, pulls nothing.
	bed.Registry.ResetRequests()
	r = rfRun(t, ctx, append(args, "--monitor-only")...)
	rfExit(t, r, 0, "refresh: 4 containers checked, 3 tags, 2 moved", "would run:",
		n1+": recreate latest -> latest", n2+": recreate latest -> latest", "monitor only: nothing was changed")
	if strings.Contains(r.Stdout, n3.Name+": recreate") || strings.Contains(r.Stdout, fw+": recreate") {
		t.Errorf("the plan recreates more than the moved nodes:\n%s", r.Stdout)
	}
	rfHEADsOnly(t, bed.Registry.Requests())
	r = rfRun(t, ctx, append(args, "--monitor-only", "--format", "json")...)
	rfExit(t, r, 0)
	var rep struct {
		MonitorOnly bool `json:"monitor_only"`
		Changed     bool `json:"changed"`
		Success     bool `json:"success"`
		Checked     int  `json:"checked"`
		Moved       []struct {
			Name string `json:"name"`
			To   string `json:"to"`
		} `json:"moved"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || strings.Count(strings.TrimSpace(r.Stdout), "\n") != 0 {
		t.Fatalf("--format json should print one JSON line: %v\n%s", err, r)
	}
	if !rep.MonitorOnly || !rep.Changed || !rep.Success || rep.Checked != 4 || len(rep.Moved) != 2 || rep.Moved[0].To != moved {
		t.Errorf("JSON report %+v, want monitor_only, changed, 4 checked, 2 moved to %s", rep, moved)
	}
	if after := rfState(t, ctx, e, all...); !reflect.DeepEqual(before, after) {
		t.Fatalf("--monitor-only changed containers:\nbefore %v\nafter  %v", before, after)
	}

	// Two refreshes at once: the second exits at once, naming the lock and
	// the first one's PID, while the first goes on.
	first := rfStart(t, ctx, args...)
	pid := strconv.Itoa(first.cmd.Process.Pid)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, _ := os.ReadFile(lock); strings.TrimSpace(string(b)) == pid {
			break
		}
		if time.Now().After(deadline) || !first.running() {
			t.Fatalf("the first refresh never held the lock\nstdout:\n%s\nstderr:\n%s", first.stdout, first.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	second := rfRun(t, ctx, args...)
	stillRunning := first.running()
	rfExit(t, second, 2, "holds the lock "+lock+" (PID "+pid+")", "nothing was changed")
	if second.Stdout != "" {
		t.Errorf("the second run wrote to stdout: %s", second)
	}
	if !stillRunning {
		t.Errorf("the first refresh had ended before the second did: the second did not meet the lock")
	}
	if code := first.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("first refresh: exit %d\nstdout:\n%s\nstderr:\n%s", code, first.stdout, first.stderr)
	}
	out := first.stdout.String()
	for _, want := range []string{"refresh: 4 containers checked, 3 tags, 2 moved", n1 + ": recreate latest -> latest: upgraded", n2 + ": recreate latest -> latest: upgraded"} {
		if !strings.Contains(out, want) {
			t.Errorf("first refresh output lacks %q:\n%s", want, out)
		}
	}

	// Just the nodes on the moved tag were recreated, on the new digest,
	// with their static IPs; the framework, node3 and the db are untouched.
	after := rfState(t, ctx, e, all...)
	for _, n := range []string{fw, n3.Name, dep.DB.Name} {
		if before[n] != after[n] {
			t.Errorf("%s was touched: %s -> %s", n, before[n], after[n])
		}
	}
	for i, n := range []string{n1, n2} {
		if before[n] == after[n] {
			t.Errorf("%s was not recreated", n)
		}
		if ds := rfImageDigests(t, ctx, e, n); !strings.Contains(strings.Join(ds, " "), "@"+moved) {
			t.Errorf("%s runs %v, want the moved digest %s", n, ds, moved)
		}
		d.WaitTCP(net.JoinHostPort(dep.Nodes[i].IP, "19385"))
	}
	if left := rfLeftovers(t, ctx, e, p); len(left) > 0 {
		t.Errorf("containers left aside: %v", left)
	}

	// Run again: nothing moved, nothing pulled, HEADs only.
	bed.Registry.ResetRequests()
	r = rfRun(t, ctx, args...)
	rfQuiet(t, r, "refresh: 4 containers checked, 3 tags, nothing moved\n")
	if heads := rfHEADsOnly(t, bed.Registry.Requests()); heads != 3 {
		t.Errorf("%d manifest HEADs, want 3", heads)
	}
	if again := rfState(t, ctx, e, all...); !reflect.DeepEqual(after, again) {
		t.Errorf("a refresh with nothing moved changed containers:\nbefore %v\nafter  %v", after, again)
	}
}

// TestRefreshToLatest: --to-latest finds the newest framework release of the
// same major (pre-releases ignored), --any-major crosses it, and a real run
// moves the framework and the node whose tag moved with it, master first.
func TestRefreshToLatest(t *testing.T) {
	ctx := t.Context()
	e, conn := rfEngine(t, ctx)
	d := bed.On(ctx, t, e)
	fwRepo := "e2e-latest/" + testbed.FrameworkRepo
	var fw3015 string
	for _, v := range []string{"v3.0.15", "v3.0.16", "v3.0.17-rc1", "v4.0.0"} {
		ref, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: fwRepo, Tag: v, Role: testbed.RoleFramework, Version: v})
		if err != nil {
			t.Fatal(err)
		}
		if v == "v3.0.15" {
			fw3015 = ref
		}
	}
	node := rfNodeRepo(t, ctx, "e2e-latest", "v3.0.15", "latest")[0]
	p := uniq("rfl-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(62), Nodes: 1, FrameworkImage: fw3015, NodeImage: node})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name
	args := append(append(append([]string{"refresh", "--lock", filepath.Join(t.TempDir(), "tarsup.lock"), "--to-latest"}, conn...), rfOnly(fw, n1)...), rfGate...)
	before := rfState(t, ctx, e, fw, n1)

	// A newer framework but nodes still on v3.0.15: the upgrade's skew rule
	// (no node older than the framework) refuses, and nothing changes.
	r := rfRun(t, ctx, append(args, "--monitor-only")...)
	rfExit(t, r, 3, "refresh: 2 containers checked, 2 tags, framework v3.0.15 -> v3.0.16", "would run v3.0.15, older than")
	r = rfRun(t, ctx, args...)
	rfExit(t, r, 3, "framework v3.0.15 -> v3.0.16", "would run v3.0.15, older than")
	r = rfRun(t, ctx, append(args, "--monitor-only", "--any-major")...)
	rfExit(t, r, 3, "framework v3.0.15 -> v4.0.0")
	if after := rfState(t, ctx, e, fw, n1); !reflect.DeepEqual(before, after) {
		t.Fatalf("refused runs changed containers:\nbefore %v\nafter  %v", before, after)
	}

	// The release: the node's floating tag moves to v3.0.16 too.
	rfNodeRepo(t, ctx, "e2e-latest", "v3.0.16", "latest")
	r = rfRun(t, ctx, append(args, "--monitor-only")...)
	rfExit(t, r, 0, "1 moved, framework v3.0.15 -> v3.0.16", fw+": recreate v3.0.15 -> v3.0.16", n1+": recreate latest -> latest", "monitor only: nothing was changed")
	if after := rfState(t, ctx, e, fw, n1); !reflect.DeepEqual(before, after) {
		t.Fatalf("--monitor-only changed containers:\nbefore %v\nafter  %v", before, after)
	}
	r = rfRun(t, ctx, args...)
	rfExit(t, r, 0, "1 moved, framework v3.0.15 -> v3.0.16", fw+": recreate v3.0.15 -> v3.0.16: upgraded", n1+": recreate latest -> latest: upgraded")
	if i, j := strings.Index(r.Stdout, fw+": recreate v3.0.15 -> v3.0.16: upgraded"), strings.Index(r.Stdout, n1+": recreate latest -> latest: upgraded"); i > j {
		t.Errorf("the node was upgraded before the framework:\n%s", r.Stdout)
	}
	in, err := e.Client.ContainerInspect(ctx, fw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(in.Config.Image, fwRepo+":v3.0.16") {
		t.Errorf("framework runs %s, want %s:v3.0.16", in.Config.Image, fwRepo)
	}
	rfQuiet(t, rfRun(t, ctx, args...), "refresh: 2 containers checked, 2 tags, nothing moved\n")
}

// TestRefreshAndOtherUpgrades: a refresh that finds nothing moved leaves an
// interrupted upgrade alone (and says so); one that finds a moved tag gives
// up while another live tarsup holds the engine (exit 3, nothing changed),
// and otherwise recovers the interrupted upgrade first, as upgrade does.
func TestRefreshAndOtherUpgrades(t *testing.T) {
	ctx := t.Context()
	e, conn := rfEngine(t, ctx)
	d := bed.On(ctx, t, e)
	mirror := "e2e-pending"
	node := rfNodeRepo(t, ctx, mirror, "v3.0.15", "latest")[0]
	p := uniq("rfp-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(65), Nodes: 1, NodeImage: node})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name
	// What a tarsup killed between creating the node's successor and the
	// swap leaves: NAME.tarsup-new, journaled by a process that is gone.
	stale := n1 + ".tarsup-new"
	d.Run(testbed.ContainerSpec{Name: stale, Image: node, Env: []string{"WEB_HOST=" + dep.WebHost}, NoStart: true,
		Labels: map[string]string{
			plan.LabelTxn: "e2e", plan.LabelTxnName: n1, plan.LabelTxnOld: dep.Nodes[0].ID,
			plan.LabelTxnOldRunning: "true", plan.LabelTxnOwner: "gone-machine/1/1",
			plan.LabelTxnStarted: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		}})
	args := append(append(append([]string{"refresh", "--lock", filepath.Join(t.TempDir(), "tarsup.lock")}, conn...), rfOnly(fw, n1)...), rfGate...)
	all := []string{fw, n1, stale}
	before := rfState(t, ctx, e, all...)

	r := rfRun(t, ctx, args...)
	rfQuiet(t, r, "refresh: 2 containers checked, 2 tags, nothing moved\n")
	if !strings.Contains(r.Stderr, "an upgrade is under way or was interrupted on this engine") {
		t.Errorf("no warning about the interrupted upgrade: %s", r)
	}
	if after := rfState(t, ctx, e, all...); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refresh with nothing moved changed containers:\nbefore %v\nafter  %v", before, after)
	}

	// The tag moves while another live tarsup (this test) holds the engine.
	if _, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: mirror + "/" + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.16"}); err != nil {
		t.Fatal(err)
	}
	h, err := engine.Connect(ctx, engine.HostSpec{URL: e.Host, TLS: engine.TLSOptions{Verify: true, CACert: e.TLS.CA, Cert: e.TLS.Cert, Key: e.TLS.Key}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	unlock, err := orchestrator.NewExecutor([]*engine.Host{h}, orchestrator.ExecOptions{}).LockAll(ctx, []*engine.Host{h}, 0)
	if err != nil {
		t.Fatal(err)
	}
	r = rfRun(t, ctx, args...)
	unlock()
	rfExit(t, r, 3, "refresh: 2 containers checked, 2 tags, 1 moved", "locked by tarsup")
	if after := rfState(t, ctx, e, all...); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refresh that met another tarsup's lock changed containers:\nbefore %v\nafter  %v", before, after)
	}

	// Alone on the engine: the interrupted upgrade is undone, then the node
	// upgraded.
	r = rfRun(t, ctx, args...)
	rfExit(t, r, 0, "recovered "+n1, n1+": recreate latest -> latest: upgraded")
	if left := rfLeftovers(t, ctx, e, p); len(left) > 0 {
		t.Errorf("containers left aside: %v", left)
	}
	rfQuiet(t, rfRun(t, ctx, args...), "refresh: 2 containers checked, 2 tags, nothing moved\n")
}
