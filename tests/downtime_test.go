//go:build e2e

package tests

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/tests/testbed"
)

// serveLog records the times at which a TCP connect to addr succeeded,
// trying every millisecond.
type serveLog struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	ok   []time.Time
}

func logServing(addr string) *serveLog {
	l := &serveLog{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				now := time.Now()
				_ = c.Close()
				l.mu.Lock()
				l.ok = append(l.ok, now)
				l.mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return l
}

func (l *serveLog) end() []time.Time {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ok)
}

// TestOldServesUntilStop: during an upgrade the old framework keeps
// answering while tarsup creates the new container, prepares the gate's
// sidecar and renames both; only then does it stop, and between its death
// and the new container's start the engine reports nothing else (no
// create, rename, attach or start of any container of the upgrade or of
// its probe). The gate's sidecar starts after the new container and is
// gone afterwards.
func TestOldServesUntilStop(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("serves-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(55)})
	fw := dep.Framework.Name
	d.Pull(bed.Images.Framework3016)

	type ev struct {
		at           time.Time
		action, name string
		id           string
		probe        bool
	}
	var mu sync.Mutex
	var seen []ev
	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := bed.Local.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))})
	go func() {
		for {
			select {
			case m := <-msgs:
				a := m.Actor.Attributes
				probe := a["tarsup.probe"] == "1"
				if a[testbed.RunLabel] != bed.RunID && !probe {
					continue
				}
				mu.Lock()
				seen = append(seen, ev{time.Unix(0, m.TimeNano), string(m.Action), a["name"], m.Actor.ID, probe})
				mu.Unlock()
			case <-errs:
				return
			}
		}
	}()

	serving := logServing(net.JoinHostPort(dep.Framework.IP, "17890"))
	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", fw, "--to", "v3.0.16", "--announce", "on"}, gateFlags...)...)
	requireExit(t, r, 0)
	oks := serving.end()
	newID := inspect(t, ctx, bed.Local, fw).ID
	time.Sleep(500 * time.Millisecond) // the last events arrive
	stopEvents()

	mu.Lock()
	defer mu.Unlock()
	find := func(match func(ev) bool, what string) ev {
		t.Helper()
		for _, e := range seen {
			if match(e) {
				return e
			}
		}
		t.Fatalf("no event: %s; events:\n%s", what, evList(seen, func(e ev) string { return e.at.Format("15:04:05.000") + " " + e.action + " " + e.name }))
		return ev{}
	}
	oldID := dep.Framework.ID
	createNew := find(func(e ev) bool { return e.id == newID && e.action == "create" }, "create of the new container")
	createSide := find(func(e ev) bool { return e.probe && e.action == "create" && e.at.After(createNew.at) }, "create of the gate's sidecar")
	renameOld := find(func(e ev) bool { return e.id == oldID && e.action == "rename" }, "rename of the old container")
	renameNew := find(func(e ev) bool { return e.id == newID && e.action == "rename" }, "rename of the new container")
	killOld := find(func(e ev) bool { return e.id == oldID && e.action == "kill" }, "kill (stop) of the old container")
	dieOld := find(func(e ev) bool { return e.id == oldID && e.action == "die" }, "die of the old container")
	startNew := find(func(e ev) bool { return e.id == newID && e.action == "start" }, "start of the new container")
	startSide := find(func(e ev) bool { return e.id == createSide.id && e.action == "start" }, "start of the gate's sidecar")
	order := []ev{createNew, createSide, renameOld, renameNew, killOld, dieOld, startNew, startSide}
	for i := 1; i < len(order); i++ {
		if order[i].at.Before(order[i-1].at) {
			t.Errorf("%s %s came before %s %s", order[i].action, order[i].name, order[i-1].action, order[i-1].name)
		}
	}
	if renameOld.name != fw+".tarsup-old" {
		t.Errorf("the old container was renamed to %q", renameOld.name)
	}
	for _, e := range seen {
		if e.at.After(dieOld.at) && e.at.Before(startNew.at) && !(e.id == oldID && e.action == "stop") {
			t.Errorf("between the old container's death and the new one's start: %s %s", e.action, e.name)
		}
	}
	// The old container still answered after it was renamed aside.
	served := false
	for _, at := range oks {
		if at.After(renameOld.at) && at.Before(killOld.at) {
			served = true
		}
	}
	if !served {
		t.Errorf("no successful connect between the old container's rename (%s) and its stop (%s)", renameOld.at.Format("15:04:05.000"), killOld.at.Format("15:04:05.000"))
	}
	// The sidecar is gone.
	if left := probeSidecars(t, ctx, bed.Local); len(left) != 0 {
		t.Errorf("probe sidecars left: %v", left)
	}
}

func evList[E any](es []E, f func(E) string) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(f(e) + "\n")
	}
	return b.String()
}

// TestUpgradeToHealthcheckImage: an image with a HEALTHCHECK is gated on
// Docker's health status, which the gate follows by the engine's
// health_status events: the upgrade passes once the check does, and the
// new container is healthy.
func TestUpgradeToHealthcheckImage(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("hcgate-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(56)})
	fw := dep.Framework.Name
	r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", fw, "--framework-image", bed.Images.FrameworkHC}, gateFlags...)...)
	requireExit(t, r, 0)
	in := inspect(t, ctx, bed.Local, fw)
	if in.Config.Image != bed.Images.FrameworkHC || in.State.Health == nil || in.State.Health.Status != "healthy" {
		t.Fatalf("%s runs %s, health %+v: want the HEALTHCHECK image, healthy", fw, in.Config.Image, in.State.Health)
	}
}

// TestAnnounceAuto: on this engine (20.10, before Docker 28) a framework
// that is alone on its network gets a gate sidecar that announces its
// address, and is reachable after the upgrade; one that shares its network
// with its database gets none (the host keeps its neighbour entry).
func TestAnnounceAuto(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("announce-")
	d.Pull(bed.Images.Framework3016)
	sub := bed.Local.Subnet(57)
	alone := d.Run(testbed.ContainerSpec{Name: p + "alone", Image: bed.Images.Framework3015, Env: []string{"REBUILD=false"},
		Networks: []testbed.Attachment{{Network: d.Network(p+"net", sub), IPv4: testbed.HostIP(sub, 3)}}, Restart: "always"})
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(58)})

	for _, tt := range []struct {
		name, ip string
		want     bool
	}{
		{alone.Name, testbed.HostIP(sub, 3), true},
		{dep.Framework.Name, dep.Framework.IP, false},
	} {
		ectx, stop := context.WithCancel(ctx)
		msgs, _ := bed.Local.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
			filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", "create"), filters.Arg("label", "tarsup.probe=1"))})
		var cmds []string
		var mu sync.Mutex
		go func() {
			for m := range msgs {
				in, err := bed.Local.Client.ContainerInspect(ctx, m.Actor.ID)
				mu.Lock()
				if err == nil {
					cmds = append(cmds, strings.Join(in.Config.Cmd, " "))
				} else {
					cmds = append(cmds, "(gone: "+err.Error()+")")
				}
				mu.Unlock()
			}
		}()
		r := tarsup(t, ctx, append([]string{"upgrade", "--host", bed.Local.Host, "--only", tt.name, "--to", "v3.0.16", "--register-timeout", "0"}, gateFlags...)...)
		time.Sleep(300 * time.Millisecond)
		stop()
		requireExit(t, r, 0)
		if err := testbed.WaitTCP(ctx, net.JoinHostPort(tt.ip, "17890"), 10*time.Second); err != nil {
			t.Errorf("%s after the upgrade: %v", tt.name, err)
		}
		mu.Lock()
		got := slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, "--announce-addresses") })
		mu.Unlock()
		if got != tt.want {
			t.Errorf("%s: a gate sidecar that announces: %v, want %v (sidecars: %q)", tt.name, got, tt.want, cmds)
		}
		// The sidecar did announce: tarsup reports what it said.
		said := "gate sidecar (announced " + tt.ip + " on eth0)"
		if strings.Contains(r.Stdout, said) != tt.want {
			t.Errorf("%s: want %v a report %q:\n%s", tt.name, tt.want, said, r.Stdout)
		}
	}
	if left := probeSidecars(t, ctx, bed.Local); len(left) != 0 {
		t.Errorf("probe sidecars left: %v", left)
	}
}
