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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/errdefs"
	"github.com/tarsup/tarsup/orchestrator/lock"
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
	// Why by ID, and a container gone meanwhile skipped: a rename or a
	// stop the killed tarsup asked for may still be under way (arSettle
	// waits for it), so a name listed may be another's by the inspect.
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if !slices.ContainsFunc(c.Names, func(n string) bool { return strings.HasPrefix(strings.TrimPrefix(n, "/"), prefix) }) {
			continue
		}
		in, err := e.Client.ContainerInspect(ctx, c.ID)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
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

// arWithoutLock splits a dry run's rows: the engine lock's row, if any,
// and the recoveries. A tarsup killed -9 leaves its lock behind; the dry
// run must say a real recover takes it over.
func arWithoutLock(t *testing.T, rows []plan.Recovery) []plan.Recovery {
	t.Helper()
	var out []plan.Recovery
	for _, r := range rows {
		if r.Action != plan.ActionLock {
			out = append(out, r)
			continue
		}
		if r.Name != lock.EngineLockName || !strings.Contains(r.Result, "which is gone: a real recover takes it over") {
			t.Errorf("the dry run's lock row: %+v, want the dead tarsup's lock taken over", r)
		}
	}
	return out
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
func arRecover(t *testing.T, ctx context.Context, e *testbed.Engine, conn []string, prefix string, planned []plan.Recovery, extra ...string) []plan.Recovery {
	t.Helper()
	running := arRunning(t, ctx, e, prefix)
	since := time.Now()
	r := tarsup(t, ctx, append(append(append([]string{"recover", "--format", "json"}, conn...), gateFlags...), extra...)...)
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
	bed.Parallel(t, arEngineSlot)
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

			planned := arWithoutLock(t, arDryRun(t, ctx, e, conn, p))
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
	bed.Parallel(t, arEngineSlot)
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
		{"a journal of a tarsup on another machine, minutes old", func(t *testing.T, d *testbed.Deployer) []string {
			d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-new", Image: idle, NoStart: true,
				Labels: arJournal(t, fw, dep.Framework.ID, map[string]string{plan.LabelTxnOwner: "another-machine/4242/99"})})
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

// arInterrupted lays out what a tarsup killed right after it renamed the
// old framework aside leaves: the old one stopped as NAME.tarsup-old, the
// new one created as NAME.tarsup-new with the journal of a dead owner.
func arInterrupted(t *testing.T, ctx context.Context, d *testbed.Deployer, e *testbed.Engine, dep *testbed.TarsDeployment) {
	t.Helper()
	fw := dep.Framework.Name
	d.Stop(fw)
	if err := e.Client.ContainerRename(ctx, dep.Framework.ID, fw+".tarsup-old"); err != nil {
		t.Fatal(err)
	}
	d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-new", Image: bed.Images.Framework3016, NoStart: true,
		Networks: []testbed.Attachment{{Network: dep.Network}}, Labels: arJournal(t, fw, dep.Framework.ID, nil)})
}

// arRequireRefused: r is exit code with want in its one stderr line, no
// stdout, and nothing changed.
func arRequireRefused(t *testing.T, r testbed.Result, code int, want string, before, after map[string]string) {
	t.Helper()
	arRequireSame(t, "a refused recover", before, after)
	if r.ExitCode != code || r.Stdout != "" || !strings.Contains(r.Stderr, want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
		t.Errorf("want exit %d, no stdout and one line saying %q; got %s", code, want, r)
	}
}

// TestAttackRecoverDryRunCommandLine: what an operator may type at night.
// Stray arguments, a format with no printer, a switch given twice saying
// two things (`--dry-run --dry-run=false`, which ran a real recover), an
// engine that does not answer, and a TLS engine reached without its
// certificates are one clear line and exit 2, and change nothing. Another
// live tarsup's engine lock does not stop the dry run (it takes none): it
// prints the plan and says the lock is held, while a real recover exits 3
// naming the holder. Once the lock is gone, `--dry-run=false` is a real
// recover and does what the dry run said.
func TestAttackRecoverDryRunCommandLine(t *testing.T) {
	bed.Parallel(t, arEngineSlot)
	ctx := t.Context()
	e, conn := arEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("arcli-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(132)})
	arInterrupted(t, ctx, d, e, dep)
	state := func() map[string]string { return arState(t, ctx, e, p) }
	before := state()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"recover", "--dry-run", "extra"}, conn...), `unexpected argument "extra"`},
		{append([]string{"recover", "--dry-run", "--format", "yaml"}, conn...), `bad --format "yaml": use text or json`},
		{append([]string{"recover", "--dry-run", "--dry-run=false"}, conn...), `--dry-run given twice ("true", then "false")`},
		{[]string{"recover", "--dry-run", "--host", "tcp://127.0.0.1:1"}, "engine tcp://127.0.0.1:1 does not answer"},
		{[]string{"recover", "--dry-run", "--host", e.Host, "--probe", "direct"}, "it speaks TLS, and tarsup has no TLS settings for it: give --tlsverify"},
		{[]string{"recover", "--host", e.Host, "--probe", "direct"}, "it speaks TLS, and tarsup has no TLS settings for it: give --tlsverify"},
	} {
		r := tarsup(t, ctx, tc.args...)
		t.Logf("tarsup %v:\n%s", tc.args, r)
		arRequireRefused(t, r, 2, tc.want, before, state())
	}

	host, _ := os.Hostname()
	d.Run(testbed.ContainerSpec{Name: lock.EngineLockName, Image: bed.Images.Nginx, NoStart: true, Labels: map[string]string{
		lock.LabelLock: "1", owner.LabelOwner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), owner.ProcStart(os.Getpid())),
		owner.LabelStarted: time.Now().UTC().Format(time.RFC3339)}})
	before = state()
	planned := arDryRun(t, ctx, e, conn, p)
	if len(planned) != 2 || planned[0].Name != lock.EngineLockName || !strings.Contains(planned[0].Result, "still running: a real recover waits for it") ||
		planned[1].Name != dep.Framework.Name || !strings.HasPrefix(planned[1].Action, "undo:") {
		t.Fatalf("dry run with the lock held: %+v", planned)
	}
	r := tarsup(t, ctx, append(append([]string{"recover"}, conn...), "--lock-wait", "0s")...)
	arRequireRefused(t, r, 3, "locked by tarsup "+host+"/", before, state())

	if err := e.Client.ContainerRemove(ctx, lock.EngineLockName, container.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	arRecover(t, ctx, e, conn, p, planned[1:], "--dry-run=false")
	arRequireWorking(t, ctx, d, e, dep, p)
}

// arHoldingProxy is a unix socket in front of an engine's own socket that
// forwards everything, except that it holds the first request whose bytes
// hold trigger until release is closed: held is closed once it does.
type arHoldingProxy struct {
	URL     string
	held    chan struct{}
	release chan struct{}
}

func arProxy(t *testing.T, upstream, trigger string) *arHoldingProxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "arp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", dir+"/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	p := &arHoldingProxy{URL: "unix://" + dir + "/docker.sock", held: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() {}); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c, strings.TrimPrefix(upstream, "unix://"), trigger, &once)
		}
	}()
	return p
}

func (p *arHoldingProxy) forward(c net.Conn, upstream, trigger string, once *sync.Once) {
	defer c.Close()
	u, err := net.Dial("unix", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	go func() { _, _ = io.Copy(c, u) }()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 && bytes.Contains(buf[:n], []byte(trigger)) {
			hold := false
			once.Do(func() { hold = true })
			if hold {
				close(p.held)
				<-p.release
			}
		}
		if n > 0 {
			if _, werr := u.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestAttackRecoverDryRunSignals: SIGTERM or SIGINT while `recover
// --dry-run` waits on the engine (its first ping, its container list) is
// exit 1 saying it was interrupted and nothing was changed, prints no plan
// and changes nothing. (Before: exit 2, "engine ... does not answer" or
// "list containers ...: context canceled", as if the engine were down.)
// A real recover then does the job.
func TestAttackRecoverDryRunSignals(t *testing.T) {
	bed.Parallel(t, arEngineSlot)
	ctx := t.Context()
	e, conn := arEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("arsig-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(133)})
	arInterrupted(t, ctx, d, e, dep)
	before := arState(t, ctx, e, p)
	for _, tc := range []struct {
		name, trigger string
		sig           syscall.Signal
	}{
		{"SIGINT while it connects", "/_ping", syscall.SIGINT},
		{"SIGTERM while it lists the containers", "/containers/json", syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px := arProxy(t, e.Socket, tc.trigger)
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bed.Tarsup(t), "recover", "--dry-run", "--host", px.URL, "--probe", "direct")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-px.held:
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("the dry run never asked for %s", tc.trigger)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			close(px.release)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || stdout.Len() > 0 ||
				!strings.Contains(stderr.String(), "interrupted") || !strings.Contains(stderr.String(), "nothing was changed") {
				t.Errorf("after %v: %v, stdout %q, stderr %q; want exit 1, no plan, saying it was interrupted and nothing was changed", tc.sig, err, stdout.String(), stderr.String())
			}
			arRequireSame(t, "an interrupted dry run", before, arState(t, ctx, e, p))
		})
	}
	planned := arDryRun(t, ctx, e, conn, p)
	arRecover(t, ctx, e, conn, p, planned)
	arRequireWorking(t, ctx, d, e, dep, p)
}

// TestAttackRecoverEngineRestartBetween: tarsup killed after the new
// container got the name, a dry run, then the engine restarts (a reboot):
// the restart policy brings the old container back up, aside. The real
// recover plans again on what it finds: the same action as the dry run
// before the restart, exactly what a dry run after it says (now with a
// real stop of the old one), and one working framework.
func TestAttackRecoverEngineRestartBetween(t *testing.T) {
	bed.Parallel(t, arEngineSlot)
	ctx := t.Context()
	e, conn := arEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("arboot-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(134)})
	pt := arKillPoint{"after the new container got the name", events.ActionRename, 2, 0, func() string { return bed.Images.FrameworkSlow }}
	out := arKillUpgrade(t, ctx, e, conn, dep.Framework.Name, pt)
	arSettle(t, ctx, e, p)
	t.Logf("killed %s; containers: %v\n%s", pt.name, names(t, ctx, e, p), out)
	first := arWithoutLock(t, arDryRun(t, ctx, e, conn, p))

	if err := e.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	arSettle(t, ctx, e, p)
	t.Logf("after the engine restart: running %v", arRunning(t, ctx, e, p))
	second := arWithoutLock(t, arDryRun(t, ctx, e, conn, p))
	if len(first) != 1 || len(second) != 1 || first[0].Name != second[0].Name || first[0].Action != second[0].Action {
		t.Fatalf("the plan's action changed with the restart:\nbefore %+v\nafter  %+v", first, second)
	}
	arRecover(t, ctx, e, conn, p, second)
	arRequireWorking(t, ctx, d, e, dep, p)
}

// TestAttackRecoverSignalDuringGate: SIGTERM to a real `recover` while it
// gates the new container of a swap it finishes. The swap finishes: the
// new container passes its gate, the old one goes, exit 0, one working
// framework on the new image. (Before: the gate cut short counted as a
// failed one; its rollback, every engine call cancelled, printed "ROLLBACK
// FAILED" with by-hand advice to remove the healthy new container, exit 1.)
func TestAttackRecoverSignalDuringGate(t *testing.T) {
	bed.Parallel(t, arEngineSlot)
	ctx := t.Context()
	e, conn := arEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("arsigg-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(133)})
	fw := dep.Framework.Name
	pt := arKillPoint{"after the new container got the name", events.ActionRename, 2, 0, func() string { return bed.Images.FrameworkSlow }}
	arKillUpgrade(t, ctx, e, conn, fw, pt)
	arSettle(t, ctx, e, p)
	// Why a stop: the killed tarsup may have started the new container
	// already; stopped, the recovery starts it and then gates its slow start.
	d.Stop(fw)
	newID := inspect(t, ctx, e, fw).ID

	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionStart)), filters.Arg("container", newID))})
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), append(append([]string{"recover"}, conn...), gateFlags...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-msgs: // the recovery started the new container; its gate waits for the slow start
	case err := <-errs:
		t.Fatalf("engine events: %v", err)
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("recover never started %s:\n%s", fw, out.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	t.Logf("recover after SIGTERM during the gate: %v\n%s", err, out.String())
	if err != nil || !strings.Contains(out.String(), fw+" on "+e.Host+": finish: gate the new container, remove the old one: done") ||
		strings.Contains(out.String(), "ROLLBACK FAILED") || strings.Contains(out.String(), "roll back") {
		t.Errorf("want the swap under way finished, exit 0; got %v", err)
	}
	arRequireWorking(t, ctx, d, e, dep, p)
	if in := inspect(t, ctx, e, fw); in.ID != newID {
		t.Errorf("%s is %s, want the new container %s", fw, plan.Short(in.ID), plan.Short(newID))
	}
}

// TestAttackRecoverFinishWhoseGateFails: tarsup killed after the new
// container got the name, the new image never healthy. The dry run plans
// to finish, "roll back if it fails"; the real recover does the planned
// operations up to the gate, then the rollback, and the old container runs
// again under the name.
func TestAttackRecoverFinishWhoseGateFails(t *testing.T) {
	bed.Parallel(t, arEngineSlot)
	ctx := t.Context()
	e, conn := arEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("arfail-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(134)})
	fw := dep.Framework.Name
	pt := arKillPoint{"after the new container got the name", events.ActionRename, 2, 0, func() string { return bed.Images.FrameworkNeverHealthy }}
	arKillUpgrade(t, ctx, e, conn, fw, pt)
	arSettle(t, ctx, e, p)
	d.Stop(fw) // as the kill leaves it when it came before the start
	planned := arWithoutLock(t, arDryRun(t, ctx, e, conn, p))
	if len(planned) != 1 || !strings.HasPrefix(planned[0].Action, "finish:") || !strings.HasSuffix(planned[0].Result, "roll back if it fails") {
		t.Fatalf("dry run %+v", planned)
	}
	running := arRunning(t, ctx, e, p)
	since := time.Now()
	r := tarsup(t, ctx, append(append([]string{"recover", "--format", "json"}, conn...), gateFlags...)...)
	until := time.Now()
	var did []plan.Recovery
	if err := json.Unmarshal([]byte(r.Stdout), &did); err != nil {
		t.Fatalf("recover JSON: %v\n%s", err, r)
	}
	if r.ExitCode != 0 || len(did) != 1 || did[0].Action != "roll back: the new container is not healthy" || did[0].Result != "rolled back" {
		t.Errorf("recover: %s", r)
	}
	ops := arOps(planned[0].Result)
	gateAt := slices.Index(ops, "remove "+fw+".tarsup-old") // what the gate decides
	want := append(arExpectedEvents(ops[:gateAt], running),
		"rename "+fw+" -> "+fw+".tarsup-failed", "stop "+fw+".tarsup-failed", "rename "+fw+".tarsup-old -> "+fw, "start "+fw, "remove "+fw+".tarsup-failed")
	if got := arEngineOps(t, ctx, e, p, since, until); !slices.Equal(got, want) {
		t.Errorf("engine operations:\nwant %q\ngot  %q", want, got)
	}
	arRequireWorking(t, ctx, d, e, dep, p)
	if in := inspect(t, ctx, e, fw); in.ID != dep.Framework.ID {
		t.Errorf("%s is %s, want the old container back", fw, plan.Short(in.ID))
	}
}
