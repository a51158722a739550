//go:build e2e

package tests

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tests/testbed"
)

// gapWatcher dials addr every few milliseconds and remembers the longest gap
// between two successful connections: the downtime a client of the port sees.
type gapWatcher struct {
	addr string
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	last time.Time
	max  time.Duration
}

func watchGaps(addr string) *gapWatcher {
	w := &gapWatcher{addr: addr, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", w.addr, 200*time.Millisecond)
			now := time.Now()
			if err == nil {
				_ = c.Close()
				w.mu.Lock()
				if !w.last.IsZero() && now.Sub(w.last) > w.max {
					w.max = now.Sub(w.last)
				}
				w.last = now
				w.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return w
}

// Stop ends the watch once the port answers again and returns the longest gap.
func (w *gapWatcher) Stop(ctx context.Context) time.Duration {
	_ = testbed.WaitTCP(ctx, w.addr, time.Minute)
	time.Sleep(50 * time.Millisecond)
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

// BenchmarkFrameworkDowntime measures the downtime of one framework upgrade
// as a client of its registry port sees it (the longest gap between
// successful connections), next to the floor measured the same way on the
// same engine: docker stop, docker rename, docker run of the same container.
func BenchmarkFrameworkDowntime(b *testing.B) {
	ctx := b.Context()
	d := bed.On(ctx, b, bed.Local)
	p := uniq("downtime-")
	sub := bed.Local.Subnet(50)
	netName := d.Network(p+"net", sub)
	// Several rounds, alternating, reported as medians: one gap is one
	// sample of a noisy, shared two-core machine.
	const rounds = 3
	var tarsupGaps, floorGaps []time.Duration
	for i := 0; i < b.N*rounds; i++ {
		// tarsup: create first, then stop / rename / rename / start.
		name := p + "fw"
		ip := testbed.HostIP(sub, 3)
		d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015, Env: []string{"REBUILD=false"},
			Networks: []testbed.Attachment{{Network: netName, IPv4: ip}}, Restart: "always"})
		addr := net.JoinHostPort(ip, "17890")
		d.WaitTCP(addr)
		w := watchGaps(addr)
		r := testbed.Run(ctx, bed.Tarsup(b), "upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16",
			"--health-timeout", "30s", "--monitor", "1s", "--stop-timeout", "10s", "--lock-wait", "10m")
		tarsupGaps = append(tarsupGaps, w.Stop(ctx))
		if r.ExitCode != 0 {
			b.Fatalf("upgrade: %s", r)
		}

		// The floor: docker stop, docker rename, docker run of the same container.
		floorName := p + "floor"
		fip := testbed.HostIP(sub, 4)
		spec := testbed.ContainerSpec{Name: floorName, Image: bed.Images.Framework3015, Env: []string{"REBUILD=false"},
			Networks: []testbed.Attachment{{Network: netName, IPv4: fip}}, Restart: "always"}
		d.Run(spec)
		d.Pull(bed.Images.Framework3016)
		faddr := net.JoinHostPort(fip, "17890")
		d.WaitTCP(faddr)
		old := inspect(b, ctx, bed.Local, floorName)
		w = watchGaps(faddr)
		cli := bed.Local.Client
		timeout := 10
		if err := cli.ContainerStop(ctx, floorName, container.StopOptions{Timeout: &timeout}); err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerRename(ctx, floorName, floorName+"-old"); err != nil {
			b.Fatal(err)
		}
		cfg := *old.Config
		cfg.Image = bed.Images.Framework3016
		created, err := cli.ContainerCreate(ctx, &cfg, old.HostConfig, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: fip}}}}, nil, floorName)
		if err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		floorGaps = append(floorGaps, w.Stop(ctx))
		_ = cli.ContainerRemove(ctx, floorName+"-old", container.RemoveOptions{Force: true})
		_ = cli.ContainerRemove(ctx, floorName, container.RemoveOptions{Force: true})
		_ = cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
	}
	tarsupGap, floorGap := median(tarsupGaps), median(floorGaps)
	b.Logf("downtime per round: tarsup %v, floor (docker stop, rename, run) %v", tarsupGaps, floorGaps)
	b.ReportMetric(float64(tarsupGap.Milliseconds()), "tarsup-downtime-ms")
	b.ReportMetric(float64(floorGap.Milliseconds()), "floor-downtime-ms")
	b.ReportMetric(float64(tarsupGap)/float64(floorGap), "tarsup/floor")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
