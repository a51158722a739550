//go:build e2e

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/tests/testbed"
)

// BenchmarkFleetUpgrade prints the wall time of upgrading 24 node containers
// spread over three engines (8 each: the local one and two TLS engines) at
// --parallel 1, 4 and 8, next to 24 × the time of upgrading one node, measured
// in the same run with the same gate: one solo node per engine, upgraded
// alone before each fleet run, averaged. Each time is one whole `tarsup upgrade` (connect, observe,
// pull, recreate, gate), as an operator waits for it. The nodes' floating tag
// moves before each run. Goals: at --parallel 4, within 1.3 × (24/4 ×
// one-node time), reported as p4/goal-base (issue 4); at --parallel 8,
// within 1.2 × (24/8 × one-node time), reported as p8/ideal (issue 13).
// Every run writes its trace (TARSUP_TRACE); the bench prints where the
// time of the --parallel 8 run went next to the solo runs': its stages, the
// parts of a step, and the engine calls of a step.
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

	// FLEET_BENCH_TRACES keeps the runs' traces in that directory.
	traces := os.Getenv("FLEET_BENCH_TRACES")
	if traces == "" {
		traces = b.TempDir()
	}
	// upgrade runs one upgrade of the given nodes, traced into the file
	// named, and returns its wall time.
	upgrade := func(parallel int, nodes []flNode, trace string) time.Duration {
		b.Helper()
		b.Setenv("TARSUP_TRACE", filepath.Join(traces, trace))
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
		d := upgrade(1, solos[i:i+1], fmt.Sprintf("solo%d.json", i))
		one += d
		each = append(each, fmt.Sprintf("%s %.1fs", f.engineName(solos[i].Engine), d.Seconds()))
		push(tag, fmt.Sprintf("v3.0.%d", 16+i))
		times[p] = upgrade(p, fleet, fmt.Sprintf("p%d.json", p))
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
	ideal8 := float64(total) / 8 * one.Seconds()
	b.Logf("  goal at --parallel 8: within 1.2 × %d/8 × one node = %.1fs; got %.2f ×", total, 1.2*ideal8, times[8].Seconds()/ideal8)
	var solo []engine.TraceReport
	for i := range solos {
		solo = append(solo, readTrace(b, filepath.Join(traces, fmt.Sprintf("solo%d.json", i))))
	}
	logBreakdown(b, solo, readTrace(b, filepath.Join(traces, "p8.json")))

	b.ReportMetric(one.Seconds(), "s/one-node")
	b.ReportMetric(serial.Seconds(), "s/24x-one-node")
	b.ReportMetric(times[1].Seconds(), "s/parallel-1")
	b.ReportMetric(times[4].Seconds(), "s/parallel-4")
	b.ReportMetric(times[8].Seconds(), "s/parallel-8")
	b.ReportMetric(times[4].Seconds()/base4.Seconds(), "p4/goal-base")
	b.ReportMetric(times[8].Seconds()/ideal8, "p8/ideal")
}

// readTrace reads the trace a tarsup run wrote (TARSUP_TRACE).
func readTrace(b *testing.B, path string) engine.TraceReport {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var r engine.TraceReport
	if err := json.Unmarshal(data, &r); err != nil {
		b.Fatalf("trace %s: %v", path, err)
	}
	return r
}

// logBreakdown prints where the time of the --parallel 8 run went, beside
// the solo runs' (their mean): the stages of the run, the parts of a step
// (mean and longest), and the engine calls of a step by method. Why to
// stdout: the testing package keeps only the first ten lines a benchmark
// logs.
func logBreakdown(b *testing.B, solo []engine.TraceReport, p8 engine.TraceReport) {
	b.Helper()
	logf := func(format string, a ...any) { fmt.Printf(format+"\n", a...) }
	logf("(the plan alternates nodes between engines; each time includes any wait for another tarsup's lock on the shared local engine)")
	n := float64(len(solo))
	soloSum := func(get func(engine.TraceReport) []engine.Sum, name string) (s engine.Sum) {
		for _, r := range solo {
			x := find(get(r), name)
			s.N += x.N / n
			s.Total += x.Total / n
			s.Mean += x.Mean / n
			s.Max = max(s.Max, x.Max)
		}
		return s
	}
	logf("where the time went, --parallel 8 (wall %.1fs, at most %d steps at once, per engine %v) beside a solo run (mean of %d):",
		p8.Wall, p8.MaxSteps, p8.MaxStepsPerHost, len(solo))
	stages := func(r engine.TraceReport) []engine.Sum {
		var out []engine.Sum
		for _, s := range r.Stages {
			out = append(out, engine.Sum{Name: s.Name, N: 1, Total: s.Took, Mean: s.Took, Max: s.Took})
		}
		return out
	}
	logf("  %-26s %8s %8s", "stage", "p8", "solo")
	for _, s := range stages(p8) {
		logf("  %-26s %7.2fs %7.2fs", s.Name, s.Total, soloSum(stages, s.Name).Total)
	}
	parts := func(r engine.TraceReport) []engine.Sum { return r.Parts }
	logf("  %-26s %8s %8s %8s", "part of a step", "p8 mean", "p8 max", "solo")
	for _, name := range []string{"queued", engine.PartCreate, engine.PartStopStart, engine.PartGate, "step"} {
		x := find(p8.Parts, name)
		logf("  %-26s %7.2fs %7.2fs %7.2fs", name, x.Mean, x.Max, soloSum(parts, name).Mean)
	}
	perStep := func(r engine.TraceReport) []engine.Sum { return r.PerStep }
	logf("  %-26s %8s %8s %8s %8s %8s", "engine calls of a step", "p8 n", "p8 each", "p8 total", "solo n", "solo each")
	for _, x := range p8.PerStep {
		s := soloSum(perStep, x.Name)
		logf("  %-26s %8.1f %7.3fs %7.2fs %8.1f %7.3fs", x.Name, x.N, x.Mean, x.Total, s.N, s.Mean)
	}
	logf("  %-26s %8s %8s", "engine time by stage", "p8", "solo")
	scopes := func(r engine.TraceReport) []engine.Sum { return r.Scopes }
	for _, x := range p8.Scopes {
		logf("  %-26s %7.2fs %7.2fs  (%d calls)", x.Name, x.Total, soloSum(scopes, x.Name).Total, int(x.N))
	}
}

// find is the sum of that name, or a zero one.
func find(sums []engine.Sum, name string) engine.Sum {
	for _, s := range sums {
		if s.Name == name {
			return s
		}
	}
	return engine.Sum{Name: name}
}
