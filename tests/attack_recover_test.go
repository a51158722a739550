//go:build e2e

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The attacks on `tarsup recover --dry-run`: what an operator's worst night
// leaves on an engine, and whether the dry run changes nothing and says
// exactly what a real recover then does. They run on an engine of their own
// (slot 6): another test's tarsup on a shared engine would recover what
// these tests lay out before they look at it.
const arEngineSlot = 6

// arEngine starts (or reuses) the engine of these tests.
func arEngine(t *testing.T, ctx context.Context) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, ctx, arEngineSlot)
}

// arState is what "nothing changed" means here, per container ID: its
// name, state, start time, labels and networks (with addresses).
func arState(t *testing.T, ctx context.Context, e *testbed.Engine, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names(t, ctx, e, prefix) {
		in := inspect(t, ctx, e, n)
		var labels, nets []string
		for _, k := range slices.Sorted(maps.Keys(in.Config.Labels)) {
			labels = append(labels, k+"="+in.Config.Labels[k])
		}
		for _, k := range slices.Sorted(maps.Keys(in.NetworkSettings.Networks)) {
			nets = append(nets, k+"@"+in.NetworkSettings.Networks[k].IPAddress)
		}
		out[in.ID] = fmt.Sprintf("name=%s status=%s started=%s labels=%v networks=%v", in.Name, in.State.Status, in.State.StartedAt, labels, nets)
	}
	return out
}

// arSettle waits until the containers under prefix stop changing (the
// engine finishes a stop a killed tarsup asked for) and returns their state.
func arSettle(t *testing.T, ctx context.Context, e *testbed.Engine, prefix string) map[string]string {
	t.Helper()
	last := arState(t, ctx, e, prefix)
	for i := 0; i < 60; i++ {
		time.Sleep(time.Second)
		now := arState(t, ctx, e, prefix)
		if reflect.DeepEqual(now, last) {
			return now
		}
		last = now
	}
	t.Fatalf("the containers never settled: %v", last)
	return nil
}

// arRequireSame fails when the engine's containers changed.
func arRequireSame(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	for id := range maps.Keys(before) {
		if before[id] != after[id] {
			t.Errorf("%s changed %s:\nbefore %s\nafter  %s", what, plan.Short(id), before[id], after[id])
		}
	}
	for id := range maps.Keys(after) {
		if _, ok := before[id]; !ok {
			t.Errorf("%s created %s: %s", what, plan.Short(id), after[id])
		}
	}
	t.FailNow()
}

// arKillPoint is a point of a swap where tarsup is killed: at the nth engine
// event of that kind on the service's containers, and delay after it.
type arKillPoint struct {
	name  string
	event events.Action
	nth   int
	delay time.Duration
	// image is the framework image the upgrade moves to: a slow one to be
	// killed during its gate, one that never answers to reach the rollback.
	image func() string
}

// arKillUpgrade starts `tarsup upgrade` of the service fw and kills it (-9)
// at the point; it returns tarsup's output.
func arKillUpgrade(t *testing.T, ctx context.Context, e *testbed.Engine, conn []string, fw string, pt arKillPoint) string {
	t.Helper()
	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	// Listen before starting tarsup: events are not replayed.
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", testbed.RunLabel+"="+bed.RunID))})
	var out bytes.Buffer
	args := append(append([]string{"upgrade", "--only", fw, "--framework-image", pt.image()}, conn...),
		"--health-timeout", "4s", "--monitor", "5s", "--stop-timeout", "5s", "--lock-wait", "10m")
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for seen := 0; ; {
		select {
		case m := <-msgs:
			if m.Action != pt.event || !strings.HasPrefix(m.Actor.Attributes["name"], fw) {
				continue
			}
			if seen++; seen < pt.nth {
				continue
			}
			time.Sleep(pt.delay)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill -9: %v", err)
			}
			<-done
			return out.String()
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case err := <-done:
			t.Fatalf("tarsup finished before the kill point (%v):\n%s", err, out.String())
		case <-time.After(5 * time.Minute):
			t.Fatalf("no %s event:\n%s", pt.event, out.String())
		}
	}
}

// arDryRun runs `tarsup recover --dry-run` as text and as JSON, requires
// that both change nothing and say the same, and returns the JSON plan.
func arDryRun(t *testing.T, ctx context.Context, e *testbed.Engine, conn []string, prefix string) []plan.Recovery {
	t.Helper()
	before := arState(t, ctx, e, prefix)
	text := tarsup(t, ctx, append(append([]string{"recover", "--dry-run"}, conn...), gateFlags...)...)
	requireExit(t, text, 0)
	arRequireSame(t, "recover --dry-run", before, arState(t, ctx, e, prefix))
	js := tarsup(t, ctx, append(append([]string{"recover", "--dry-run", "--format", "json"}, conn...), gateFlags...)...)
	requireExit(t, js, 0)
	arRequireSame(t, "recover --dry-run --format json", before, arState(t, ctx, e, prefix))
	var planned []plan.Recovery
	if err := json.Unmarshal([]byte(js.Stdout), &planned); err != nil {
		t.Fatalf("dry-run JSON: %v\n%s", err, js.Stdout)
	}
	var want strings.Builder
	for _, r := range planned {
		fmt.Fprintf(&want, "%s on %s: %s: %s\n", r.Name, r.Host, r.Action, r.Result)
	}
	if len(planned) == 0 {
		want.WriteString("nothing to recover\n")
	}
	if text.Stdout != want.String() {
		t.Errorf("the text dry run and the JSON one differ:\ntext:\n%s\njson:\n%s", text.Stdout, want.String())
	}
	t.Logf("dry run:\n%s", text.Stdout)
	return planned
}

// arOps are the engine operations a dry run's result lists ("would: stop
// X (5s), rename X -> Y, ..."), in order, without the stop timeouts; gates
// and conditional fallbacks do nothing the engine reports.
func arOps(result string) []string {
	var out []string
	for _, op := range strings.Split(strings.TrimPrefix(result, "would: "), ", ") {
		for _, verb := range []string{"stop ", "rename ", "connect ", "disconnect ", "remove ", "start "} {
			if strings.HasPrefix(op, verb) {
				if i := strings.Index(op, " ("); verb == "stop " && i > 0 {
					op = op[:i]
				}
				out = append(out, op)
			}
		}
	}
	return out
}

// arEngineOps reads what the engine did between since and until to the
// containers whose names start with prefix, as the dry run words it.
// Network events are left out: every start and stop emits them too, so a
// connect is checked by the containers' networks afterwards.
func arEngineOps(t *testing.T, ctx context.Context, e *testbed.Engine, prefix string, since, until time.Time) []string {
	t.Helper()
	stamp := func(at time.Time) string { return fmt.Sprintf("%d.%09d", at.Unix(), at.Nanosecond()) }
	msgs, errs := e.Client.Events(ctx, events.ListOptions{Since: stamp(since), Until: stamp(until),
		Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))})
	var out []string
	for {
		select {
		case m := <-msgs:
			name := m.Actor.Attributes["name"]
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			switch m.Action {
			case events.ActionStart, events.ActionStop:
				out = append(out, string(m.Action)+" "+name)
			case events.ActionDestroy:
				out = append(out, "remove "+name)
			case events.ActionRename:
				out = append(out, "rename "+strings.TrimPrefix(m.Actor.Attributes["oldName"], "/")+" -> "+name)
			}
		case err := <-errs:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("engine events: %v", err)
			}
			return out
		}
	}
}

// arExpectedEvents turns a dry run's operations into the engine events
// they cause, given which containers run (by name) before: a stop of a
// container that is not running and a start of one that runs are no-ops
// (the engine reports nothing), and connects show only as networks.
func arExpectedEvents(ops []string, running map[string]bool) []string {
	up := maps.Clone(running)
	var out []string
	for _, op := range ops {
		verb, name, _ := strings.Cut(op, " ")
		switch verb {
		case "stop":
			if !up[name] {
				continue
			}
			up[name] = false
		case "start":
			if up[name] {
				continue
			}
			up[name] = true
		case "rename":
			from, to, _ := strings.Cut(name, " -> ")
			up[to] = up[from]
			delete(up, from)
		case "remove":
			delete(up, name)
		case "connect", "disconnect":
			continue
		}
		out = append(out, op)
	}
	return out
}

// arRunning says which containers under prefix run, by name.
func arRunning(t *testing.T, ctx context.Context, e *testbed.Engine, prefix string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, n := range names(t, ctx, e, prefix) {
		out[n] = inspect(t, ctx, e, n).State.Running
	}
	return out
}

// arRecover runs a real `tarsup recover --format json` and requires that it
// did exactly what the dry run planned: the same containers, the same
// action for each, and the same engine operations in the same order.
func arRecover(t *testing.T, ctx context.Context, e *testbed.Engine, conn []string, prefix string, planned []plan.Recovery) []plan.Recovery {
	t.Helper()
	running := arRunning(t, ctx, e, prefix)
	since := time.Now()
	r := tarsup(t, ctx, append(append([]string{"recover", "--format", "json"}, conn...), gateFlags...)...)
	until := time.Now()
	requireExit(t, r, 0)
	var did []plan.Recovery
	if err := json.Unmarshal([]byte(r.Stdout), &did); err != nil {
		t.Fatalf("recover JSON: %v\n%s", err, r)
	}
	t.Logf("recover: %s", r.Stdout)
	if len(did) != len(planned) {
		t.Fatalf("the dry run planned %d recoveries, recover did %d:\nplanned %+v\ndid     %+v", len(planned), len(did), planned, did)
	}
	var want []string
	for i := range did {
		if did[i].Host != planned[i].Host || did[i].Name != planned[i].Name || did[i].Action != planned[i].Action {
			t.Errorf("recovery %d: planned %+v, did %+v", i, planned[i], did[i])
		}
		want = append(want, arOps(planned[i].Result)...)
	}
	want = arExpectedEvents(want, running)
	if got := arEngineOps(t, ctx, e, prefix, since, until); !slices.Equal(got, want) {
		t.Errorf("the engine did other operations than the dry run listed:\nplanned %q\ndid     %q", want, got)
	}
	return did
}

// arRequireWorking: the service runs as exactly one container under its
// name, answering, with its data, beside its database.
func arRequireWorking(t *testing.T, ctx context.Context, d *testbed.Deployer, e *testbed.Engine, dep *testbed.TarsDeployment, prefix string) {
	t.Helper()
	fw := dep.Framework.Name
	if got, want := names(t, ctx, e, prefix), sortedCopy([]string{fw, dep.DB.Name}); !slices.Equal(got, want) {
		t.Fatalf("containers %v, want exactly %v", got, want)
	}
	if in := inspect(t, ctx, e, fw); !in.State.Running {
		t.Fatalf("%s is %s", fw, in.State.Status)
	}
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(dep.Framework.IP, "17890"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if db := d.ReadFile(fw, "/data/tars/db/db_tars"); !strings.Contains(db, "created by v3.0.15") {
		t.Fatalf("db_tars lost: %q", db)
	}
}

// TestAttackRecoverDryRunAfterKill9: tarsup upgrade killed (-9) at each
// point of a swap and of its rollback. `recover --dry-run`, text and JSON,
// changes nothing (ID, name, state, start time, labels, networks of every
// container) and says the same both ways; a real `recover` then does to the
// same containers the same action, with exactly the engine operations the
// dry run listed, in that order, and leaves one working framework.
func TestAttackRecoverDryRunAfterKill9(t *testing.T) {
	slow := func() string { return bed.Images.FrameworkSlow }
	never := func() string { return bed.Images.FrameworkNeverHealthy }
	points := []arKillPoint{
		{"after the new container is created", events.ActionCreate, 1, 0, slow},
		{"after the old container stopped", events.ActionDie, 1, 0, slow},
		{"after the old container was renamed aside", events.ActionRename, 1, 0, slow},
		{"after the new container got the name", events.ActionRename, 2, 0, slow},
		{"during the health gate", events.ActionStart, 1, 1500 * time.Millisecond, slow},
		{"during the rollback, after the new one was renamed failed", events.ActionRename, 3, 0, never},
		{"during the rollback, after the old one got its name back", events.ActionRename, 4, 0, never},
		{"during the rollback, during the old one's gate", events.ActionStart, 2, 500 * time.Millisecond, never},
	}
	for i, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			ctx := t.Context()
			e, conn := arEngine(t, ctx)
			d := bed.On(ctx, t, e)
			p := uniq(fmt.Sprintf("arkill%d-", i))
			dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(130)})
			out := arKillUpgrade(t, ctx, e, conn, dep.Framework.Name, pt)
			arSettle(t, ctx, e, p)
			t.Logf("killed %s; containers: %v\n%s", pt.name, names(t, ctx, e, p), out)

			planned := arDryRun(t, ctx, e, conn, p)
			if len(planned) != 1 || planned[0].Name != dep.Framework.Name {
				t.Fatalf("dry run: want one recovery of %s, got %+v", dep.Framework.Name, planned)
			}
			arRecover(t, ctx, e, conn, p, planned)
			arRequireWorking(t, ctx, d, e, dep, p)
		})
	}
}

// arJournal is the journal a tarsup whose process is gone writes on the new
// container of a swap of service that replaces old; extra labels override.
func arJournal(t *testing.T, service, old string, extra map[string]string) map[string]string {
	t.Helper()
	host, _ := os.Hostname()
	l := map[string]string{plan.LabelTxn: "e2e", plan.LabelTxnName: service, plan.LabelTxnOld: old,
		plan.LabelTxnOldRunning: "true", plan.LabelTxnOwner: fmt.Sprintf("%s/%d/1", host, deadPID(t)),
		plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339)}
	maps.Copy(l, extra)
	return l
}

// arRow finds the row of a recovery report that names name.
func arRow(rows []plan.Recovery, name string) (plan.Recovery, bool) {
	for _, r := range rows {
		if r.Name == name || strings.Contains(r.Result, name) {
			return r, true
		}
	}
	return plan.Recovery{}, false
}

// TestAttackRecoverHandMade: containers under tarsup's temporary names that
// tarsup did not leave there: none of its labels; its labels pointing at
// somebody else's container, at a container that is gone, with values
// tarsup never writes; two containers claiming one swap; a live owner. The
// dry run and a real recover change nothing, and both name each of them
// and say why it is left alone.
func TestAttackRecoverHandMade(t *testing.T) {
	ctx := t.Context()
	e, conn := arEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("arhand-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(131)})
	fw := dep.Framework.Name
	idle := bed.Images.Nginx
	self := fmt.Sprintf("%s/%d/%s", must(os.Hostname()), os.Getpid(), owner.ProcStart(os.Getpid()))
	gone := d.Run(testbed.ContainerSpec{Name: p + "gone", Image: idle, NoStart: true})
	if err := e.Client.ContainerRemove(ctx, gone.ID, container.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// lay out creates the containers; it returns those the rows must name.
		layOut func(t *testing.T, d *testbed.Deployer) []string
		// code is the real recover's exit: 0 when only others' containers
		// are there, 1 when tarsup's labels are there but not as it leaves them.
		code int
		says string
	}{
		{"no journal labels at all", func(t *testing.T, d *testbed.Deployer) []string {
			a := d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-new", Image: idle})
			b := d.Run(testbed.ContainerSpec{Name: p + "nobody.tarsup-old", Image: idle, NoStart: true})
			c := d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-failed", Image: idle, NoStart: true})
			return []string{a.Name, b.Name, c.Name}
		}, 0, "not tarsup's"},
		{"a journal naming no service, replacing the framework", func(t *testing.T, d *testbed.Deployer) []string {
			a := d.Run(testbed.ContainerSpec{Name: p + "x.tarsup-new", Image: idle, Labels: arJournal(t, "", dep.Framework.ID, nil)})
			return []string{a.Name}
		}, 1, "left alone"},
		{"a journal of another service that replaces the framework", func(t *testing.T, d *testbed.Deployer) []string {
			a := d.Run(testbed.ContainerSpec{Name: p + "y.tarsup-new", Image: idle, Labels: arJournal(t, p+"y", dep.Framework.ID, nil)})
			return []string{a.Name}
		}, 1, "left alone"},
		{"a journal whose old container is gone", func(t *testing.T, d *testbed.Deployer) []string {
			a := d.Run(testbed.ContainerSpec{Name: p + "lost.tarsup-new", Image: idle, NoStart: true, Labels: arJournal(t, p+"lost", gone.ID, nil)})
			return []string{a.Name}
		}, 1, "gone"},
		{"a journal that says the old one ran, in words tarsup never writes", func(t *testing.T, d *testbed.Deployer) []string {
			a := d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-new", Image: idle, NoStart: true,
				Labels: arJournal(t, fw, dep.Framework.ID, map[string]string{plan.LabelTxnOldRunning: "yes"})})
			return []string{a.Name}
		}, 1, plan.LabelTxnOldRunning},
		{"two containers claim one swap", func(t *testing.T, d *testbed.Deployer) []string {
			a := d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-new", Image: idle, NoStart: true, Labels: arJournal(t, fw, dep.Framework.ID, nil)})
			b := d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-failed", Image: idle, NoStart: true, Labels: arJournal(t, fw, dep.Framework.ID, nil)})
			return []string{a.Name, b.Name}
		}, 1, "both"},
		{"a journal of a live tarsup (this test)", func(t *testing.T, d *testbed.Deployer) []string {
			d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-new", Image: idle, NoStart: true,
				Labels: arJournal(t, fw, dep.Framework.ID, map[string]string{plan.LabelTxnOwner: self})})
			return []string{fw}
		}, 0, "still running"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := bed.On(ctx, t, e)
			want := tc.layOut(t, d)
			before := arState(t, ctx, e, p)
			planned := arDryRun(t, ctx, e, conn, p)
			r := tarsup(t, ctx, append(append([]string{"recover", "--format", "json"}, conn...), gateFlags...)...)
			arRequireSame(t, "recover", before, arState(t, ctx, e, p))
			if r.ExitCode != tc.code {
				t.Errorf("recover: exit %d, want %d:\n%s", r.ExitCode, tc.code, r)
			}
			var did []plan.Recovery
			if err := json.Unmarshal([]byte(r.Stdout), &did); err != nil {
				t.Fatalf("recover JSON: %v\n%s", err, r)
			}
			for _, n := range want {
				for what, rows := range map[string][]plan.Recovery{"the dry run": planned, "recover": did} {
					if row, ok := arRow(rows, n); !ok || !strings.Contains(row.Result, tc.says) {
						t.Errorf("%s does not say %q of %s: %+v", what, tc.says, n, rows)
					}
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
