//go:build e2e

package tests

import (
	"context"
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
	bed.Parallel(t, a13bEngineSlot)
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
	bed.Parallel(t, a13bEngineSlot)
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
		r := tarsup(t, ctx, append([]string{"recover"}, append(args, a13bGate[:8]...)...)...)
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
		a13NothingToRecover(t, ctx, args, fw.Name, "the rollback")
	})
}

// TestAttack13bPreStopFails: a pre-stop hook that fails, with the new
// order (the new container exists, the gate's probe is not prepared yet,
// nothing renamed). The old container answers throughout, is never
// renamed or stopped, and the new one is removed: exit 1, the step
// skipped.
func TestAttack13bPreStopFails(t *testing.T) {
	bed.Parallel(t, a13bEngineSlot)
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

// TestAttack13bStopTimeoutRunsOut: the old container ignores its stop
// signal (SIGUSR1, which a Go program ignores, as a shell entrypoint
// without a trap ignores SIGTERM as PID 1), so --stop-timeout runs out and
// the engine kills it. The swap still ends with the new container alone
// and healthy, and says the old one was killed.
func TestAttack13bStopTimeoutRunsOut(t *testing.T) {
	bed.Parallel(t, a13bEngineSlot)
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13bstop-")
	fw := a13bLone(t, ctx, e, d, p, 250, bed.Images.Framework3015, func(s *testbed.ContainerSpec) {
		s.Customize = func(c *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig) {
			c.StopSignal = "SIGUSR1"
		}
	})
	r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016}, args...), a13bGate...)...)
	t.Logf("an old container that ignores its stop signal:\n%s", r)
	requireExit(t, r, 0, "upgraded", "stop old: killed", "did not stop within 3s of its stop signal SIGUSR1")
	a13OneHealthy(t, ctx, e, fw, "v3.0.16")
}

// a13bDuringGate runs the upgrade args of fw and calls act once the new
// container (the first start of a container named fw.Name) has started,
// while tarsup gates it.
func a13bDuringGate(t *testing.T, ctx context.Context, e *testbed.Engine, fw *testbed.Container, act func(newID string), args ...string) testbed.Result {
	t.Helper()
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{})
	res := make(chan testbed.Result, 1)
	go func() { res <- tarsup(t, ctx, args...) }()
	for {
		select {
		case m := <-msgs:
			if m.Action == events.ActionStart && m.Actor.Attributes["name"] == fw.Name && m.Actor.ID != fw.ID {
				act(m.Actor.ID)
				return <-res
			}
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case r := <-res:
			t.Fatalf("tarsup ended before the new container started:\n%s", r)
		}
	}
}

// TestAttack13bOperatorMidGate: while tarsup gates the new container (its
// image answers after 3 s), the operator renames NAME.tarsup-old, renames
// the new container, or removes NAME.tarsup-old with docker rm -f.
func TestAttack13bOperatorMidGate(t *testing.T) {
	bed.Parallel(t, a13bEngineSlot)
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	docker := func(t *testing.T, a ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "docker", a...)
		cmd.Env = append(os.Environ(), e.Env()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", a, err, out)
		}
	}
	upgrade := func(fw *testbed.Container, img string) []string {
		return append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", img}, args...), a13bGate...)
	}
	t.Run("rename old aside", func(t *testing.T) {
		d := bed.On(ctx, t, e)
		fw := a13bLone(t, ctx, e, d, uniq("a13bro-"), 251, bed.Images.Framework3015, nil)
		r := a13bDuringGate(t, ctx, e, fw, func(string) { docker(t, "rename", fw.Name+".tarsup-old", fw.Name+"-keep") }, upgrade(fw, bed.Images.FrameworkSlow)...)
		t.Logf("old renamed mid-gate:\n%s", r)
		requireExit(t, r, 0, "upgraded")
		a13OneHealthy(t, ctx, e, fw, "v3.0.16")
	})
	t.Run("rename new", func(t *testing.T) {
		d := bed.On(ctx, t, e)
		fw := a13bLone(t, ctx, e, d, uniq("a13brn-"), 252, bed.Images.Framework3015, nil)
		r := a13bDuringGate(t, ctx, e, fw, func(string) { docker(t, "rename", fw.Name, fw.Name+"-mine") }, upgrade(fw, bed.Images.FrameworkSlow)...)
		t.Logf("new renamed mid-gate:\n%s; containers %v", r, names(t, ctx, e, fw.Name))
		// Not "upgraded" with no container left under the name: both
		// kept, and the commands that finish the swap.
		requireExit(t, r, 1, "is named "+fw.Name+"-mine now, not "+fw.Name, "docker rename "+fw.Name+"-mine "+fw.Name)
		if old := inspect(t, ctx, e, fw.ID); old.State.Running {
			t.Errorf("the old container runs again")
		}
		docker(t, "rename", fw.Name+"-mine", fw.Name)
		rec := tarsup(t, ctx, append([]string{"recover"}, append(args, a13bGate[:8]...)...)...)
		requireExit(t, rec, 0)
		a13OneHealthy(t, ctx, e, fw, "v3.0.16")
	})
	t.Run("rm -f old, gate passes", func(t *testing.T) {
		d := bed.On(ctx, t, e)
		fw := a13bLone(t, ctx, e, d, uniq("a13brm-"), 253, bed.Images.Framework3015, nil)
		r := a13bDuringGate(t, ctx, e, fw, func(string) { docker(t, "rm", "-f", fw.Name+".tarsup-old") }, upgrade(fw, bed.Images.FrameworkSlow)...)
		t.Logf("old removed mid-gate:\n%s", r)
		requireExit(t, r, 0, "upgraded")
		a13OneHealthy(t, ctx, e, fw, "v3.0.16")
	})
	t.Run("rm -f old, gate fails", func(t *testing.T) {
		d := bed.On(ctx, t, e)
		fw := a13bLone(t, ctx, e, d, uniq("a13brf-"), 254, bed.Images.Framework3015, nil)
		r := a13bDuringGate(t, ctx, e, fw, func(string) { docker(t, "rm", "-f", fw.Name+".tarsup-old") }, upgrade(fw, bed.Images.FrameworkNeverHealthy)...)
		t.Logf("old removed mid-gate, gate fails:\n%s; containers %v", r, names(t, ctx, e, fw.Name))
		// Nothing to roll back to: the failed new container is all there
		// is, so it keeps the name, and tarsup says how to get the old
		// configuration back (not "docker rm -f" of the last container).
		requireExit(t, r, 1, "ROLLBACK IMPOSSIBLE: the old container "+fw.ID[:12]+" was removed", "tarsup rollback --host "+e.Host+" "+fw.Name)
		if strings.Contains(r.Stderr, "docker rm -f") {
			t.Errorf("the advice removes the last container")
		}
		if got := names(t, ctx, e, fw.Name); len(got) != 1 || got[0] != fw.Name || !inspect(t, ctx, e, fw.Name).State.Running {
			t.Fatalf("containers %v, want the new one under %s, running", got, fw.Name)
		}
		rb := tarsup(t, ctx, append(append([]string{"rollback", fw.Name}, args...), a13bGate[:8]...)...)
		t.Logf("the advice followed:\n%s", rb)
		requireExit(t, rb, 0)
		a13OneHealthy(t, ctx, e, fw, "v3.0.15")
	})
}

// TestAttack13bNetworkModes: frameworks under host networking, none, and
// another container's namespace, upgraded end to end with the new order
// and --announce on (which must not announce there: no namespace of
// their own).
func TestAttack13bNetworkModes(t *testing.T) {
	bed.Parallel(t, a13bEngineSlot)
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	for _, mode := range []string{"container", "none", "host"} {
		t.Run(mode, func(t *testing.T) {
			d := bed.On(ctx, t, e)
			p := uniq("a13bmode-" + mode + "-")
			nm, env, addr := mode, []string{"REBUILD=false"}, ""
			switch mode {
			case "container":
				sub := e.Subnet(254)
				other := d.Run(testbed.ContainerSpec{Name: p + "other", Image: bed.Images.Nginx,
					Networks: []testbed.Attachment{{Network: d.Network(p+"net", sub), IPv4: testbed.HostIP(sub, 9)}}, Restart: "always"})
				nm, addr = "container:"+other.Name, testbed.HostIP(sub, 9)
			case "none":
				// Why DOMAIN: without an interface the framework has no
				// address to record; DOMAIN names one, as TarsDocs allows.
				env = append(env, "DOMAIN=10.0.0.1")
			case "host":
				for _, port := range []string{"17890", "3000"} {
					ln, err := net.Listen("tcp", ":"+port)
					if err != nil {
						t.Skipf("port %s is taken on this machine: %v", port, err)
					}
					ln.Close()
				}
				env, addr = append(env, "DOMAIN=127.0.0.1"), "127.0.0.1"
			}
			fw := d.Run(testbed.ContainerSpec{Name: p + "fw", Image: bed.Images.Framework3015, Env: env, NetworkMode: nm, Restart: "always"})
			nm = string(inspect(t, ctx, e, fw.Name).HostConfig.NetworkMode) // container:ID
			up := []string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--announce", "on"}
			probe := args
			if mode != "host" {
				// Probed directly, a container without an address of its
				// own is refused before anything changes, naming the fix.
				r := tarsup(t, ctx, append(append(up, args...), a13bGate...)...)
				requireExit(t, r, 2, "cannot probe "+fw.Name, "use --probe sidecar")
				if in := inspect(t, ctx, e, fw.Name); in.ID != fw.ID {
					t.Fatalf("the refused upgrade changed %s", fw.Name)
				}
				probe = a13Probe(args, "sidecar")
			}
			r := tarsup(t, ctx, append(append(up, probe...), a13bGate...)...)
			t.Logf("network mode %s:\n%s", nm, r)
			requireExit(t, r, 0, "upgraded")
			if strings.Contains(r.Stdout, "announced") {
				t.Errorf("announced under network mode %s", nm)
			}
			got := names(t, ctx, e, fw.Name)
			in := inspect(t, ctx, e, fw.Name)
			if len(got) != 1 || !in.State.Running || in.Config.Image != bed.Images.Framework3016 || string(in.HostConfig.NetworkMode) != nm {
				t.Errorf("containers %v; %s runs %s (%s), network mode %s", got, fw.Name, in.Config.Image, in.State.Status, in.HostConfig.NetworkMode)
			}
			if left := probeSidecars(t, ctx, e); len(left) != 0 {
				t.Errorf("probe sidecars left: %v", left)
			}
			if addr != "" {
				if v := strings.TrimSpace(httpBody(t, ctx, "http://"+net.JoinHostPort(addr, "3000")+"/version")); v != "v3.0.16" {
					t.Errorf("%s answers version %q at %s", fw.Name, v, addr)
				}
			}
		})
	}
}

// TestAttack13bNoPacketSockets: an engine whose containers may not open
// AF_PACKET sockets (a daemon-wide seccomp profile, as a hardened host
// may have; the sidecar's CAP_NET_RAW is then of no use). --announce on
// must not turn a healthy upgrade into a failure: upgraded, and the report
// says why nothing was announced.
func TestAttack13bNoPacketSockets(t *testing.T) {
	bed.Parallel(t, a13bEngineSlot)
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	profile := filepath.Join(t.TempDir(), "no-packet.json")
	// socket(AF_PACKET = 17, ...) fails with EPERM; everything else is allowed.
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":17,"op":"SCMP_CMP_EQ"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.RestartWithSeccomp(ctx, profile); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.RestartWithSeccomp(context.WithoutCancel(ctx), ""); err != nil {
			t.Errorf("restore the engine's seccomp default: %v", err)
		}
	})
	d := bed.On(ctx, t, e)
	fw := a13bLone(t, ctx, e, d, uniq("a13bseccomp-"), 251, bed.Images.Framework3015, nil)
	r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", fw.Name, "--framework-image", bed.Images.Framework3016, "--announce", "on"}, args...), a13bGate...)...)
	t.Logf("no AF_PACKET sockets, --announce on:\n%s", r)
	requireExit(t, r, 0, "upgraded", "gate sidecar (not announced (the gate goes on; --announce off stops trying): announce: packet socket: operation not permitted)")
	if n := strings.Count(r.Stdout, "operation not permitted"); n != 1 {
		t.Errorf("the refusal is said %d times, want once (not once per resend)", n)
	}
	a13OneHealthy(t, ctx, e, fw, "v3.0.16")
}

// TestAttack13bOddFlags: flags around the new order given twice, empty or
// out of range, and --only of containers that are not Tars: exit 2 (or
// nothing to do) with one line naming the flag, and nothing changed.
func TestAttack13bOddFlags(t *testing.T) {
	bed.Parallel(t, a13bEngineSlot)
	ctx := t.Context()
	e, args := a13bEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("a13bflags-")
	web := d.Run(testbed.ContainerSpec{Name: p + "nginx", Image: bed.Images.Nginx})
	for _, tt := range []struct {
		flags []string
		code  int
		says  string
	}{
		{[]string{"--to", "v3.0.16", "--announce", "on", "--announce", "off"}, 2, "--announce given twice"},
		{[]string{"--to", "v3.0.16", "--announce="}, 2, "bad --announce"},
		{[]string{"--to", "v3.0.16", "--announce", "yes"}, 2, "--announce"},
		{[]string{"--to", "v3.0.16", "--stop-timeout", "-1"}, 2, "--stop-timeout"},
		{[]string{"--to", "v3.0.16", "--stop-timeout=-1s"}, 2, "--stop-timeout"},
		{[]string{"--to", "v3.0.16", "--stop-timeout", "0"}, 2, "bad --stop-timeout 0s: use whole seconds, at least 1s"},
		{[]string{"--to", "v3.0.16", "--stop-timeout", "500ms"}, 2, "bad --stop-timeout 500ms"},
		{[]string{"--to", "v3.0.16", "--only", web.Name}, 2, web.Name},
		{[]string{"--to", "v3.0.16", "--only", p + "nosuch"}, 2, p + "nosuch"},
	} {
		r := tarsup(t, ctx, append(append([]string{"upgrade"}, tt.flags...), args...)...)
		t.Logf("%v:\n%s", tt.flags, r)
		if r.ExitCode != tt.code || !strings.Contains(r.Stderr+r.Stdout, tt.says) {
			t.Errorf("%v: exit %d, want %d saying %q:\n%s", tt.flags, r.ExitCode, tt.code, tt.says, r)
		}
	}
	if in := inspect(t, ctx, e, web.Name); in.ID != web.ID || !in.State.Running {
		t.Errorf("%s changed: %s %s", web.Name, in.ID[:12], in.State.Status)
	}
	if got := names(t, ctx, e, p); len(got) != 1 {
		t.Errorf("containers %v, want only %s", got, web.Name)
	}
}
