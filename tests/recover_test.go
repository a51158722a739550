//go:build e2e

package tests

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// TestKill9ThenRecover kills tarsup with SIGKILL at several points of a
// recreate, as the engine's own event stream reports them, then runs
// `tarsup recover`: every time the service runs as exactly one container
// under its original name, healthy, with its data; and a new upgrade then
// goes through.
func TestKill9ThenRecover(t *testing.T) {
	points := []struct {
		name  string
		event events.Action // the engine event on this test's containers after which to kill
		nth   int           // kill at the nth such event
		delay time.Duration // and this long after it
		probe bool          // the event is of the gate's probe sidecar
	}{
		// In the order a swap makes them: create, sidecar, rename the old
		// one aside (still running), the new one takes the name, stop,
		// start, gate.
		{"after the new container is created", events.ActionCreate, 1, 0, false},
		{"after the gate's sidecar is created", events.ActionCreate, 1, 0, true},
		{"after the old container was renamed aside, still running", events.ActionRename, 1, 0, false},
		{"after the new container got the name, the old one still running", events.ActionRename, 2, 0, false},
		{"after the old container stopped", events.ActionDie, 1, 0, false},
		{"after the new container started", events.ActionStart, 1, 0, false},
		{"during the health gate", events.ActionStart, 1, 1500 * time.Millisecond, false},
		{"during the monitor period", events.ActionStart, 1, 4500 * time.Millisecond, false},
	}
	for i, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			ctx := t.Context()
			d := bed.On(ctx, t, bed.Local)
			p := uniq("kill" + string(rune('a'+i)) + "-")
			dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(30 + i)})
			fw := dep.Framework.Name

			// Listen before starting tarsup: events are not replayed.
			ectx, stopEvents := context.WithCancel(ctx)
			defer stopEvents()
			msgs, errs := bed.Local.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
				filters.Arg("type", string(events.ContainerEventType)))})

			var out bytes.Buffer
			// --announce on: a gate's sidecar on every engine, as on one
			// before Docker 28.
			cmd := exec.CommandContext(ctx, bed.Tarsup(t), "upgrade", "--host", bed.Local.Host, "--only", fw, "--announce", "on",
				"--framework-image", bed.Images.FrameworkSlow, "--health-timeout", "30s", "--monitor", "5s", "--stop-timeout", "5s", "--lock-wait", "10m")
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			seen := 0
			killed := false
		watch:
			for !killed {
				select {
				case m := <-msgs:
					a := m.Actor.Attributes
					ours := a[testbed.RunLabel] == bed.RunID && strings.HasPrefix(a["name"], fw)
					if pt.probe {
						// This tarsup's gate sidecar (others may run on the engine;
						// database clients carry tarsup.probe=db-client).
						ours = a[plan.LabelProbe] == "1" && strings.Contains(a[plan.LabelTxnOwner], fmt.Sprintf("/%d/", cmd.Process.Pid))
					}
					if m.Action != pt.event || !ours {
						continue
					}
					if seen++; seen < pt.nth {
						continue
					}
					time.Sleep(pt.delay)
					if err := cmd.Process.Kill(); err != nil {
						t.Fatalf("kill -9: %v", err)
					}
					killed = true
				case err := <-errs:
					t.Fatalf("engine events: %v", err)
				case err := <-done:
					t.Fatalf("tarsup finished before the kill point (%v):\n%s", err, out.String())
					break watch
				case <-time.After(10 * time.Minute):
					t.Fatalf("no %s event:\n%s", pt.event, out.String())
				}
			}
			<-done
			stopEvents()
			then := names(t, ctx, bed.Local, p)
			t.Logf("killed at %q; containers then: %v", pt.name, then)
			if pt.probe && (!slices.Contains(then, fw+".tarsup-new") || len(probeSidecars(t, ctx, bed.Local)) == 0) {
				t.Fatalf("killed after the sidecar's create, but there is no new container and sidecar: %v", then)
			}

			r := tarsup(t, ctx, append([]string{"recover", "--host", bed.Local.Host}, gateFlags...)...)
			requireExit(t, r, 0)
			requireOneHealthy(t, ctx, d, dep)
			if left := probeSidecars(t, ctx, bed.Local); len(left) != 0 {
				t.Errorf("probe sidecars left after recover: %v", left)
			}

			// The service then upgrades normally.
			r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", fw, "--to", "v3.0.16"}, gateFlags...)...)
			requireExit(t, r, 0)
			requireOneHealthy(t, ctx, d, dep)
			if v := strings.TrimSpace(httpBody(t, ctx, dep.WebHost+"/version")); v != "v3.0.16" {
				t.Errorf("version after the upgrade %s", v)
			}
		})
	}
}

// requireOneHealthy: the deployment's framework runs as exactly one
// container under its name, at its static IP, with its database.
func requireOneHealthy(t *testing.T, ctx context.Context, d *testbed.Deployer, dep *testbed.TarsDeployment) {
	t.Helper()
	prefix := strings.TrimSuffix(dep.Framework.Name, "framework")
	if got, want := names(t, ctx, bed.Local, prefix), []string{dep.Framework.Name, dep.DB.Name}; !slices.Equal(got, sortedCopy(want)) {
		t.Fatalf("containers %v, want exactly %v", got, want)
	}
	in := inspect(t, ctx, bed.Local, dep.Framework.Name)
	if !in.State.Running {
		t.Fatalf("%s is %s", dep.Framework.Name, in.State.Status)
	}
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(dep.Framework.IP, "17890"), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if db := d.ReadFile(dep.Framework.Name, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
		t.Fatalf("db_tars lost: %q", db)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestEngineRestartThenRecover: tarsup is killed after it renamed the old
// container aside, then the engine itself restarts (a reboot): dockerd brings
// back both containers' restart policies. `tarsup recover` over TLS (probing
// by sidecar) still leaves one healthy container under the name.
func TestEngineRestartThenRecover(t *testing.T) {
	ctx := t.Context()
	e, err := bed.Engine(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	d := bed.On(ctx, t, e)
	p := uniq("reboot-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(40)})
	fw := dep.Framework.Name
	remote := append([]string{"--host", e.Host}, tlsArgs(e)...)

	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionRename)))})
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), append(append([]string{"upgrade", "--only", fw, "--to", "v3.0.16"}, remote...), gateFlags...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-msgs:
		_ = cmd.Process.Kill()
	case err := <-errs:
		t.Fatalf("engine events: %v", err)
	case <-time.After(10 * time.Minute):
		t.Fatalf("no rename:\n%s", out.String())
	}
	_ = cmd.Wait()
	stopEvents()
	t.Logf("killed after a rename; containers: %v", names(t, ctx, e, p))

	if err := e.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("after the engine restart: %v", names(t, ctx, e, p))

	r := tarsup(t, ctx, append(append([]string{"recover"}, remote...), gateFlags...)...)
	requireExit(t, r, 0)
	if got, want := names(t, ctx, e, p), sortedCopy([]string{fw, dep.DB.Name}); !slices.Equal(got, want) {
		t.Fatalf("containers %v, want exactly %v\n%s", got, want, r)
	}
	if in := inspect(t, ctx, e, fw); !in.State.Running {
		t.Fatalf("%s is %s", fw, in.State.Status)
	}
	if db := d.ReadFile(fw, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
		t.Fatalf("db_tars lost: %q", db)
	}
	r = tarsup(t, ctx, append([]string{"status", "--format", "json"}, remote...)...)
	requireExit(t, r, 0, `"name": "`+fw+`"`, `"health": "healthy"`)
}
