package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/images"
)

// TestWindowPolicy: with a maintenance window, each recreate step carries
// the latest time it may start, and the dry run says it: the framework
// steps and the node re-check as one chain (the master starts only if the
// slaves and the re-check fit after it), each node on its own, a stopped
// container's swap up to the close itself; without a window, none.
func TestWindowPolicy(t *testing.T) {
	closes := time.Date(2026, 1, 3, 5, 0, 0, 0, time.FixedZone("CST", 8*3600))
	master := fx{name: "fw", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true, env: []string{"MYSQL_HOST=db"}}
	slave := fx{name: "fw2", image: "tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true, env: []string{"MYSQL_HOST=db", "SLAVE=true"}}
	n1 := fx{name: "n1", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	n2 := fx{name: "n2", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}
	n3 := fx{name: "n3", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: false}
	s := state("h1", master, slave, n1, n2, n3)
	resolved := map[string]Resolved{
		"h1 tarscloud/framework:v3.0.16": pulled("sha256:f2", "tarscloud/framework:v3.0.16", fwNew, ""),
		"h1 tarscloud/tars-node:latest":  pulled("sha256:n2", "tarscloud/tars-node:latest", nodeNew, ""),
	}
	build := func(t *testing.T, pol Policy, req Request, before Preflight) Plan {
		t.Helper()
		cands, err := Select([]HostState{s}, req)
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(cands, resolved, []HostState{s}, pol, before)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// stop 30 s + gate 5 min 10 s = 5 min 40 s a step.
	pol := Policy{Parallel: 2, StopTimeout: 30 * time.Second, GateTime: 5*time.Minute + 10*time.Second, Closes: closes}

	t.Run("framework chain and nodes", func(t *testing.T) {
		p := build(t, pol, Request{To: "v3.0.16"}, nil)
		want := []string{
			"fw: ...; starts only until 2026-01-03T04:48:40+08:00 (maintenance window)",  // 5:00 - 2 × 5m40s
			"fw2: ...; starts only until 2026-01-03T04:54:20+08:00 (maintenance window)", // 5:00 - 5m40s
			"n1: ...; starts only until 2026-01-03T04:54:20+08:00 (maintenance window)",
			"n2: ...; starts only until 2026-01-03T04:54:20+08:00 (maintenance window)",
			"n3: ...; starts only until 2026-01-03T05:00:00+08:00 (maintenance window)", // stopped: no stop, no gate
		}
		if got := windowLines(p); got != strings.Join(want, "\n") {
			t.Errorf("steps:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
	})
	t.Run("the re-check counts in the framework chain", func(t *testing.T) {
		// n1 and n2 answered before and are not recreated: re-checked, 2 at
		// a time: one round of 30 s wait + 30 s stop + 5m10s gate = 6m10s.
		before := Preflight{"c0ffeen100000000000000": {State: HealthHealthy}, "c0ffeen200000000000000": {State: HealthHealthy}}
		p := build(t, pol, Request{To: "v3.0.16", Only: []string{"fw", "fw2"}}, before)
		want := []string{
			"fw: ...; starts only until 2026-01-03T04:42:30+08:00 (maintenance window)",  // 5:00 - 6m10s - 2 × 5m40s
			"fw2: ...; starts only until 2026-01-03T04:48:10+08:00 (maintenance window)", // 5:00 - 6m10s - 5m40s
		}
		if got := windowLines(p); got != strings.Join(want, "\n") {
			t.Errorf("steps:\n%s\nwant:\n%s\nplan:\n%s", got, strings.Join(want, "\n"), p)
		}
		for _, ph := range p.Phases {
			for _, st := range ph.Steps {
				if st.Kind == StepRecheck && !st.NotAfter.IsZero() {
					t.Errorf("the re-check of %s has a limit of its own (%s): it is the tail of the framework step", st.Container.Name, st.NotAfter)
				}
			}
		}
	})
	t.Run("a container's own stop timeout counts", func(t *testing.T) {
		stopper := state("h1", fx{name: "slow", image: "tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true})
		ten := 600
		stopper.Containers[0].Inspect.Config.StopTimeout = &ten
		cands, err := Select([]HostState{stopper}, Request{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := BuildPlan(cands, resolved, []HostState{stopper}, pol, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := windowLines(p), "slow: ...; starts only until 2026-01-03T04:44:50+08:00 (maintenance window)"; got != want {
			t.Errorf("got %q, want %q (5:00 - 600 s - 5m10s)", got, want)
		}
	})
	t.Run("no window, no limit", func(t *testing.T) {
		nowin := pol
		nowin.Closes = time.Time{}
		p := build(t, nowin, Request{To: "v3.0.16"}, nil)
		if strings.Contains(p.String(), "maintenance window") {
			t.Errorf("a plan without a window mentions one:\n%s", p)
		}
		for _, st := range p.Steps() {
			if !st.NotAfter.IsZero() {
				t.Errorf("%s has NotAfter %s without a window", st.Container.Name, st.NotAfter)
			}
		}
	})
}

// windowLines is each recreate step's name and what its line says of the
// window.
func windowLines(p Plan) string {
	var out []string
	for _, st := range p.Steps() {
		l := st.Line(false)
		i := strings.Index(l, "; starts only until")
		if i < 0 {
			out = append(out, st.Container.Name+": no limit")
			continue
		}
		out = append(out, st.Container.Name+": ..."+l[i:])
	}
	return strings.Join(out, "\n")
}

func TestWindowSummary(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	next := time.Date(2026, 1, 3, 2, 0, 0, 0, sh)
	closes := time.Date(2026, 1, 2, 5, 0, 0, 0, sh)
	moved := []Moved{{Host: "h1", Name: "n1"}}
	for _, tc := range []struct {
		name    string
		check   RefreshCheck
		want    string
		waiting string
	}{
		{"no window", RefreshCheck{Checked: 2, Tags: 1, Moved: moved}, "refresh: 2 containers checked, 1 tag, 1 moved", ""},
		{"outside, nothing moved", RefreshCheck{Checked: 2, Tags: 1, Window: &WindowState{NextOpen: next, Zone: "Asia/Shanghai"}},
			"refresh: 2 containers checked, 1 tag, nothing moved; outside the maintenance window, nothing started: the next opens 2026-01-03T02:00:00+08:00 (Asia/Shanghai)", ""},
		{"outside, moved", RefreshCheck{Checked: 2, Tags: 1, Moved: moved, Window: &WindowState{NextOpen: next, Zone: "Asia/Shanghai", Waiting: []string{"n1"}}},
			"refresh: 2 containers checked, 1 tag, 1 moved; outside the maintenance window, nothing started: the next opens 2026-01-03T02:00:00+08:00 (Asia/Shanghai)", ""},
		{"inside, all fitted", RefreshCheck{Checked: 2, Tags: 1, Moved: moved, Window: &WindowState{Open: true, Closes: closes, NextOpen: next, Zone: "Asia/Shanghai"}},
			"refresh: 2 containers checked, 1 tag, 1 moved", ""},
		{"inside, closing too soon", RefreshCheck{Checked: 2, Tags: 1, Moved: moved, Window: &WindowState{Open: true, Closes: closes, NextOpen: next, Zone: "Asia/Shanghai", Waiting: []string{"n1"}}},
			"refresh: 2 containers checked, 1 tag, 1 moved; 1 step waits for the next window (the window closes 2026-01-02T05:00:00+08:00; the next opens 2026-01-03T02:00:00+08:00 (Asia/Shanghai))",
			"the maintenance window closes 2026-01-02T05:00:00+08:00, too soon to start n1: it waits for the next window; the next opens 2026-01-03T02:00:00+08:00 (Asia/Shanghai)"},
		{"outside, forced", RefreshCheck{Checked: 2, Tags: 1, Moved: moved, Window: &WindowState{Forced: true, NextOpen: next, Zone: "Asia/Shanghai"}},
			"refresh: 2 containers checked, 1 tag, 1 moved", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.check.Summary(); got != tc.want {
				t.Errorf("summary\n%q, want\n%q", got, tc.want)
			}
			if got := tc.check.Window.WaitingLine(); got != tc.waiting {
				t.Errorf("waiting line\n%q, want\n%q", got, tc.waiting)
			}
		})
	}
}

// TestApplyMinAge: an image younger than --min-age, or of unknown age, is
// not taken and says from when it will be; an old enough one is; a newer
// framework tag too young anywhere holds back every framework and web
// container.
func TestApplyMinAge(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	scope := []Container{}
	for _, f := range []fx{
		{name: "fw", image: "reg/tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true},
		{name: "web", image: "reg/tarscloud/tars-web:v3.0.15", imageID: "sha256:w1", digest: fwOld, running: true},
		{name: "young", image: "reg/tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true},
		{name: "old", image: "reg/tarscloud/tars-node:stable", imageID: "sha256:n1", digest: nodeOld, running: true},
		{name: "nodate", image: "reg/tarscloud/tars-node:edge", imageID: "sha256:n1", digest: nodeOld, running: true},
		{name: "epoch", image: "reg/tarscloud/tars-node:repro", imageID: "sha256:n1", digest: nodeOld, running: true},
		{name: "failed", image: "reg/tarscloud/tars-node:gone", imageID: "sha256:n1", digest: nodeOld, running: true},
	} {
		in, img := f.inspect()
		scope = append(scope, FromInspect("h1", in, img))
	}
	var moved []Moved
	for _, c := range scope[2:] {
		moved = append(moved, Moved{Host: "h1", Name: c.Name, Role: "node", Image: c.Image, From: nodeOld, To: nodeNew})
	}
	created := map[string]images.CreatedResult{
		"reg/tarscloud/tars-node:latest":     {Created: now.Add(-time.Hour)},
		"reg/tarscloud/tars-node:stable":     {Created: now.Add(-48 * time.Hour)},
		"reg/tarscloud/tars-node:edge":       {},
		"reg/tarscloud/tars-node:repro":      {Created: time.Unix(0, 0)},
		"reg/tarscloud/tars-node:gone":       {Err: errFake("manifest unknown")},
		"reg/tarscloud/framework:v3.0.16":    {Created: now.Add(-2 * time.Hour)},
		"reg/tarscloud/framework:v3.0.15-xx": {Created: now.Add(-100 * time.Hour)},
	}
	check := RefreshCheck{Checked: 7, Tags: 7, Moved: moved, NewerTag: "v3.0.16", NewerFrom: "v3.0.15"}

	qs := AgeQueries(check, scope)
	var keys []string
	for _, q := range qs {
		keys = append(keys, q.Ref.Key()+"@"+Abbrev(q.Digest))
	}
	if got, want := strings.Join(keys, " "), "reg/tarscloud/tars-node:latest@sha256:dddd… reg/tarscloud/tars-node:stable@sha256:dddd… reg/tarscloud/tars-node:edge@sha256:dddd… "+
		"reg/tarscloud/tars-node:repro@sha256:dddd… reg/tarscloud/tars-node:gone@sha256:dddd… reg/tarscloud/framework:v3.0.16@unknown"; got != want {
		t.Errorf("queries\n%s, want\n%s", got, want)
	}

	got := ApplyMinAge(check, scope, created, 24*time.Hour, now)
	var names []string
	for _, m := range got.Moved {
		names = append(names, m.Name)
	}
	if strings.Join(names, " ") != "old" {
		t.Errorf("taken %v, want only old (created two days ago)", names)
	}
	if got.NewerTag != "" {
		t.Errorf("newer tag %q taken: it is 2 h old, --min-age 24h", got.NewerTag)
	}
	var lines []string
	for _, c := range got.Cooling {
		lines = append(lines, c.Line(false))
	}
	want := []string{
		"young: latest moved sha256:cccc… -> sha256:dddd…: created 2026-01-02T11:00:00Z: too new for --min-age 24h0m0s, taken from 2026-01-03T11:00:00Z",
		"nodate: edge moved sha256:cccc… -> sha256:dddd…: its creation time is unknown (the image config gives none): counted as too new for --min-age 24h0m0s",
		"epoch: repro moved sha256:cccc… -> sha256:dddd…: its creation time is unknown (the image config gives none): counted as too new for --min-age 24h0m0s",
		"failed: gone moved sha256:cccc… -> sha256:dddd…: its creation time is unknown (manifest unknown): counted as too new for --min-age 24h0m0s",
		"fw: newer framework tag v3.0.16: created 2026-01-02T10:00:00Z: too new for --min-age 24h0m0s, taken from 2026-01-03T10:00:00Z",
		"web: newer framework tag v3.0.16: created 2026-01-02T10:00:00Z: too new for --min-age 24h0m0s, taken from 2026-01-03T10:00:00Z",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("cooling:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if s, w := got.Summary(), "refresh: 7 containers checked, 7 tags, 1 moved, 6 moved but too new for --min-age 24h0m0s (the first taken from 2026-01-03T10:00:00Z)"; s != w {
		t.Errorf("summary\n%q, want\n%q", s, w)
	}
	if c := got.Cooling[0]; !c.Until.Equal(now.Add(23*time.Hour)) || !c.Created.Equal(now.Add(-time.Hour)) {
		t.Errorf("young: created %s until %s, want created + 24h", c.Created, c.Until)
	}

	if zero := ApplyMinAge(check, scope, nil, 0, now); len(zero.Moved) != len(moved) || zero.NewerTag != "v3.0.16" || len(zero.Cooling) != 0 {
		t.Errorf("--min-age 0 held something back: %+v", zero)
	}
	old := ApplyMinAge(check, scope, created, time.Hour, now)
	if old.NewerTag != "v3.0.16" || len(old.Moved) != 2 {
		t.Errorf("--min-age 1h: moved %d, newer %q; want young and old taken (1 h and 2 days old), and v3.0.16 (2 h old)", len(old.Moved), old.NewerTag)
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

// TestWindowChecksCount: the checks after a phase (the node re-check, the
// registration checks) count in its steps' limits: the framework chain
// leaves room for the re-check and the registration check after it; each
// node for the registration check after the nodes, which the framework
// need not leave room for; the cleanup counts for nothing.
func TestWindowChecksCount(t *testing.T) {
	closes := time.Date(2026, 1, 3, 5, 0, 0, 0, time.UTC)
	pol := Policy{GateTime: 50 * time.Second, Closes: closes}
	rec := func(name string, stop int) Step {
		return Step{Kind: StepRecreate, Container: Container{Name: name}, StopTimeout: stop}
	}
	check := func(kind string, stop int) Step {
		return Step{Kind: kind, Container: Container{Name: "n"}, StopTimeout: stop, Reg: RegCheck{Timeout: 2 * time.Minute}}
	}
	p := Plan{Phases: []Phase{
		{Name: "framework master", Steps: []Step{rec("fw", 10)}, Parallel: 1, StopOnFailure: true}, // 1m
		{Name: "framework hosts", Steps: []Step{rec("fw2", 10)}, Parallel: 1, StopOnFailure: true}, // 1m
		// 30 s + 10 s + 50 s = 1m30s a round, two rounds of 2: 3m
		{Name: "node re-check", Steps: []Step{check(StepRecheck, 10), check(StepRecheck, 10), check(StepRecheck, 10)}, Parallel: 2, StopOnFailure: true, Checks: true},
		// 2 × 2m + 10 s, all at once: 4m10s
		{Name: PhaseRegAfterFramework, Steps: []Step{check(StepReregister, 10), check(StepReregister, 10)}, Parallel: 2, StopOnFailure: true, Checks: true},
		{Name: PhaseNodes, Steps: []Step{rec("n1", 10), rec("n2", 70)}, Parallel: 2},                                         // 1m, 2m
		{Name: PhaseRegAfterNodes, Steps: []Step{check(StepReregister, 20)}, Parallel: 1, StopOnFailure: true, Checks: true}, // 4m20s
		{Name: PhaseCleanup, Steps: []Step{{Kind: StepCleanupImage}}, Parallel: 1, Always: true},
	}}
	pol.applyWindow(&p)
	var got []string
	for _, ph := range p.Phases {
		for _, st := range ph.Steps {
			if !st.NotAfter.IsZero() {
				got = append(got, st.Container.Name+" "+st.NotAfter.Format("15:04:05"))
			}
		}
	}
	want := []string{
		"fw 04:50:50",  // 5:00 - 4m10s - 3m - 1m - 1m
		"fw2 04:51:50", // 5:00 - 4m10s - 3m - 1m
		"n1 04:54:40",  // 5:00 - 4m20s - 1m
		"n2 04:53:40",  // 5:00 - 4m20s - 2m
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("limits %v, want %v (checks and cleanup carry none)", got, want)
	}
}

// TestMinAgePerPlatform: one tag, two platforms, two images of two ages
// (a multi-platform index whose arm64 image was rebuilt an hour ago): the
// node on arm64 is judged by the arm64 image and waits, the one on amd64
// by the amd64 image and is taken; each platform is looked up once.
func TestMinAgePerPlatform(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	var scope []Container
	var moved []Moved
	for _, n := range []struct{ name, host, arch string }{{"amd", "h1", "amd64"}, {"arm", "h2", "arm64"}, {"arm2", "h3", "arm64"}} {
		in, img := fx{name: n.name, image: "reg/tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true}.inspect()
		img.Os, img.Architecture = "linux", n.arch
		c := FromInspect(n.host, in, img)
		scope = append(scope, c)
		moved = append(moved, Moved{Host: n.host, Name: c.Name, Role: "node", Image: c.Image, From: nodeOld, To: nodeNew})
	}
	check := RefreshCheck{Checked: 3, Tags: 1, Moved: moved}
	var keys []string
	for _, q := range AgeQueries(check, scope) {
		keys = append(keys, q.Key())
	}
	if got, want := strings.Join(keys, ", "), "reg/tarscloud/tars-node:latest linux/amd64, reg/tarscloud/tars-node:latest linux/arm64"; got != want {
		t.Errorf("queries %s, want %s", got, want)
	}
	created := map[string]images.CreatedResult{
		"reg/tarscloud/tars-node:latest linux/amd64": {Created: now.Add(-48 * time.Hour)},
		"reg/tarscloud/tars-node:latest linux/arm64": {Created: now.Add(-time.Hour)},
	}
	got := ApplyMinAge(check, scope, created, 24*time.Hour, now)
	if len(got.Moved) != 1 || got.Moved[0].Name != "amd" {
		t.Errorf("taken %+v, want only amd (its image is two days old)", got.Moved)
	}
	if len(got.Cooling) != 2 || got.Cooling[0].Name != "arm" || !got.Cooling[0].Created.Equal(now.Add(-time.Hour)) {
		t.Errorf("cooling %+v, want arm and arm2 (their image is an hour old)", got.Cooling)
	}
}
