//go:build e2e

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tests/testbed"
)

// TestPreflightProbeCannotWork: when the health probe cannot work for a
// container the plan replaces, the upgrade stops before anything changes,
// with exit 2 and the fix; the container is never stopped.
func TestPreflightProbeCannotWork(t *testing.T) {
	t.Run("direct, and the container has no address", func(t *testing.T) {
		ctx := t.Context()
		d := bed.On(ctx, t, bed.Local)
		p := uniq("pfnone-")
		// No network: no IP, no published port. DOMAIN gives the fake its IP;
		// DBIP makes the deployment this test's own (no MySQL to wait for).
		fw := d.Run(testbed.ContainerSpec{Name: p + "framework", Image: bed.Images.Framework3015, NetworkMode: "none",
			Env: []string{"DOMAIN=10.99.0.3", "DBIP=" + p + "db", "REBUILD=false"}})
		waitLog(t, d, fw.Name, "web listening on")
		before := snapshot(t, ctx, bed.Local, p)

		r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--probe", "direct", "--only", fw.Name, "--to", "v3.0.16"}, gateFlags...)...)
		requireExit(t, r, 2, fw.Name, "no address reaches port 17890", "use --probe sidecar", "nothing was changed")
		requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

		// The fix the message names works: the sidecar shares the container's
		// network namespace.
		r = tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--probe", "sidecar", "--only", fw.Name, "--to", "v3.0.16"}, gateFlags...)...)
		requireExit(t, r, 0, fw.Name+": recreate v3.0.15 -> v3.0.16")
	})

	t.Run("sidecar, and tarsup is dynamically linked", func(t *testing.T) {
		ctx := t.Context()
		dyn := filepath.Join(t.TempDir(), "tarsup-dynamic")
		// Why external linking: it makes a pure Go program depend on the
		// system's dynamic loader and libc, which an image FROM scratch lacks.
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-linkmode=external", "-o", dyn, "github.com/tarsup/tarsup/cmd/tarsup")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build a dynamically linked tarsup: %v\n%s", err, out)
		}
		d := bed.On(ctx, t, bed.Local)
		p := uniq("pfdyn-")
		dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(81)})
		before := snapshot(t, ctx, bed.Local, p)

		r := testbed.Run(ctx, dyn, append([]string{"upgrade", "--host", bed.Local.Host, "--probe", "sidecar", "--only", dep.Framework.Name, "--to", "v3.0.16"}, gateFlags...)...)
		requireExit(t, r, 2, dep.Framework.Name, "dynamically linked", "CGO_ENABLED=0", "nothing was changed")
		requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
		d.WaitHTTP(dep.WebHost + "/get_tarsnode")
	})
}

// TestPreflightUnhealthyBefore: a framework that does not answer before the
// upgrade, upgraded to an image that fails too. The plan says it was
// unhealthy before; the rollback puts the old container back running, as it
// was, without demanding a health it never had: exit 1, rolled back.
func TestPreflightUnhealthyBefore(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("pfsick-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(82), FrameworkEnv: []string{"FAKE_NEVER_HEALTHY=true"}, NoWait: true})
	fw := dep.Framework.Name
	waitLog(t, d, fw, "running without listening")
	before := inspect(t, ctx, bed.Local, fw)
	args := []string{"upgrade", "--host", bed.Local.Host, "--only", fw, "--framework-image", bed.Images.FrameworkNeverHealthy,
		"--health-timeout", "4s", "--monitor", "2s", "--stop-timeout", "5s", "--lock-wait", "10m"}

	r := tarsup(t, ctx, append(args, "--dry-run")...)
	requireExit(t, r, 0, fw+": recreate v3.0.15 -> v3.0.16-neverhealthy", "(unhealthy before: ", "connection refused")

	r = tarsup(t, ctx, append(args, "--format", "json")...)
	requireExit(t, r, 1, "not healthy after 4s", "runs again as before the upgrade", "it was not healthy before the upgrade either")
	for _, bad := range []string{"could not be recovered", "ROLLBACK FAILED"} {
		if strings.Contains(r.Stdout+r.Stderr, bad) {
			t.Errorf("output says %q:\n%s", bad, r)
		}
	}
	var rep struct {
		Plan []struct {
			Container    string
			HealthBefore string `json:"health_before"`
			Detail       string `json:"health_before_detail"`
			RollbackGate string `json:"rollback_gate"`
			Line         string
		}
		Results []struct {
			Container, Result string
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.Stdout)
	}
	if len(rep.Plan) != 1 || rep.Plan[0].HealthBefore != "unhealthy" || rep.Plan[0].RollbackGate != "running" ||
		!strings.Contains(rep.Plan[0].Detail, "17890") || !strings.Contains(rep.Plan[0].Line, "(unhealthy before: ") {
		t.Errorf("JSON plan %+v", rep.Plan)
	}
	if len(rep.Results) != 1 || rep.Results[0].Result != "rolled back" {
		t.Errorf("JSON results %+v", rep.Results)
	}

	after := inspect(t, ctx, bed.Local, fw)
	if after.ID != before.ID || !after.State.Running || after.State.StartedAt == before.State.StartedAt {
		t.Fatalf("the old container is not back, running again: %s running=%v started %s (was %s)", after.ID, after.State.Running, after.State.StartedAt, before.State.StartedAt)
	}
	if got, want := names(t, ctx, bed.Local, p), sortedCopy([]string{fw, dep.DB.Name}); !slices.Equal(got, want) {
		t.Errorf("containers %v, want %v", got, want)
	}
}

// TestKill9AfterGateFailedThenRecover: tarsup is killed after the new
// container failed its gate, while the rollback stops it (a stop signal the
// program ignores makes that stop last the whole stop timeout). The engine
// keeps the record that the gate failed (the failed container no longer
// holds the name), and `recover` rolls back at once: it never starts or
// gates the failed container again, though it is given --health-timeout 10m.
func TestKill9AfterGateFailedThenRecover(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("gatefail-")
	name := p + "framework"
	fw := d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015,
		Env: []string{"DBIP=" + p + "db", "REBUILD=false"},
		Customize: func(cfg *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig) {
			cfg.StopSignal = "SIGWINCH" // ignored by the fake: a stop waits for the timeout
		}})
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))

	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := bed.Local.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", testbed.RunLabel+"="+bed.RunID))})

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), "upgrade", "--host", bed.Local.Host, "--only", name,
		"--framework-image", bed.Images.FrameworkNeverHealthy,
		"--allow-ip-change", // the default bridge: its address is not what this test is about
		"--health-timeout", "3s", "--monitor", "1s", "--stop-timeout", "5s", "--lock-wait", "10m")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var failedID string
	for failedID == "" {
		select {
		case m := <-msgs:
			// The new container's stop: the rollback has begun.
			if m.Action == events.ActionKill && m.Actor.ID != fw.ID && strings.HasPrefix(m.Actor.Attributes["name"], name) {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatalf("kill -9: %v", err)
				}
				failedID = m.Actor.ID
			}
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case err := <-done:
			t.Fatalf("tarsup finished before the kill point (%v):\n%s", err, out.String())
		case <-time.After(10 * time.Minute):
			t.Fatalf("the new container was never stopped:\n%s", out.String())
		}
	}
	<-done
	stopEvents()
	killedAt := time.Now()

	// The journal: the failed container was renamed aside before its stop.
	if got, want := names(t, ctx, bed.Local, p), []string{name + ".tarsup-failed", name + ".tarsup-old"}; !slices.Equal(got, want) {
		t.Fatalf("after the kill: containers %v, want %v (the gate's failure recorded on the engine)\n%s", got, want, out.String())
	}

	r := tarsup(t, ctx, "recover", "--host", bed.Local.Host, "--format", "json", "--health-timeout", "10m", "--monitor", "2s", "--stop-timeout", "5s", "--lock-wait", "10m")
	requireExit(t, r, 0)
	var recs []struct{ Name, Action, Result string }
	if err := json.Unmarshal([]byte(r.Stdout), &recs); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r)
	}
	var mine []string
	for _, rc := range recs {
		if rc.Name == name {
			mine = append(mine, rc.Action+": "+rc.Result)
		}
	}
	if len(mine) != 1 || !strings.HasPrefix(mine[0], "undo") || !strings.HasSuffix(mine[0], ": done") {
		t.Fatalf("recovery of %s: %v, want one undo, done\n%s", name, mine, r)
	}

	// The engine's own record: the failed container was not started again.
	hctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hist, herrs := bed.Local.Client.Events(hctx, events.ListOptions{Since: strconv.FormatInt(killedAt.Add(-time.Second).Unix(), 10), Until: strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		Filters: filters.NewArgs(filters.Arg("container", failedID), filters.Arg("event", string(events.ActionStart)))})
history:
	for {
		select {
		case m := <-hist:
			t.Errorf("recover started the failed container again: %+v", m)
		case err := <-herrs:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("engine events: %v", err)
			}
			break history
		}
	}

	after := inspect(t, ctx, bed.Local, name)
	if after.ID != fw.ID || !after.State.Running {
		t.Fatalf("%s is %s running=%v, want the old container %s back", name, after.ID, after.State.Running, fw.ID)
	}
	if got := names(t, ctx, bed.Local, p); !slices.Equal(got, []string{name}) {
		t.Errorf("containers %v, want only %s", got, name)
	}
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
}
