//go:build e2e

package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The attacks on issue 13's swap order (the old container renamed aside
// while it runs), the gate's one sidecar and its announcement, with the
// real tarsup binary, on an engine of their own. Why slot 9 and not the
// 17 the brief named: the testbed has slots 1..15 only (10.<240+slot> must
// be an address); the slot lock makes another free slot serve if 9 is
// taken, so no two processes ever share one. Subnets 240..249 of it.
const a13EngineSlot = 9

// a13ImpostorSlot is TestAttack13SidecarMisbehaves's engine: its probe
// image is replaced by impostors, and its fallbacks wait out their
// timeouts, so it runs beside the other attacks (bed.Parallel) on an
// engine of its own.
const a13ImpostorSlot = 3

// a13Engine is this file's engine and tarsup's flags for it (--probe direct).
func a13Engine(t *testing.T, ctx context.Context) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, ctx, a13EngineSlot)
}

// a13Framework lays out a database and a framework of image (a volume for
// its data, a static IP on its own network of subnet k, restart always)
// on e; wait says whether to wait until the framework answers.
func a13Framework(t *testing.T, ctx context.Context, e *testbed.Engine, d *testbed.Deployer, p string, k int, image string, wait bool) *testbed.Container {
	t.Helper()
	sub := e.Subnet(k)
	netName := d.Network(p+"net", sub)
	dbIP, fwIP := testbed.HostIP(sub, 2), testbed.HostIP(sub, 3)
	d.Run(testbed.ContainerSpec{Name: p + "mysql", Image: bed.Images.MySQL, Env: []string{"MYSQL_ROOT_PASSWORD=tars2015"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: dbIP}}, Restart: "always"})
	fw := d.Run(testbed.ContainerSpec{
		Name: p + "framework", Image: image,
		Env:      []string{"MYSQL_HOST=" + dbIP, "MYSQL_ROOT_PASSWORD=tars2015", "MYSQL_USER=root", "REBUILD=false", "INET=eth0"},
		Volumes:  []string{d.Volume(p+"data") + ":/data/tars"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: fwIP}},
		Restart:  "always",
	})
	fw.IP = fwIP // a container that crash-loops may have none at the moment
	if wait {
		d.WaitTCP(net.JoinHostPort(fwIP, "17890"))
		d.WaitHTTP("http://" + fwIP + ":3000/get_tarsnode")
	}
	return fw
}

// a13OneHealthy: the framework runs as exactly one container under its
// name (none under a temporary name), at its address, answering, on
// version; and no probe sidecar is left on e.
func a13OneHealthy(t *testing.T, ctx context.Context, e *testbed.Engine, fw *testbed.Container, version string) {
	t.Helper()
	got := names(t, ctx, e, fw.Name)
	if len(got) != 1 || got[0] != fw.Name {
		t.Fatalf("containers %v, want exactly %s", got, fw.Name)
	}
	in := inspect(t, ctx, e, fw.Name)
	if !in.State.Running || in.State.Restarting {
		t.Fatalf("%s is %s", fw.Name, in.State.Status)
	}
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(fw.IP, "17890"), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if version != "" {
		if v := strings.TrimSpace(httpBody(t, ctx, "http://"+fw.IP+":3000/version")); v != version {
			t.Errorf("version %q, want %q", v, version)
		}
	}
	if left := probeSidecars(t, ctx, e); len(left) != 0 {
		t.Errorf("probe sidecars left: %v", left)
	}
}

// TestAttack13CrashLoopingOld: the operator upgrades a framework that
// crash-loops (restart always, backing off) to an image that works. The
// new order renames the old container aside while it "runs"; the engine
// (20.10) refuses to rename a container that is restarting. The upgrade
// must still go through.
func TestAttack13CrashLoopingOld(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13crash-")
	crash, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.FrameworkRepo, Tag: "a13-crashloop-" + bed.RunID,
		Role: testbed.RoleFramework, Version: "v3.0.15", Env: []string{"FAKE_CRASH_AFTER=20ms"}})
	if err != nil {
		t.Fatal(err)
	}
	fw := a13Framework(t, ctx, e, d, p, 240, crash, false)
	// Wait until the engine's back-off keeps it restarting most of the time.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		in := inspect(t, ctx, e, fw.Name)
		if in.RestartCount >= 6 && in.State.Restarting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not crash-loop: %s, %d restarts", fw.Name, in.State.Status, in.RestartCount)
		}
	}
	r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--no-backup"}, args...), gateFlags...)...)
	t.Logf("upgrade of a crash-looping framework:\n%s", r)
	requireExit(t, r, 0)
	a13OneHealthy(t, ctx, e, fw, "v3.0.16")
}

// a13Probe is args with the probe mode mode instead of extraEngine's
// --probe direct.
func a13Probe(args []string, mode string) []string {
	out := []string{}
	for i := 0; i < len(args); i++ {
		if args[i] == "--probe" {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return append(out, "--probe", mode)
}

// pruneProbeImages removes tarsup's probe images from e each time a probe
// sidecar is gone and leaves them unused, as a `docker image prune -a` in
// a cron job may at any moment, until ctx ends. It returns how many
// removals it made, when it is done.
func pruneProbeImages(t *testing.T, ctx context.Context, e *testbed.Engine) <-chan int {
	t.Helper()
	msgs, errs := e.Client.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", "destroy"),
		filters.Arg("label", plan.LabelProbe+"=1"))})
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		for {
			select {
			case <-msgs:
				list, err := e.Client.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", "tarsup-probe"))})
				if err != nil {
					continue
				}
				for _, im := range list {
					if _, err := e.Client.ImageRemove(ctx, im.ID, image.RemoveOptions{}); err == nil {
						n++
					}
				}
			case <-errs:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return done
}

// killDialers removes (docker rm -f) each probe dialer of e (a probe
// container on the host's network) as soon as it starts, until ctx ends.
func killDialers(t *testing.T, ctx context.Context, e *testbed.Engine) {
	t.Helper()
	msgs, errs := e.Client.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", "start"),
		filters.Arg("label", plan.LabelProbe+"=1"))})
	go func() {
		for {
			select {
			case m := <-msgs:
				in, err := e.Client.ContainerInspect(ctx, m.Actor.ID)
				if err == nil && in.HostConfig != nil && in.HostConfig.NetworkMode.IsHost() {
					_ = e.Client.ContainerRemove(ctx, m.Actor.ID, container.RemoveOptions{Force: true})
				}
			case <-errs:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
}

// TestAttack13ProbeImagePruned: the probe image is removed whenever no
// sidecar uses it (an image prune between the pre-flight's sidecar and the
// gate's, or between two upgrades of a `watch`), and the engine's probe
// dialer is removed by hand as it starts. With --probe sidecar the
// gate must load it again, not fail every probe for the rest of the run
// (and then the rollback's gate too).
func TestAttack13ProbeImagePruned(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13prune-")
	fw := a13Framework(t, ctx, e, d, p, 241, bed.Images.Framework3015, true)
	pctx, stop := context.WithCancel(ctx)
	pruned := pruneProbeImages(t, pctx, e)
	// Why the engine's probe dialer is removed as soon as it starts: it
	// would keep the image in use for the whole run; without it every
	// probe goes by a sidecar of its own, between which the image is
	// unused.
	killDialers(t, pctx, e)
	r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--no-backup"},
		a13Probe(args, "sidecar")...), gateFlags...)...)
	stop()
	n := <-pruned
	t.Logf("probe image removed %d times; upgrade:\n%s", n, r)
	if n == 0 {
		t.Fatal("the probe image was never removed: the attack did not happen")
	}
	requireExit(t, r, 0)
	a13OneHealthy(t, ctx, e, fw, "v3.0.16")
}

// a13KillAt runs tarsup with args and kills it with SIGKILL right after the
// engine reports the nth event action on one of the containers named
// prefix... of this run (probe: on one of this tarsup's probe sidecars).
func a13KillAt(t *testing.T, ctx context.Context, e *testbed.Engine, prefix string, action events.Action, nth int, probe bool, args ...string) string {
	t.Helper()
	out, _ := a13SignalAt(t, ctx, e, syscall.SIGKILL, prefix, action, nth, probe, args...)
	return out
}

// a13SignalAt is a13KillAt with signal sig; it returns tarsup's output and
// its exit code.
func a13SignalAt(t *testing.T, ctx context.Context, e *testbed.Engine, sig syscall.Signal, prefix string, action events.Action, nth int, probe bool, args ...string) (string, int) {
	t.Helper()
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))})
	var out strings.Builder
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	seen := 0
	for {
		select {
		case m := <-msgs:
			a := m.Actor.Attributes
			ours := strings.HasPrefix(a["name"], prefix)
			if probe {
				ours = a[plan.LabelProbe] == "1" && strings.Contains(a[plan.LabelTxnOwner], fmt.Sprintf("/%d/", cmd.Process.Pid))
			}
			if m.Action != action || !ours {
				continue
			}
			if seen++; seen < nth {
				continue
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatalf("signal %s: %v", sig, err)
			}
			<-done
			return out.String(), cmd.ProcessState.ExitCode()
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case err := <-done:
			t.Fatalf("tarsup finished before the kill point (%v):\n%s", err, out.String())
		case <-time.After(5 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("no %s event:\n%s", action, out.String())
		}
	}
}

// a13Removed runs fn and returns the names of the containers on e that
// existed before it and that the engine destroyed while it ran (the
// containers fn itself created, such as its gate's sidecars, left out).
func a13Removed(t *testing.T, ctx context.Context, e *testbed.Engine, fn func()) []string {
	t.Helper()
	ectx, stop := context.WithCancel(ctx)
	msgs, _ := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))})
	var got []events.Message
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case m := <-msgs:
				got = append(got, m)
			case <-ectx.Done():
				return
			}
		}
	}()
	fn()
	// Why a pause: events arrive a little after the calls that made them.
	time.Sleep(500 * time.Millisecond)
	stop()
	<-collected
	created := map[string]bool{}
	var removed []string
	for _, m := range got {
		switch m.Action {
		case events.ActionCreate:
			created[m.Actor.ID] = true
		case events.ActionDestroy:
			if !created[m.Actor.ID] {
				removed = append(removed, m.Actor.Attributes["name"])
			}
		}
	}
	return removed
}

// TestAttack13Kill9DryRunTruthful: tarsup killed at each point the new
// order adds (the gate's sidecar created, and started; the old container
// aside still running; the new one named with the old one running), on an
// engine of its own. `recover --dry-run` must name every container the
// real recover then removes (as the engine's events show it), and the
// real one leaves one healthy framework on its volume and address, no
// probe sidecar, no temporary name.
func TestAttack13Kill9DryRunTruthful(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	points := []struct {
		name   string
		action events.Action
		nth    int
		probe  bool
	}{
		{"the gate's sidecar created", events.ActionCreate, 1, true},
		{"the old container aside, still running", events.ActionRename, 1, false},
		{"the new one named, the old one still running", events.ActionRename, 2, false},
		{"the gate's sidecar started", events.ActionStart, 1, true},
	}
	for i, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			d := bed.On(ctx, t, e)
			p := uniq(fmt.Sprintf("a13k%d-", i))
			fw := a13Framework(t, ctx, e, d, p, 242+i, bed.Images.Framework3015, true)
			out := a13KillAt(t, ctx, e, fw.Name, pt.action, pt.nth, pt.probe, append(append([]string{"upgrade", "--only", fw.Name,
				"--framework-image", bed.Images.FrameworkSlow, "--announce", "on", "--no-backup"}, args...), gateFlags...)...)
			t.Logf("killed at %q; containers %v, sidecars %v; tarsup said:\n%s", pt.name, names(t, ctx, e, p), probeSidecars(t, ctx, e), out)
			dry := tarsup(t, ctx, append([]string{"recover", "--dry-run"}, args...)...)
			requireExit(t, dry, 0)
			var r testbed.Result
			removed := a13Removed(t, ctx, e, func() {
				r = tarsup(t, ctx, append([]string{"recover"}, append(args, gateFlags...)...)...)
			})
			t.Logf("dry run:\n%s\nrecover (removed %v):\n%s", dry, removed, r)
			requireExit(t, r, 0)
			for _, n := range removed {
				if !strings.Contains(dry.Stdout, n) {
					t.Errorf("the recover removed %s, which its dry run does not name:\n%s", n, dry.Stdout)
				}
			}
			a13OneHealthy(t, ctx, e, fw, "")
			if db := d.ReadFile(fw.Name, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
				t.Errorf("db_tars lost: %q", db)
			}
		})
	}
}

// a13ImpostorSrc is a static program that stands in for `tarsup probe` in
// the probe image: its one-shot probe (--tcp, --http) is honest, its
// --serve mode misbehaves as main.mode says: "garbage" (ready, then
// nonsense for every request), "longline" (100 KB without a newline
// instead of ready), "silent" (never a word).
const a13ImpostorSrc = `package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

var mode = "garbage"

func main() {
	args := os.Args[1:]
	serve := false
	var tcp, web []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--serve":
			serve = true
		case "--tcp":
			i++
			tcp = append(tcp, args[i])
		case "--http":
			i++
			web = append(web, args[i])
		}
	}
	if !serve {
		for _, a := range tcp {
			c, err := net.DialTimeout("tcp", a, 2*time.Second)
			if err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			c.Close()
		}
		for _, u := range web {
			r, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + u)
			if err != nil || r.StatusCode != 200 {
				fmt.Println("GET", u, err)
				os.Exit(1)
			}
		}
		return
	}
	switch mode {
	case "longline":
		fmt.Print(strings.Repeat("x", 100000))
		time.Sleep(time.Hour)
	case "silent":
		time.Sleep(time.Hour)
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println("\x01\x02 GARBAGE: not an answer")
	}
}
`

// a13Impostor builds the impostor in mode, static, and loads it on e under
// the probe image's own reference for tarsup's binary, so that tarsup
// takes it for its probe image; the image is removed at the end of t.
func a13Impostor(t *testing.T, ctx context.Context, e *testbed.Engine, mode string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(a13ImpostorSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "impostor")
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-X main.mode="+mode, "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the impostor: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(bed.Tarsup(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(self)
	ref := health.ProbeImageRef(hex.EncodeToString(sum[:]))
	_, _ = e.Client.ImageRemove(ctx, ref, image.RemoveOptions{Force: true})
	archive, err := engine.ImageArchive(ref, "tarsup", data, []string{"/tarsup"}, plan.LabelProbe)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.Client.ImageLoad(ctx, bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	t.Cleanup(func() {
		_, _ = e.Client.ImageRemove(context.WithoutCancel(ctx), ref, image.RemoveOptions{Force: true})
	})
}

// TestAttack13SidecarMisbehaves: the gate's sidecar answers garbage, says
// ready never, or floods one endless line. The gate must fall back to
// its probes (here a sidecar per probe, --probe sidecar), decide as they
// say (the new framework is healthy: upgraded), and leave no sidecar.
func TestAttack13SidecarMisbehaves(t *testing.T) {
	bed.Parallel(t, a13ImpostorSlot)
	ctx := t.Context()
	e, args := extraEngine(t, ctx, a13ImpostorSlot)
	for i, mode := range []string{"garbage", "longline", "silent"} {
		t.Run(mode, func(t *testing.T) {
			d := bed.On(ctx, t, e)
			p := uniq("a13g" + mode + "-")
			fw := a13Framework(t, ctx, e, d, p, 246+i, bed.Images.Framework3015, true)
			a13Impostor(t, ctx, e, mode)
			r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--no-backup"},
				a13Probe(args, "sidecar")...), gateFlags...)...)
			t.Logf("upgrade with a sidecar in mode %s:\n%s", mode, r)
			requireExit(t, r, 0)
			a13OneHealthy(t, ctx, e, fw, "v3.0.16")
		})
	}
}

// TestAttack13NotStaticAnnounce: a tarsup built with cgo (dynamically
// linked: no probe image can be built FROM scratch) and --announce on.
// Probed directly, the upgrade must go through (the announcement is best
// effort), create no sidecar, and say nothing of a failed probe. With
// --probe sidecar it must stop before anything changed, saying why.
func TestAttack13NotStaticAnnounce(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	dyn := filepath.Join(t.TempDir(), "tarsup-dyn")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dyn, "../cmd/tarsup")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build tarsup with cgo: %v\n%s", err, out)
	}
	if f, err := elf.Open(dyn); err != nil {
		t.Fatal(err)
	} else {
		interp := false
		for _, p := range f.Progs {
			interp = interp || p.Type == elf.PT_INTERP
		}
		f.Close()
		if !interp {
			t.Skip("the cgo build is static here: nothing to attack")
		}
	}
	d := bed.On(ctx, t, e)
	p := uniq("a13dyn-")
	fw := a13Framework(t, ctx, e, d, p, 249, bed.Images.Framework3015, true)
	before := inspect(t, ctx, e, fw.Name).ID

	r := testbed.Run(ctx, dyn, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--no-backup", "--announce", "on"},
		a13Probe(args, "sidecar")...), gateFlags...)...)
	t.Logf("--probe sidecar:\n%s", r)
	if r.ExitCode == 0 || !strings.Contains(r.Stdout+r.Stderr, "static") {
		t.Errorf("a dynamically linked tarsup with --probe sidecar: want a failure that says it must be static, got %s", r)
	}
	if id := inspect(t, ctx, e, fw.Name).ID; id != before {
		t.Fatalf("the failed --probe sidecar run changed the framework (%s -> %s)", before, id)
	}

	ectx, stop := context.WithCancel(ctx)
	defer stop()
	msgs, _ := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", "create"), filters.Arg("label", plan.LabelProbe+"=1"))})
	r = testbed.Run(ctx, dyn, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--no-backup", "--announce", "on"},
		args...), gateFlags...)...)
	t.Logf("--probe direct:\n%s", r)
	requireExit(t, r, 0)
	a13OneHealthy(t, ctx, e, fw, "v3.0.16")
	select {
	case m := <-msgs:
		t.Errorf("a sidecar was created (%s) though no probe image can be built", m.Actor.ID)
	case <-time.After(300 * time.Millisecond):
	}
	for _, bad := range []string{"cannot probe", "ROLLBACK", "rollback"} {
		if strings.Contains(r.Stdout+r.Stderr, bad) {
			t.Errorf("output says %q:\n%s", bad, r)
		}
	}
}

// TestAttack13SignalMidSwap: SIGTERM (and SIGINT) at the points the new
// order adds. The swap under way finishes, nothing is left half-done:
// upgraded (the plan's one step ran to its end), exactly one framework under
// its name, answering, on its data, no sidecar, and nothing to recover.
func TestAttack13SignalMidSwap(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	points := []struct {
		name   string
		sig    syscall.Signal
		action events.Action
		nth    int
		probe  bool
	}{
		{"SIGTERM, the gate's sidecar created", syscall.SIGTERM, events.ActionCreate, 1, true},
		{"SIGTERM, the old container aside, still running", syscall.SIGTERM, events.ActionRename, 1, false},
		{"SIGINT, the new one named, the old one still running", syscall.SIGINT, events.ActionRename, 2, false},
		{"SIGTERM, the gate's sidecar started", syscall.SIGTERM, events.ActionStart, 1, true},
	}
	for i, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			d := bed.On(ctx, t, e)
			p := uniq(fmt.Sprintf("a13s%d-", i))
			fw := a13Framework(t, ctx, e, d, p, 242+i, bed.Images.Framework3015, true)
			out, code := a13SignalAt(t, ctx, e, pt.sig, fw.Name, pt.action, pt.nth, pt.probe, append(append([]string{"upgrade", "--only", fw.Name,
				"--framework-image", bed.Images.Framework3016, "--announce", "on", "--no-backup"}, args...), gateFlags...)...)
			t.Logf("%s: exit %d:\n%s", pt.name, code, out)
			// Why 0 is right too: the signal came during the plan's last
			// step, which finished; no step was left unrun.
			if (code != 0 && code != 1) || (code == 1 && !strings.Contains(out, "interrupted")) || !strings.Contains(out, "upgraded") {
				t.Errorf("exit %d: want the swap under way finished (upgraded), exit 0, or 1 saying it was interrupted", code)
			}
			a13OneHealthy(t, ctx, e, fw, "v3.0.16")
			if db := d.ReadFile(fw.Name, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
				t.Errorf("db_tars lost: %q", db)
			}
			a13NothingToRecover(t, ctx, args, fw.Name, "the signal")
		})
	}
}

// a13NothingToRecover: `tarsup recover --dry-run` exits 0 and names
// nothing of container name: the swap that was under way when what
// happened (a signal, say) ended by itself.
func a13NothingToRecover(t *testing.T, ctx context.Context, args []string, name, what string) {
	t.Helper()
	dry := tarsup(t, ctx, append([]string{"recover", "--dry-run"}, args...)...)
	requireExit(t, dry, 0)
	if strings.Contains(dry.Stdout, name) {
		t.Errorf("something to recover after %s:\n%s", what, dry.Stdout)
	}
}

// TestAttack13KilledSidecarEnds: kill -9 of tarsup while its gate's
// sidecar runs. The README says the sidecar ends with tarsup (its
// attached stdin closes, StdinOnce; AutoRemove removes it), so it must be
// gone by itself, before any other tarsup sweeps it.
func TestAttack13KilledSidecarEnds(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13end-")
	fw := a13Framework(t, ctx, e, d, p, 248, bed.Images.Framework3015, true)
	a13KillAt(t, ctx, e, fw.Name, events.ActionStart, 1, true, append(append([]string{"upgrade", "--only", fw.Name,
		"--framework-image", bed.Images.FrameworkSlow, "--announce", "on", "--no-backup"}, args...), gateFlags...)...)
	for deadline := time.Now().Add(15 * time.Second); len(probeSidecars(t, ctx, e)) > 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the killed tarsup's sidecar still runs 15 s later: %v", probeSidecars(t, ctx, e))
			break
		}
	}
	r := tarsup(t, ctx, append([]string{"recover"}, append(args, gateFlags...)...)...)
	requireExit(t, r, 0)
	a13OneHealthy(t, ctx, e, fw, "")
}

// TestAttack13ForeignProbeLabel: containers that carry tarsup.probe=1 but
// that no dead tarsup left (no owner label; the owner label of a process
// that runs, this test's) survive a real recover, which sweeps the
// helpers of dead tarsups as it takes the engine lock; its dry run does
// not name them either.
func TestAttack13ForeignProbeLabel(t *testing.T) {
	bed.Parallel(t, a13EngineSlot)
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13foreign-")
	self := owner.ThisProcess()
	unowned := d.Run(testbed.ContainerSpec{Name: p + "unowned", Image: bed.Images.Nginx, Labels: map[string]string{plan.LabelProbe: "1"}})
	live := d.Run(testbed.ContainerSpec{Name: p + "live", Image: bed.Images.Nginx, Labels: map[string]string{plan.LabelProbe: "1",
		plan.LabelTxnOwner: self.String(), plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}})
	dry := tarsup(t, ctx, append([]string{"recover", "--dry-run"}, args...)...)
	requireExit(t, dry, 0)
	r := tarsup(t, ctx, append([]string{"recover"}, append(args, gateFlags...)...)...)
	requireExit(t, r, 0)
	for _, c := range []*testbed.Container{unowned, live} {
		if in := inspect(t, ctx, e, c.Name); !in.State.Running {
			t.Errorf("%s is %s after recover", c.Name, in.State.Status)
		}
		if strings.Contains(dry.Stdout, c.Name) {
			t.Errorf("the dry run names %s:\n%s", c.Name, dry.Stdout)
		}
	}
}
