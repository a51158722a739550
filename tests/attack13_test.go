//go:build e2e

package tests

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
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

// TestAttack13ProbeImagePruned: the probe image is removed whenever no
// sidecar uses it (an image prune between the pre-flight's sidecar and the
// gate's, or between two upgrades of a `watch`). With --probe sidecar the
// gate must load it again, not fail every probe for the rest of the run
// (and then the rollback's gate too).
func TestAttack13ProbeImagePruned(t *testing.T) {
	ctx := t.Context()
	e, args := a13Engine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13prune-")
	fw := a13Framework(t, ctx, e, d, p, 241, bed.Images.Framework3015, true)
	pctx, stop := context.WithCancel(ctx)
	pruned := pruneProbeImages(t, pctx, e)
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
