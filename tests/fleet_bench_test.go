//go:build e2e

package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// BenchmarkFleetUpgrade prints the wall time of upgrading 24 node containers
// spread over three engines (8 each: the local one and two TLS engines) at
// --parallel 1, 4 and 8, next to 24 × the time of upgrading one node, measured
// in the same run with the same gate: one solo node per engine, upgraded
// alone before each fleet run, averaged. Each time is one whole `tarsup upgrade` (connect, observe,
// pull, recreate, gate), as an operator waits for it. The nodes' floating tag
// moves before each run. Goal (issue 4): at --parallel 4, within
// 1.3 × (24/4 × one-node time); the ratio is reported as p4/goal-base.
func BenchmarkFleetUpgrade(b *testing.B) {
	ctx := b.Context()
	// --allow-ip-change: east's nodes run on its default bridge.
	gate := []string{"--health-timeout", "30s", "--monitor", "2s", "--stop-timeout", "5s", "--allow-ip-change"}
	const perEngine = 8
	tag, soloTag := "fbench-"+bed.RunID, "fbench-solo-"+bed.RunID
	push := func(tag, version string) string {
		ref, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: tag, Role: testbed.RoleNode, Version: version})
		if err != nil {
			b.Fatal(err)
		}
		return ref
	}

	f := flDeploy(b, ctx, uniq("fbench-"), 104, [3]int{perEngine, perEngine, perEngine}, push(tag, "v3.0.15"))
	fleet := slices.Clone(f.Nodes)
	soloRef := push(soloTag, "v3.0.15")
	var solos []flNode
	for _, e := range f.engines() {
		solos = append(solos, f.AddNode(b, e, f.engineName(e)+"-solo", soloRef))
	}

	// upgrade runs one upgrade of the given nodes and returns its wall time.
	upgrade := func(parallel int, nodes []flNode) time.Duration {
		b.Helper()
		args := append(append([]string{"upgrade", "--parallel", fmt.Sprint(parallel)}, f.Args...), gate...)
		for _, n := range nodes {
			args = append(args, "--only", n.Name)
		}
		r, took := f.timed(b, ctx, args...)
		if r.ExitCode != 0 {
			b.Fatalf("upgrade of %d nodes at --parallel %d: %s", len(nodes), parallel, r)
		}
		if got := strings.Count(r.Stdout, ": upgraded\n"); got != len(nodes) {
			b.Fatalf("upgrade of %d nodes at --parallel %d upgraded %d:\n%s", len(nodes), parallel, got, r.Stdout)
		}
		return took
	}

	b.ResetTimer()
	// Why one solo node before each fleet run, on each engine in turn: the
	// baseline is then measured under the same conditions as the fleet runs
	// it is compared with (the machine is shared).
	push(soloTag, "v3.0.16")
	var one time.Duration
	var each []string
	total := len(fleet)
	times := map[int]time.Duration{}
	for i, p := range []int{1, 4, 8} {
		d := upgrade(1, solos[i:i+1])
		one += d
		each = append(each, fmt.Sprintf("%s %.1fs", f.engineName(solos[i].Engine), d.Seconds()))
		push(tag, fmt.Sprintf("v3.0.%d", 16+i))
		times[p] = upgrade(p, fleet)
	}
	one /= time.Duration(len(solos))
	b.StopTimer()

	serial := time.Duration(total) * one
	base4 := time.Duration(total/4) * one
	b.Logf("fleet upgrade of %d nodes over 3 engines (%d each), gate %s", total, perEngine, strings.Join(gate, " "))
	b.Logf("  one node:            %6.1fs  (mean of %s)", one.Seconds(), strings.Join(each, ", "))
	b.Logf("  %d × one node:       %6.1fs", total, serial.Seconds())
	for _, p := range []int{1, 4, 8} {
		b.Logf("  --parallel %d:        %6.1fs  (%.2f × %d × one node, %.2f × %d/%d × one node)", p, times[p].Seconds(),
			times[p].Seconds()/serial.Seconds(), total, times[p].Seconds()/(float64(total)/float64(p)*one.Seconds()), total, p)
	}
	b.Logf("  goal at --parallel 4: within 1.3 × %d/4 × one node = %.1fs; got %.2f ×", total, 1.3*base4.Seconds(), times[4].Seconds()/base4.Seconds())
	b.Logf("  (the plan alternates nodes between engines; each time includes any wait for another tarsup's lock on the shared local engine)")

	b.ReportMetric(one.Seconds(), "s/one-node")
	b.ReportMetric(serial.Seconds(), "s/24x-one-node")
	b.ReportMetric(times[1].Seconds(), "s/parallel-1")
	b.ReportMetric(times[4].Seconds(), "s/parallel-4")
	b.ReportMetric(times[8].Seconds(), "s/parallel-8")
	b.ReportMetric(times[4].Seconds()/base4.Seconds(), "p4/goal-base")
}
