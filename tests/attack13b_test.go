//go:build e2e

package tests

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The second attack on issue 13's swap order, as an operator's worst night
// would: the rollback's announcement and a kill or a signal during it, a
// failing pre-stop hook, an old container that ignores its stop signal,
// the operator renaming or removing tarsup's containers mid-gate, an
// engine that refuses the sidecar CAP_NET_RAW, the network modes without
// a network of their own, and odd flags. With the real tarsup binary, on
// an engine of its own (slot 10), subnets 250..254 of it.
const a13bEngineSlot = 10

// a13bEngine is this file's engine and tarsup's flags for it (--probe direct).
func a13bEngine(t *testing.T, ctx context.Context) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, ctx, a13bEngineSlot)
}

// a13bGate are the gate's flags of this file: short, so that a gate that
// fails (a never-healthy image) fails in seconds.
var a13bGate = []string{"--health-timeout", "4s", "--monitor", "1s", "--stop-timeout", "3s", "--lock-wait", "10m", "--no-backup", "--register-timeout", "0"}

// a13bLone runs a framework of image alone on a network of its own
// (subnet k of e, static .3, restart always), as TestRollbackAnnounces
// does: no database (the fake then keeps its data in files), so that the
// plan sees it alone and --announce auto announces. spec edits it.
func a13bLone(t *testing.T, ctx context.Context, e *testbed.Engine, d *testbed.Deployer, p string, k int, image string, edit func(*testbed.ContainerSpec)) *testbed.Container {
	t.Helper()
	sub := e.Subnet(k)
	spec := testbed.ContainerSpec{Name: p + "fw", Image: image, Env: []string{"REBUILD=false"},
		Networks: []testbed.Attachment{{Network: d.Network(p+"net", sub), IPv4: testbed.HostIP(sub, 3)}}, Restart: "always"}
	if edit != nil {
		edit(&spec)
	}
	fw := d.Run(spec)
	fw.IP = testbed.HostIP(sub, 3)
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	return fw
}

// a13bSame: the framework is the container it was (id), the only one
// under its name, running and answering at its address, no sidecar left.
func a13bSame(t *testing.T, ctx context.Context, e *testbed.Engine, fw *testbed.Container, id string) {
	t.Helper()
	a13OneHealthy(t, ctx, e, fw, "")
	if now := inspect(t, ctx, e, fw.Name); now.ID != id {
		t.Errorf("%s is %s, want the old container %s back", fw.Name, now.ID[:12], id[:12])
	}
}

// TestAttack13bRollbackAnnounce: a lone framework upgraded to an image
// that never becomes healthy, with each --announce mode. The rollback
// puts the old container back (same ID, at its address, answering); the
// old one's start is announced as the new one's was: twice with auto (this
// engine is 20.10, before Docker 28) and on, never with off.
func TestAttack13bRollbackAnnounce(t *testing.T) {
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13bann-")
	fw := a13bLone(t, ctx, e, d, p, 250, bed.Images.Framework3015, nil)
	said := "gate sidecar (announced " + fw.IP + " on eth0)"
	for _, tt := range []struct {
		mode string
		want int
	}{{"auto", 2}, {"on", 2}, {"off", 0}} {
		t.Run(tt.mode, func(t *testing.T) {
			r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.FrameworkNeverHealthy,
				"--announce", tt.mode}, args...), a13bGate...)...)
			t.Logf("--announce %s:\n%s", tt.mode, r)
			requireExit(t, r, 1, "not healthy after", "rollback")
			if n := strings.Count(r.Stdout, said); n != tt.want {
				t.Errorf("--announce %s: %d reports %q, want %d", tt.mode, n, said, tt.want)
			}
			a13bSame(t, ctx, e, fw, fw.ID)
		})
	}
}

// a13bRollbackSignal upgrades fw (whose image answers only after 3 s,
// so that the old container's gate lasts that long) to the never-healthy
// image and sends sig to tarsup as the rollback starts the old container
// again (the second start of a container of that name): during the old
// container's gate.
func a13bRollbackSignal(t *testing.T, ctx context.Context, e *testbed.Engine, args []string, fw *testbed.Container, sig syscall.Signal) (string, int) {
	t.Helper()
	return a13SignalAt(t, ctx, e, sig, fw.Name, events.ActionStart, 2, false, append(append([]string{"upgrade", "--only", fw.Name,
		"--framework-image", bed.Images.FrameworkNeverHealthy, "--announce", "on"}, args...), a13bGate...)...)
}

// TestAttack13bRollbackInterrupted: kill -9 of tarsup during the
// rollback's gate of the old container, then `tarsup recover`: the old
// container is back (same ID), the failed one gone, no sidecar. SIGTERM at
// the same point: the rollback finishes (exit 1, rolled back), nothing is
// left to recover.
func TestAttack13bRollbackInterrupted(t *testing.T) {
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	t.Run("kill -9", func(t *testing.T) {
		d := bed.On(ctx, t, e)
		p := uniq("a13bk-")
		fw := a13bLone(t, ctx, e, d, p, 251, bed.Images.FrameworkSlow, nil)
		out, _ := a13bRollbackSignal(t, ctx, e, args, fw, syscall.SIGKILL)
		t.Logf("killed during the rollback; containers %v, sidecars %v; tarsup said:\n%s", names(t, ctx, e, p), probeSidecars(t, ctx, e), out)
		if !strings.Contains(out, "rollback") {
			t.Fatalf("killed before the rollback:\n%s", out)
		}
		dry := tarsup(t, ctx, append([]string{"recover", "--dry-run"}, args...)...)
		requireExit(t, dry, 0, fw.Name+".tarsup-failed")
		r := tarsup(t, ctx, append([]string{"recover"}, append(args, a13bGate[:6]...)...)...)
		t.Logf("dry run:\n%s\nrecover:\n%s", dry, r)
		requireExit(t, r, 0)
		a13bSame(t, ctx, e, fw, fw.ID)
	})
	t.Run("SIGTERM", func(t *testing.T) {
		d := bed.On(ctx, t, e)
		p := uniq("a13bt-")
		fw := a13bLone(t, ctx, e, d, p, 252, bed.Images.FrameworkSlow, nil)
		out, code := a13bRollbackSignal(t, ctx, e, args, fw, syscall.SIGTERM)
		t.Logf("SIGTERM during the rollback: exit %d:\n%s", code, out)
		if code != 1 || !strings.Contains(out, "rolled back") {
			t.Errorf("exit %d: want 1, the rollback finished (rolled back)", code)
		}
		a13bSame(t, ctx, e, fw, fw.ID)
		dry := tarsup(t, ctx, append([]string{"recover", "--dry-run"}, args...)...)
		requireExit(t, dry, 0)
		if strings.Contains(dry.Stdout, fw.Name) {
			t.Errorf("something to recover after the rollback:\n%s", dry.Stdout)
		}
	})
}

// TestAttack13bPreStopFails: a pre-stop hook that fails, with the new
// order (the new container exists, the gate's probe is not prepared yet,
// nothing renamed). The old container answers throughout, is never
// renamed or stopped, and the new one is removed: exit 1, the step
// skipped.
func TestAttack13bPreStopFails(t *testing.T) {
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13bhook-")
	fw := a13bLone(t, ctx, e, d, p, 253, bed.Images.Framework3015, func(s *testbed.ContainerSpec) {
		s.Labels = map[string]string{"tarsup.hook.pre-stop": marker("exit=5")}
	})
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	msgs, _ := e.Client.Events(ectx, eventsOf())
	var touched []string
	down := 0
	var r testbed.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		r = tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--announce", "on"}, args...), a13bGate...)...)
	}()
	for running := true; running; {
		select {
		case m := <-msgs:
			if m.Actor.ID == fw.ID && (m.Action == events.ActionRename || m.Action == events.ActionStop || m.Action == events.ActionKill || m.Action == events.ActionDie) {
				touched = append(touched, string(m.Action))
			}
		case <-done:
			running = false
		case <-time.After(20 * time.Millisecond):
			c, err := net.DialTimeout("tcp", net.JoinHostPort(fw.IP, "17890"), 200*time.Millisecond)
			if err != nil {
				down++
			} else {
				c.Close()
			}
		}
	}
	t.Logf("pre-stop hook fails:\n%s", r)
	requireExit(t, r, 1, "pre-stop hook label tarsup.hook.pre-stop", "exit status 5", "skipped (pre hook failed)")
	if len(touched) > 0 || down > 0 {
		t.Errorf("the old container was touched (%v) or did not answer %d times", touched, down)
	}
	a13bSame(t, ctx, e, fw, fw.ID)
}

// eventsOf is every container event.
func eventsOf() events.ListOptions {
	return events.ListOptions{}
}

var (
	_ = container.Config{}
	_ = network.EndpointSettings{}
)
