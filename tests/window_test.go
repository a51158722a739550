//go:build e2e

package tests

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The maintenance window (--window) and image cooldown (--min-age) tests
// run on the machine's engine (subnets 170-174) and limit every run to
// their own containers with --only. Their windows are built from the
// clock when the test runs ("daily HH:MM-HH:MM" around now), never from
// a particular hour, and a window that crosses midnight is as good as
// another: the spec says so.

// wnGate keeps the gates short; --lock-wait: other runs may hold the
// engine's lock for a moment.
var wnGate = []string{"--health-timeout", "30s", "--monitor", "3s", "--stop-timeout", "5s", "--lock-wait", "5m"}

// wnMinute is t in loc, to the minute (a window's bounds are minutes).
func wnMinute(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc)
}

// wnSpan is "HH:MM-HH:MM" from two instants, in loc.
func wnSpan(from, to time.Time, loc *time.Location) string {
	return from.In(loc).Format("15:04") + "-" + to.In(loc).Format("15:04")
}

// wnZone is how tarsup names a window's zone: its IANA name, or for the
// local zone the abbreviation it has at t.
func wnZone(t time.Time) string {
	if n := t.Location().String(); n != "Local" {
		return n
	}
	abbr, _ := t.Zone()
	return abbr
}

// wnReport is what the window and cooldown tests read of a refresh report.
type wnReport struct {
	Success  bool   `json:"success"`
	Changed  bool   `json:"changed"`
	Summary  string `json:"summary"`
	Upgraded int    `json:"upgraded"`
	Moved    []struct {
		Name string `json:"name"`
	} `json:"moved"`
	Cooling []struct {
		Name    string    `json:"name"`
		Created time.Time `json:"created"`
		Until   time.Time `json:"until"`
		Reason  string    `json:"reason"`
	} `json:"cooling"`
	Window *struct {
		Open     bool     `json:"open"`
		Closes   string   `json:"closes"`
		NextOpen string   `json:"next_open"`
		Zone     string   `json:"zone"`
		Forced   bool     `json:"forced"`
		Waiting  []string `json:"waiting"`
		Windows  []string `json:"windows"`
	} `json:"window"`
	Upgrade *struct {
		Results []struct {
			Container string `json:"container"`
			Result    string `json:"result"`
			NotAfter  string `json:"not_after"`
		} `json:"results"`
	} `json:"upgrade"`
}

func wnDecode(t *testing.T, out string) wnReport {
	t.Helper()
	var rep wnReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("refresh --format json: %v\n%s", err, out)
	}
	return rep
}

// wnLab is a Tars deployment on the machine's engine whose node follows a
// tag of the test's own repository, and the refresh command line for it.
type wnLab struct {
	dep     *testbed.TarsDeployment
	d       *testbed.Deployer
	repo    string // registry/mirror/tarscloud/tars-node, without a tag
	mirror  string
	subnet  string
	node    string
	fw      string
	refresh []string
	e       *testbed.Engine // the lab's engine
	conn    []string        // tarsup's flags that reach it
}

func wnSetup(t *testing.T, k int, name string) *wnLab {
	t.Helper()
	return wnSetupOn(t, bed.Local, []string{"--host", bed.Local.Host, "--probe", "direct"}, k, name)
}

// wnWatchEngineSlot is TestWindowWatch's extra engine.
const wnWatchEngineSlot = 4

// wnSetupOn is wnSetup on engine e, which tarsup reaches with conn.
func wnSetupOn(t *testing.T, e *testbed.Engine, conn []string, k int, name string) *wnLab {
	t.Helper()
	ctx := t.Context()
	// Why a new repository each time: the engine keeps the tags it pulled,
	// and a second run in one process (-count=2) would find them moved.
	mirror := "e2e-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ref := rfNodeRepo(t, ctx, mirror, "v3.0.15", "latest")[0]
	p := uniq(name + "-")
	subnet := e.Subnet(k)
	d := bed.On(ctx, t, e)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: subnet, Nodes: 1, NodeImage: ref})
	lab := &wnLab{dep: dep, d: d, repo: strings.TrimSuffix(ref, ":latest"), mirror: mirror, subnet: subnet, node: dep.Nodes[0].Name, fw: dep.Framework.Name, e: e, conn: conn}
	lab.refresh = append(append(append(append([]string{"refresh"}, conn...), "--lock", filepath.Join(t.TempDir(), "tarsup.lock")),
		rfOnly(lab.fw, lab.node)...), wnGate...)
	return lab
}

// move pushes a new image to the node's tag.
func (l *wnLab) move(t *testing.T, tag string, spec testbed.ImageSpec) string {
	t.Helper()
	spec.Repo, spec.Tag, spec.Role = l.mirror+"/"+testbed.NodeRepo, tag, testbed.RoleNode
	_, digest, err := bed.Images.Push(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

func (l *wnLab) run(t *testing.T, args ...string) testbed.Result {
	t.Helper()
	return rfRun(t, t.Context(), append(append([]string{}, l.refresh...), args...)...)
}

// wnNoise is the stderr lines other than the warning about an upgrade
// under way on the engine (other runs share it).
func wnNoise(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l != "" && !strings.Contains(l, "an upgrade is under way or was interrupted on this engine") {
			out = append(out, l)
		}
	}
	return out
}

// TestWindowClosedChangesNothing: outside every window, refresh looks (manifest
// HEADs), pulls nothing, changes nothing, exits 0 and prints one line saying
// when the next window opens; the JSON report carries it. A window in the
// future (in a named zone) and one in the past (weekly, in the local zone).
func TestWindowClosedChangesNothing(t *testing.T) {
	ctx := t.Context()
	lab := wnSetup(t, 170, "wnclosed")
	lab.move(t, "latest", testbed.ImageSpec{Version: "v3.0.16"})
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// In two hours, for an hour, daily: the next opening is today's or
	// tomorrow's, whichever the zone's calendar says, at that minute.
	futureOpen := wnMinute(now.Add(2*time.Hour), sh)
	future := "CRON_TZ=Asia/Shanghai daily " + wnSpan(futureOpen, now.Add(3*time.Hour), sh)
	// Opened three hours ago for two hours, on this weekday (of its
	// opening): it next opens a week after that opening.
	pastOpen := wnMinute(now.Add(-3*time.Hour), time.Local)
	past := pastOpen.Weekday().String()[:3] + " " + wnSpan(pastOpen, now.Add(-time.Hour), time.Local)
	pastNext := time.Date(pastOpen.Year(), pastOpen.Month(), pastOpen.Day()+7, pastOpen.Hour(), pastOpen.Minute(), 0, 0, time.Local)

	for _, tc := range []struct {
		name, spec string
		next       time.Time
	}{
		{"a window later today or tomorrow", future, futureOpen},
		{"a weekly window that closed an hour ago", past, pastNext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rfState(t, ctx, bed.Local, lab.fw, lab.node)
			bed.Registry.ResetRequests()
			r := lab.run(t, "--window", tc.spec)
			rfExit(t, r, 0)
			want := "refresh: 2 containers checked, 2 tags, 1 moved; outside the maintenance window, nothing started: the next opens " +
				tc.next.Format(time.RFC3339) + " (" + wnZone(tc.next) + ")\n"
			if r.Stdout != want || len(wnNoise(r.Stderr)) > 0 {
				t.Errorf("want exactly the one line %q and no log: %s", want, r)
			}
			rfHEADsOnly(t, bed.Registry.Requests())
			if after := rfState(t, ctx, bed.Local, lab.fw, lab.node); !reflect.DeepEqual(before, after) {
				t.Errorf("containers changed outside the window:\nbefore %v\nafter  %v", before, after)
			}

			// JSON (and --min-age, which asks nothing more of the registry
			// outside a window).
			bed.Registry.ResetRequests()
			r = lab.run(t, "--window", tc.spec, "--min-age", "1h", "--format", "json")
			rfExit(t, r, 0)
			rep := wnDecode(t, r.Stdout)
			if w := rep.Window; w == nil || w.Open || w.NextOpen != tc.next.Format(time.RFC3339) || w.Zone != wnZone(tc.next) ||
				!reflect.DeepEqual(w.Waiting, []string{lab.node}) || !reflect.DeepEqual(w.Windows, []string{tc.spec}) || w.Closes != "" {
				t.Errorf("window %+v, want closed, next_open %s (%s), %s waiting", w, tc.next.Format(time.RFC3339), wnZone(tc.next), lab.node)
			}
			if rep.Changed || !rep.Success || len(rep.Moved) != 1 || rep.Upgrade != nil || rep.Upgraded != 0 {
				t.Errorf("report %+v, want success, one moved, nothing changed, no upgrade", rep)
			}
			rfHEADsOnly(t, bed.Registry.Requests())
			if after := rfState(t, ctx, bed.Local, lab.fw, lab.node); !reflect.DeepEqual(before, after) {
				t.Errorf("containers changed outside the window:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestWindowOpenUpgrades: inside a window (opened a minute ago, closing in
// two hours, crossing midnight or not) refresh upgrades what moved.
func TestWindowOpenUpgrades(t *testing.T) {
	ctx := t.Context()
	lab := wnSetup(t, 171, "wnopen")
	digest := lab.move(t, "latest", testbed.ImageSpec{Version: "v3.0.16"})
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	closes := wnMinute(now.Add(2*time.Hour), sh)
	spec := "CRON_TZ=Asia/Shanghai daily " + wnSpan(now.Add(-time.Minute), closes, sh)
	before := rfState(t, ctx, bed.Local, lab.fw, lab.node)

	r := lab.run(t, "--window", spec, "--format", "json")
	rfExit(t, r, 0)
	rep := wnDecode(t, r.Stdout)
	if w := rep.Window; w == nil || !w.Open || w.Closes != closes.Format(time.RFC3339) || len(w.Waiting) != 0 {
		t.Errorf("window %+v, want open, closing %s, nothing waiting", w, closes.Format(time.RFC3339))
	}
	if rep.Upgraded != 1 || !rep.Changed || rep.Upgrade == nil || len(rep.Upgrade.Results) != 1 || rep.Upgrade.Results[0].NotAfter == "" {
		t.Fatalf("want the node upgraded, its step limited by the window: %s", r)
	}
	after := rfState(t, ctx, bed.Local, lab.fw, lab.node)
	if after[lab.fw] != before[lab.fw] || after[lab.node] == before[lab.node] {
		t.Errorf("inside the window: want only %s recreated:\nbefore %v\nafter  %v", lab.node, before, after)
	}
	if got := rfImageDigests(t, ctx, bed.Local, lab.node); !strings.HasSuffix(strings.Join(got, " "), "@"+digest) {
		t.Errorf("%s runs an image with digests %v, want %s", lab.node, got, digest)
	}
}

// TestWindowClosingTooSoon: a window that closes sooner than a step's stop
// timeout, --health-timeout and --monitor could take starts no step: the
// first node (its own stop timeout is 10 minutes) does not fit, so neither
// it nor the node after it (which alone would fit) starts, and the report
// says both wait for the next window; with two hours left, both go.
func TestWindowClosingTooSoon(t *testing.T) {
	ctx := t.Context()
	lab := wnSetup(t, 172, "wnsoon")
	slow := lab.d.Run(testbed.ContainerSpec{
		// "node0" sorts before the layout's node1: the nodes go in name order.
		Name: strings.TrimSuffix(lab.node, "node1") + "node0", Image: lab.repo + ":latest", Env: []string{"WEB_HOST=" + lab.dep.WebHost},
		Volumes:  []string{strings.TrimSuffix(lab.node, "node1") + "node0-data:/data/tars"},
		Networks: []testbed.Attachment{{Network: lab.dep.Network, IPv4: testbed.HostIP(lab.subnet, 20)}},
		Restart:  "always",
		Customize: func(c *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig) {
			ten := 600
			c.StopTimeout = &ten
		},
	})
	lab.d.WaitTCP(net.JoinHostPort(slow.IP, "19385"))
	lab.refresh = append(lab.refresh, "--only", slow.Name)
	lab.move(t, "latest", testbed.ImageSpec{Version: "v3.0.16"})
	now := time.Now()
	// At most ten minutes left: less than node0's 600 s stop timeout + 30 s
	// + 3 s; far more than node1's 5 s + 30 s + 3 s.
	soon := "daily " + wnSpan(now.Add(-time.Minute), now.Add(10*time.Minute), time.Local)
	before := rfState(t, ctx, bed.Local, lab.fw, slow.Name, lab.node)

	r := lab.run(t, "--window", soon)
	t.Logf("refresh --window %q:\n%s", soon, r.Stdout)
	rfExit(t, r, 0, "waits for the next window", "too soon to start "+slow.Name+", "+lab.node)
	r = lab.run(t, "--window", soon, "--format", "json")
	rfExit(t, r, 0)
	rep := wnDecode(t, r.Stdout)
	if w := rep.Window; w == nil || !w.Open || !reflect.DeepEqual(w.Waiting, []string{slow.Name, lab.node}) {
		t.Errorf("window %+v, want open with %s and %s waiting", w, slow.Name, lab.node)
	}
	if rep.Upgrade == nil || len(rep.Upgrade.Results) != 2 {
		t.Fatalf("want two results: %s", r)
	}
	for _, res := range rep.Upgrade.Results {
		if res.Result != "waits for the next window" || res.NotAfter == "" {
			t.Errorf("%s: result %q, not_after %q; want it waiting for the next window", res.Container, res.Result, res.NotAfter)
		}
	}
	if rep.Changed || rep.Upgraded != 0 || !rep.Success {
		t.Errorf("report: changed %v, upgraded %d, success %v; want nothing changed, success", rep.Changed, rep.Upgraded, rep.Success)
	}
	if after := rfState(t, ctx, bed.Local, lab.fw, slow.Name, lab.node); !reflect.DeepEqual(before, after) {
		t.Errorf("a step started though the window closes too soon:\nbefore %v\nafter  %v", before, after)
	}

	// Two hours left: both fit, in order.
	later := "daily " + wnSpan(now.Add(-time.Minute), now.Add(2*time.Hour), time.Local)
	r = lab.run(t, "--window", later, "--format", "json")
	rfExit(t, r, 0)
	if rep := wnDecode(t, r.Stdout); rep.Upgraded != 2 || len(rep.Window.Waiting) != 0 {
		t.Errorf("with two hours left: upgraded %d, waiting %v; want both upgraded: %s", rep.Upgraded, rep.Window.Waiting, r)
	}
	after := rfState(t, ctx, bed.Local, lab.fw, slow.Name, lab.node)
	if after[slow.Name] == before[slow.Name] || after[lab.node] == before[lab.node] || after[lab.fw] != before[lab.fw] {
		t.Errorf("want both nodes recreated, the framework untouched:\nbefore %v\nafter  %v", before, after)
	}
}

// TestWindowWatch: watch outside its window: POST /v1/update checks and
// starts nothing, ?force=1 upgrades; a tag that moves again waits, and
// watch upgrades it by itself when the window opens (its schedule would
// not fire for an hour).
func TestWindowWatch(t *testing.T) {
	// Why an engine of its own, beside the other tests: most of it is the
	// wait for its window to open.
	bed.Parallel(t, wnWatchEngineSlot)
	ctx := t.Context()
	e, conn := extraEngine(t, ctx, wnWatchEngineSlot)
	lab := wnSetupOn(t, e, conn, 173, "wnwatch")
	lab.move(t, "latest", testbed.ImageSpec{Version: "v3.0.16"})
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("wn-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	// Opens at the second minute from now (one to two minutes away: what
	// comes before it takes seconds), for two hours.
	opens := wnMinute(time.Now(), time.Local).Add(2 * time.Minute)
	spec := "daily " + wnSpan(opens, opens.Add(2*time.Hour), time.Local)
	args := append(append(append([]string{"watch", "--schedule", "@every 1h", "--http-addr", addr, "--http-token-file", tokenFile}, conn...),
		"--lock", filepath.Join(dir, "tarsup.lock"), "--format", "json", "--log-format", "json",
		"--window", spec), append(rfOnly(lab.fw, lab.node), wnGate...)...)
	w := rfStart(t, ctx, args...)
	w.waitOutput(t, `"msg":"watching"`, 30*time.Second)

	update := func(query string) wnReport {
		t.Helper()
		code, body := wtHTTP(t, http.MethodPost, base+"/v1/update"+query, "Bearer wn-token")
		if code != http.StatusOK {
			t.Fatalf("POST /v1/update%s: %d %s", query, code, body)
		}
		return wnDecode(t, body)
	}
	before := rfState(t, ctx, e, lab.fw, lab.node)
	rep := update("")
	if rep.Window == nil || rep.Window.Open {
		t.Fatalf("the window %s is open already (the test took a minute to get here?): %+v", spec, rep.Window)
	}
	if rep.Window.NextOpen != opens.Format(time.RFC3339) || !reflect.DeepEqual(rep.Window.Waiting, []string{lab.node}) || rep.Upgraded != 0 || rep.Changed {
		t.Errorf("outside the window: %+v; want next_open %s, %s waiting, nothing changed", rep.Window, opens.Format(time.RFC3339), lab.node)
	}
	if after := rfState(t, ctx, e, lab.fw, lab.node); !reflect.DeepEqual(before, after) {
		t.Errorf("POST /v1/update outside the window changed containers:\nbefore %v\nafter  %v", before, after)
	}

	rep = update("?force=1")
	if rep.Window == nil || !rep.Window.Forced || rep.Upgraded != 1 {
		t.Fatalf("POST /v1/update?force=1: window %+v, upgraded %d; want forced and the node upgraded", rep.Window, rep.Upgraded)
	}
	forced := rfState(t, ctx, e, lab.fw, lab.node)
	if forced[lab.node] == before[lab.node] || forced[lab.fw] != before[lab.fw] {
		t.Errorf("?force=1: want %s recreated:\nbefore %v\nafter  %v", lab.node, before, forced)
	}

	digest := lab.move(t, "latest", testbed.ImageSpec{Version: "v3.0.17"})
	if rep = update(""); rep.Window == nil || rep.Window.Open || !reflect.DeepEqual(rep.Window.Waiting, []string{lab.node}) {
		t.Fatalf("after the second move, outside the window: %+v", rep.Window)
	}
	// The run's last log line names its trigger.
	wtEventually(t, "a refresh when the window opens", 6*time.Minute, func() bool {
		return strings.Contains(w.stderr.String(), `"trigger":"window"`)
	}, w)
	if got := rfImageDigests(t, ctx, e, lab.node); !strings.HasSuffix(strings.Join(got, " "), "@"+digest) {
		t.Errorf("after the window's run %s runs %v, want %s:\n%s", lab.node, got, digest, w.stderr)
	}
	for _, l := range strings.Split(w.stderr.String(), "\n") {
		if strings.Contains(l, `"trigger":"window"`) && strings.Contains(l, `"msg":"refresh: `) && !strings.Contains(l, `"upgraded":1`) {
			t.Errorf("the window's run did not upgrade the node: %s", l)
		}
	}
	if !w.running() {
		t.Errorf("watch exited: %s", w.stderr)
	}
}

// TestCooldown: a freshly pushed image is not taken with --min-age 1h (the
// report says from when it will be), nor one whose creation time is
// unknown; nothing is pulled; with --min-age 0 (the default) both are.
func TestCooldown(t *testing.T) {
	ctx := t.Context()
	lab := wnSetup(t, 174, "wncool")
	edgeRef := rfNodeRepo(t, ctx, lab.mirror, "v3.0.15", "edge")[0]
	edge := lab.d.Run(testbed.ContainerSpec{
		Name: strings.TrimSuffix(lab.node, "node1") + "node2", Image: edgeRef, Env: []string{"WEB_HOST=" + lab.dep.WebHost},
		Volumes:  []string{strings.TrimSuffix(lab.node, "node1") + "node2-data:/data/tars"},
		Networks: []testbed.Attachment{{Network: lab.dep.Network, IPv4: testbed.HostIP(lab.subnet, 20)}},
		Restart:  "always",
	})
	lab.d.WaitTCP(net.JoinHostPort(edge.IP, "19385"))
	lab.refresh = append(lab.refresh, "--only", edge.Name)
	created := time.Now().UTC().Truncate(time.Second)
	fresh := lab.move(t, "latest", testbed.ImageSpec{Version: "v3.0.16", Created: created})
	unknown := lab.move(t, "edge", testbed.ImageSpec{Version: "v3.0.16", NoCreated: true})
	before := rfState(t, ctx, bed.Local, lab.fw, lab.node, edge.Name)

	r := lab.run(t, "--min-age", "1h")
	t.Logf("refresh --min-age 1h:\n%s", r.Stdout)
	until := created.Add(time.Hour).Format(time.RFC3339)
	rfExit(t, r, 0, "2 moved but too new for --min-age 1h0m0s (the first taken from "+until+")",
		lab.node+": latest moved", "too new for --min-age 1h0m0s, taken from "+until,
		edge.Name+": edge moved", "its creation time is unknown (the image config gives none)")
	r = lab.run(t, "--min-age", "1h", "--format", "json")
	rfExit(t, r, 0)
	rep := wnDecode(t, r.Stdout)
	if rep.Changed || len(rep.Moved) != 0 || len(rep.Cooling) != 2 || rep.Upgrade != nil {
		t.Fatalf("want both held back, nothing changed: %s", r)
	}
	for _, c := range rep.Cooling {
		switch c.Name {
		case lab.node:
			if !c.Created.Equal(created) || !c.Until.Equal(created.Add(time.Hour)) {
				t.Errorf("%s: created %s, until %s; want %s and an hour later", c.Name, c.Created, c.Until, created)
			}
		case edge.Name:
			if !c.Created.IsZero() || !c.Until.IsZero() || !strings.Contains(c.Reason, "unknown") {
				t.Errorf("%s: %+v, want an unknown age and no date", c.Name, c)
			}
		default:
			t.Errorf("unexpected cooling container %s", c.Name)
		}
	}
	if after := rfState(t, ctx, bed.Local, lab.fw, lab.node, edge.Name); !reflect.DeepEqual(before, after) {
		t.Errorf("--min-age 1h changed containers:\nbefore %v\nafter  %v", before, after)
	}
	for _, d := range []string{fresh, unknown} {
		if _, err := bed.Local.Client.ImageInspect(ctx, lab.repo+"@"+d); err == nil {
			t.Errorf("%s@%s was pulled, though held back", lab.repo, d)
		}
	}

	r = lab.run(t, "--format", "json")
	rfExit(t, r, 0)
	if rep := wnDecode(t, r.Stdout); rep.Upgraded != 2 || len(rep.Cooling) != 0 {
		t.Errorf("--min-age 0: upgraded %d, cooling %d; want both taken: %s", rep.Upgraded, len(rep.Cooling), r)
	}
	after := rfState(t, ctx, bed.Local, lab.fw, lab.node, edge.Name)
	if after[lab.node] == before[lab.node] || after[edge.Name] == before[edge.Name] || after[lab.fw] != before[lab.fw] {
		t.Errorf("--min-age 0: want both nodes recreated:\nbefore %v\nafter  %v", before, after)
	}
}

// TestWindowBadInput: a window that does not parse, an empty one, an
// unknown zone, a negative --min-age: exit 2 with one line naming the flag,
// nothing on stdout, for refresh and watch.
func TestWindowBadInput(t *testing.T) {
	conn := []string{"--host", bed.Local.Host}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"refresh", "--window", "Sat 25:00-26:00"}, `bad --window "Sat 25:00-26:00": "25:00" is not a time of day`},
		{[]string{"refresh", "--window", ""}, `bad --window "": empty window`},
		{[]string{"refresh", "--window", "Funday 01:00-02:00"}, `bad --window "Funday 01:00-02:00": "Funday" is not a day`},
		{[]string{"watch", "--schedule", "@daily", "--window", "CRON_TZ=Nowhere/Land daily 01:00-02:00"}, `bad --window "CRON_TZ=Nowhere/Land daily 01:00-02:00": unknown time zone "Nowhere/Land"`},
		{[]string{"refresh", "--min-age", "-1h"}, `bad --min-age -1h0m0s: a duration must not be negative`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := rfRun(t, t.Context(), append(tc.args, conn...)...)
			if r.ExitCode != 2 || r.Stdout != "" || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("want exit 2 and one line containing %q: %s", tc.want, r)
			}
		})
	}
}
