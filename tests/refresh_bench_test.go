//go:build e2e

package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/tests/testbed"
)

// BenchmarkRefreshNothingMoved times `tarsup refresh` checking 50 Tars
// containers (a framework and 49 nodes) that run 10 distinct tags, none of
// which moved, and counts the registry requests it makes. Goal: under 1 s,
// one manifest HEAD per distinct tag. It reports; it asserts only what a
// refresh must do (nothing moved, HEADs only), never the time.
//
// ns/op is a whole `tarsup refresh` process: start, connecting to the
// engine (TLS on loopback), observing, the look-ups, the report.
// refresh-s/op is the time the refresh itself reports (observe and look up).
func BenchmarkRefreshNothingMoved(b *testing.B) {
	ctx := b.Context()
	e, conn := rfEngine(b, ctx)
	d := bed.On(ctx, b, e)
	const nodes, nodeTags = 49, 9
	var tags []string
	for i := range nodeTags {
		tags = append(tags, fmt.Sprintf("bench-%d", i))
	}
	refs := rfNodeRepo(b, ctx, "e2e-bench", "v3.0.15", tags...)
	p := uniq("bench-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(64), NoWait: true})
	names := []string{dep.Framework.Name}
	for i := range nodes {
		n := d.Run(testbed.ContainerSpec{
			Name: fmt.Sprintf("%snode%02d", p, i), Image: refs[i%nodeTags],
			Env:      []string{"WEB_HOST=" + dep.WebHost},
			Networks: []testbed.Attachment{{Network: dep.Network}},
			Restart:  "always",
		})
		names = append(names, n.Name)
	}
	args := append(append([]string{"refresh", "--lock", filepath.Join(b.TempDir(), "tarsup.lock")}, conn...), rfOnly(names...)...)

	// What is timed must be the nothing-moved case, and the cron contract.
	rfQuiet(b, rfRun(b, ctx, args...), fmt.Sprintf("refresh: %d containers checked, %d tags, nothing moved\n", len(names), nodeTags+1))

	args = append(args, "--format", "json")
	var requests, heads, others int
	var inRefresh float64
	b.ResetTimer()
	for range b.N {
		bed.Registry.ResetRequests()
		r := rfRun(b, ctx, args...)
		b.StopTimer()
		var rep struct {
			Seconds float64 `json:"seconds"`
			Checked int     `json:"checked"`
			Tags    int     `json:"tags"`
			Changed bool    `json:"changed"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &rep); r.ExitCode != 0 || err != nil || rep.Checked != len(names) || rep.Changed {
			b.Fatalf("refresh: %v\n%s", err, r)
		}
		inRefresh += rep.Seconds
		for _, q := range bed.Registry.Requests() {
			requests++
			switch {
			case q.Method == http.MethodHead && strings.Contains(q.Path, "/manifests/"):
				heads++
			case q.Method == http.MethodGet && q.Path == "/v2/":
			default:
				others++
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(inRefresh/n, "refresh-s/op")
	b.ReportMetric(float64(len(names)), "containers")
	b.ReportMetric(float64(nodeTags+1), "tags")
	b.ReportMetric(float64(requests)/n, "registry-requests/op")
	b.ReportMetric(float64(heads)/n, "manifest-HEADs/op")
	if others > 0 {
		b.Errorf("%d registry requests other than manifest HEADs and pings: nothing moved, so nothing may be pulled", others)
	}
}
