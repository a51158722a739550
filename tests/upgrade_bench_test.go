//go:build e2e

package tests

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tests/testbed"
)

// gapWatcher starts a TCP connect to addr every few milliseconds (as
// watchGaps is told), each on its own, and remembers when each succeeded:
// the downtime a client of the port sees is the longest gap between two
// successes. Why connects that do not wait for each other: a connect sent
// while the address is unreachable waits for its timeout, and a client
// that waited for it would notice the service's return up to that timeout
// late; a new one every few milliseconds notices it within that period.
type gapWatcher struct {
	addr string
	// check is one client's attempt; nil is a TCP connect to addr.
	check func() bool
	stop  chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	oks   []time.Time
}

func watchGaps(addr string, every time.Duration) *gapWatcher {
	return watchChecks(addr, every, nil)
}

// watchChecks is watchGaps with check as each client's attempt (nil: a TCP
// connect to addr).
func watchChecks(addr string, every time.Duration, check func() bool) *gapWatcher {
	w := &gapWatcher{addr: addr, check: check, stop: make(chan struct{}), done: make(chan struct{})}
	if w.check == nil {
		w.check = func() bool {
			c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
			if err != nil {
				return false
			}
			_ = c.Close()
			return true
		}
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				if !w.check() {
					return
				}
				now := time.Now()
				w.mu.Lock()
				w.oks = append(w.oks, now)
				w.mu.Unlock()
			}()
		}
	}()
	return w
}

// Stop ends the watch once the port answers again and returns the longest
// gap between two successful connects.
func (w *gapWatcher) Stop(ctx context.Context) time.Duration {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil && !w.check(); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(w.stop)
	<-w.done
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	oks := slices.Clone(w.oks)
	slices.SortFunc(oks, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	for i := 1; i < len(oks); i++ {
		gap = max(gap, oks[i].Sub(oks[i-1]))
	}
	return gap
}

// BenchmarkFrameworkDowntime measures the downtime of one framework upgrade
// as a client of its web port sees it (a TCP connect every 10 ms; the
// longest gap between two that succeed), next to the floor measured the
// same way on the same engine: docker stop, docker rename, docker run of
// the same container (as the API calls the CLI makes). Five rounds, each
// with tarsup and the floor on fresh containers, alternating which goes
// first; reported as medians. It also reports, from the engine's events,
// the time from the old container's "die" to the new one's "start".
//
// Three layouts: "tars", the framework on a network it shares with its
// database; "alone", the framework the only container of its network;
// "ports", TarsDocs' compose layout (the database beside it, 3000 and
// 9000-9010 published), its client an HTTP request to the published web
// port through the engine's port proxy. Why these: on Docker before 28, a
// bridge that loses its last port drops its carrier and the host forgets
// the container's neighbour entry; a client then waits for an ARP retry
// (one second apart) unless the new container is announced (tarsup
// --announce). And published ports make the engine's own stop (their
// release) and start (their proxies and rules) the larger part of the
// window, which tarsup and the floor pay alike.
func BenchmarkFrameworkDowntime(b *testing.B) {
	ctx := b.Context()
	d := bed.On(ctx, b, bed.Local)
	p := uniq("downtime-")
	d.Pull(bed.Images.Framework3015)
	d.Pull(bed.Images.Framework3016)
	ev := recordEvents(b, ctx, bed.Local)

	type layout struct {
		name  string
		net   string
		sub   string
		ip    int      // the framework's host number in sub
		ports []string // published, `docker run -p` syntax
		web   string   // the published web port's address, when ports
	}
	tarsSub := bed.Local.Subnet(50)
	tarsNet := d.Network(p+"tars", tarsSub)
	d.Run(testbed.ContainerSpec{Name: p + "db", Image: bed.Images.MySQL, Env: []string{"MYSQL_ROOT_PASSWORD=tars2015"},
		Networks: []testbed.Attachment{{Network: tarsNet, IPv4: testbed.HostIP(tarsSub, 2)}}})
	aloneSub := bed.Local.Subnet(51)
	rng := freePorts(b, 12)
	web := rng + 11
	layouts := []layout{{name: "tars", net: tarsNet, sub: tarsSub, ip: 3},
		{name: "alone", net: d.Network(p+"alone", aloneSub), sub: aloneSub, ip: 3},
		{name: "ports", net: tarsNet, sub: tarsSub, ip: 4,
			ports: []string{fmt.Sprintf("127.0.0.1:%d:3000", web), fmt.Sprintf("127.0.0.1:%d-%d:9000-9010", rng, rng+10)},
			web:   fmt.Sprintf("127.0.0.1:%d", web)}}

	// parts are, per kind, each swap's kill -> die, die -> "stop" (the
	// engine's clean-up), "stop" -> start of the new container.
	parts := map[string][][3]time.Duration{}
	// measure lays out a fresh framework, lets its client settle, swaps
	// it as kind says, and returns the client's longest gap and the
	// engine's die -> start.
	measure := func(kind string, l layout, round int) (gap, dieToStart time.Duration) {
		b.Helper()
		name := fmt.Sprintf("%s%s-%s-%d", p, l.name, kind, round)
		ip := testbed.HostIP(l.sub, l.ip)
		old := d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015, Env: []string{"REBUILD=false"},
			Networks: []testbed.Attachment{{Network: l.net, IPv4: ip}}, Ports: l.ports, Restart: "always"})
		defer func() {
			for _, n := range []string{name, name + "-old", name + ".tarsup-old"} {
				_ = bed.Local.Client.ContainerRemove(ctx, n, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}()
		addr := net.JoinHostPort(ip, "3000")
		d.WaitTCP(addr)
		w := watchGaps(addr, 10*time.Millisecond)
		if l.web != "" {
			w.Stop(ctx)
			w = watchChecks(l.web, 10*time.Millisecond, webAnswers(l.web))
		}
		time.Sleep(300 * time.Millisecond) // the client's connects settle the host's neighbour entry
		if kind == "tarsup" {
			r := testbed.Run(ctx, bed.Tarsup(b), "upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16",
				"--health-timeout", "30s", "--monitor", "1s", "--stop-timeout", "10s", "--lock-wait", "10m", "--register-timeout", "0")
			gap = w.Stop(ctx)
			if r.ExitCode != 0 {
				b.Fatalf("upgrade: %s", r)
			}
		} else {
			floorSwap(b, ctx, name, l.net, ip)
			gap = w.Stop(ctx)
		}
		now := inspect(b, ctx, bed.Local, name)
		kill, die := ev.when(b, old.ID, events.ActionKill), ev.when(b, old.ID, events.ActionDie)
		stopped, started := ev.when(b, old.ID, events.ActionStop), ev.when(b, now.ID, events.ActionStart)
		parts[kind] = append(parts[kind], [3]time.Duration{die.Sub(kill), stopped.Sub(die), started.Sub(stopped)})
		return gap, started.Sub(die)
	}

	const rounds = 5
	for _, l := range layouts {
		var tg, fg, ts, fs []time.Duration
		for i := 0; i < b.N*rounds; i++ {
			kinds := []string{"tarsup", "floor"}
			if i%2 == 1 {
				kinds = []string{"floor", "tarsup"}
			}
			for _, k := range kinds {
				gap, d2s := measure(k, l, i)
				if k == "tarsup" {
					tg, ts = append(tg, gap), append(ts, d2s)
				} else {
					fg, fs = append(fg, gap), append(fs, d2s)
				}
			}
		}
		t, f := median(tg), median(fg)
		b.Logf("layout %q (%s): downtime per round: tarsup %v, floor (docker stop, rename, run) %v", l.name, layoutDoc(l.name), ms(tg), ms(fg))
		b.Logf("layout %q: engine die -> start per round: tarsup %v, floor %v", l.name, ms(ts), ms(fs))
		b.Logf("layout %q: medians of %d: downtime tarsup %v, floor %v, tarsup/floor %.2f; die -> start tarsup %v, floor %v",
			l.name, len(tg), t.Round(time.Millisecond), f.Round(time.Millisecond), float64(t)/float64(f),
			median(ts).Round(time.Millisecond), median(fs).Round(time.Millisecond))
		for _, k := range []string{"tarsup", "floor"} {
			var a, bb, c []time.Duration
			for _, x := range parts[k] {
				a, bb, c = append(a, x[0]), append(bb, x[1]), append(c, x[2])
			}
			b.Logf("layout %q: %s: medians kill -> die %v, die -> stop (clean-up) %v, stop -> start of the new one %v",
				l.name, k, median(a).Round(time.Millisecond), median(bb).Round(time.Millisecond), median(c).Round(time.Millisecond))
		}
		clear(parts)
		prefix := ""
		if l.name != "tars" {
			prefix = l.name + "-"
		}
		b.ReportMetric(float64(t.Milliseconds()), prefix+"tarsup-downtime-ms")
		b.ReportMetric(float64(f.Milliseconds()), prefix+"floor-downtime-ms")
		b.ReportMetric(float64(t)/float64(f), prefix+"tarsup/floor")
		b.ReportMetric(float64(median(ts).Milliseconds()), prefix+"tarsup-die-to-start-ms")
		b.ReportMetric(float64(median(fs).Milliseconds()), prefix+"floor-die-to-start-ms")
	}
}

func layoutDoc(name string) string {
	switch name {
	case "tars":
		return "the framework shares its network with its database"
	case "ports":
		return "beside its database, 3000 and 9000-9010 published; the client asks the published web port"
	}
	return "the framework is the only container of its network"
}

// webAnswers is a client of a published web port: an HTTP request that
// the framework itself answers. Why not a connect: the engine's port
// proxy accepts a connection while the container behind it is down.
func webAnswers(addr string) func() bool {
	c := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	return func() bool {
		r, err := c.Get("http://" + addr + "/version")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
		return r.StatusCode == http.StatusOK
	}
}

// freePorts returns the first of n consecutive loopback TCP ports that are
// free now.
func freePorts(tb testing.TB, n int) int {
	tb.Helper()
	for base := 30000 + rand.IntN(20000); base < 60000; base += n {
		free := true
		for i := 0; i < n && free; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				free = false
				continue
			}
			_ = l.Close()
		}
		if free {
			return base
		}
	}
	tb.Fatalf("no %d free consecutive ports", n)
	return 0
}

// floorSwap is the manual upgrade: docker stop, docker rename, docker run
// of the same container with the new image, as the CLI's API calls.
func floorSwap(b *testing.B, ctx context.Context, name, netName, ip string) {
	b.Helper()
	cli := bed.Local.Client
	old := inspect(b, ctx, bed.Local, name)
	timeout := 10
	if err := cli.ContainerStop(ctx, name, container.StopOptions{Timeout: &timeout}); err != nil {
		b.Fatal(err)
	}
	if err := cli.ContainerRename(ctx, name, name+"-old"); err != nil {
		b.Fatal(err)
	}
	cfg := *old.Config
	cfg.Image = bed.Images.Framework3016
	created, err := cli.ContainerCreate(ctx, &cfg, old.HostConfig, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}}}}, nil, name)
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		b.Fatal(err)
	}
}

func ms(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond).String()
	}
	return out
}

// eventLog records an engine's container events of this run.
type eventLog struct {
	mu  sync.Mutex
	all []events.Message
}

func recordEvents(tb testing.TB, ctx context.Context, e *testbed.Engine) *eventLog {
	tb.Helper()
	l := &eventLog{}
	msgs, errs := e.Client.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", testbed.RunLabel+"="+bed.RunID))})
	go func() {
		for {
			select {
			case m := <-msgs:
				l.mu.Lock()
				l.all = append(l.all, m)
				l.mu.Unlock()
			case <-errs:
				return
			}
		}
	}()
	return l
}

// when returns the time of the first event action on container id,
// waiting a little for the stream to deliver it.
func (l *eventLog) when(tb testing.TB, id string, action events.Action) time.Time {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		l.mu.Lock()
		for _, m := range l.all {
			if m.Actor.ID == id && m.Action == action {
				l.mu.Unlock()
				return time.Unix(0, m.TimeNano)
			}
		}
		l.mu.Unlock()
	}
	tb.Fatalf("no %s event of %s", action, id)
	return time.Time{}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
