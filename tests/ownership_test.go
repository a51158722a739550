//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tests/testbed"
)

// ownEngineIndex is the preferred slot of the extra engine these tests use.
// Why not the local engine: it is shared with every other test run on the
// machine, and their tarsups would recover (or wait on) what these tests
// lay out on purpose: user containers under tarsup's names, stale locks.
// Why 15: these tests run beside the others (bed.Parallel), and attack13's
// slot 9 would make them take turns with those.
const ownEngineIndex = 15

// ownEngine starts (or reuses) the extra engine and returns it with the
// connection flags tarsup needs for it.
func ownEngine(t *testing.T, ctx context.Context) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, ctx, ownEngineIndex)
}

// state is what "the user's container is untouched" means: same ID, same
// name, same state, same start time.
func containerState(t *testing.T, ctx context.Context, e *testbed.Engine, name string) string {
	t.Helper()
	in := inspect(t, ctx, e, name)
	return fmt.Sprintf("%s %s %s running=%v started=%s", in.ID, in.Name, in.State.Status, in.State.Running, in.State.StartedAt)
}

// TestOwnershipUserContainers: containers tarsup did not create are not
// tarsup's, whatever their names. A user's X.tarsup-old with no X is left
// alone by recover; a user's tarsup-lock is neither removed nor taken over
// (exit 3 naming it); a user's X.tarsup-old beside a running X makes the
// upgrade of X a pre-flight refusal (exit 3) that stops nothing.
func TestOwnershipUserContainers(t *testing.T) {
	bed.Parallel(t, ownEngineIndex)
	ctx := t.Context()
	e, conn := ownEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("own-")

	t.Run("X.tarsup-old and no X: recover leaves it alone", func(t *testing.T) {
		lone := d.Run(testbed.ContainerSpec{Name: p + "lone.tarsup-old", Image: bed.Images.Framework3015, NoStart: true})
		before := containerState(t, ctx, e, lone.Name)
		r := tarsup(t, ctx, append(append([]string{"recover"}, conn...), gateFlags...)...)
		requireExit(t, r, 0)
		if after := containerState(t, ctx, e, lone.Name); after != before {
			t.Fatalf("recover touched the user's %s:\nbefore %s\nafter  %s\n%s", lone.Name, before, after, r)
		}
		if got := names(t, ctx, e, p+"lone"); len(got) != 1 || got[0] != lone.Name {
			t.Fatalf("containers %v, want only %s", got, lone.Name)
		}
	})

	t.Run("X.tarsup-old beside a running X: upgrade refuses, stops nothing", func(t *testing.T) {
		dep := d.TarsDocs(testbed.TarsLayout{Prefix: p + "b-", Subnet: e.Subnet(51)})
		fw := dep.Framework.Name
		user := d.Run(testbed.ContainerSpec{Name: fw + ".tarsup-old", Image: bed.Images.MySQL, NoStart: true})
		fwBefore, userBefore := containerState(t, ctx, e, fw), containerState(t, ctx, e, user.Name)

		r := tarsup(t, ctx, append(append(append([]string{"upgrade", "--to", "v3.0.16"}, conn...), only(fw)...), gateFlags...)...)
		requireExit(t, r, 3, user.Name, "rename it", "tarsup did not create it")
		t.Logf("refused as it should be:\n%s", r)
		if after := containerState(t, ctx, e, fw); after != fwBefore {
			t.Errorf("%s was touched (an outage for nothing):\nbefore %s\nafter  %s", fw, fwBefore, after)
		}
		if after := containerState(t, ctx, e, user.Name); after != userBefore {
			t.Errorf("the user's %s was touched:\nbefore %s\nafter  %s", user.Name, userBefore, after)
		}
		if strings.Contains(r.Stdout, "stop old") {
			t.Errorf("the upgrade stopped something:\n%s", r)
		}
		// A dry run says the same.
		r = tarsup(t, ctx, append(append([]string{"upgrade", "--to", "v3.0.16", "--dry-run"}, conn...), only(fw)...)...)
		requireExit(t, r, 3, user.Name)
	})

	t.Run("a user's tarsup-lock: never removed, exit 3 naming it", func(t *testing.T) {
		userLock := d.Run(testbed.ContainerSpec{Name: lock.EngineLockName, Image: bed.Images.MySQL})
		defer func() {
			_ = e.Client.ContainerRemove(context.WithoutCancel(ctx), userLock.ID, container.RemoveOptions{Force: true})
		}()
		before := containerState(t, ctx, e, lock.EngineLockName)
		for _, args := range [][]string{
			append(append([]string{"recover"}, conn...), gateFlags...),
			append(append([]string{"recover", "--force"}, conn...), gateFlags...),
		} {
			r := tarsup(t, ctx, args...)
			requireExit(t, r, 3, lock.EngineLockName, "did not create")
			t.Logf("refused as it should be:\n%s", r)
			if after := containerState(t, ctx, e, lock.EngineLockName); after != before {
				t.Fatalf("%v touched the user's tarsup-lock:\nbefore %s\nafter  %s\n%s", args, before, after, r)
			}
		}
	})
}

// ownStatusRow is what these tests read of `tarsup status --format json`.
type ownStatusRow struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	Interrupted *bool  `json:"interrupted"`
	Note        string `json:"note"`
}

// TestStatusInterruptedSwap: a swap left half done by a tarsup that died
// (the journal labels as a kill -9 after the rename leaves them) shows in
// status as an interrupted upgrade, in the table and in JSON, not as two
// ordinary framework rows; a user's container under a temporary name is
// flagged as not tarsup's.
func TestStatusInterruptedSwap(t *testing.T) {
	bed.Parallel(t, ownEngineIndex)
	ctx := t.Context()
	e, conn := ownEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("ostat-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(52)})
	fw := dep.Framework.Name

	// What a tarsup killed right after giving the new container the name
	// leaves: the old one stopped and aside, the new one created under the
	// name with the journal, owned by a process that is gone.
	old := inspect(t, ctx, e, fw)
	d.Stop(fw)
	if err := e.Client.ContainerRename(ctx, old.ID, fw+".tarsup-old"); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	d.Run(testbed.ContainerSpec{Name: fw, Image: bed.Images.Framework3016, NoStart: true, Labels: map[string]string{
		plan.LabelTxn: "e2e", plan.LabelTxnName: fw, plan.LabelTxnOld: old.ID,
		plan.LabelTxnOldRunning: "true", plan.LabelTxnOwner: host + "/" + fmt.Sprint(deadPID(t)) + "/1",
		plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339),
	}})
	user := d.Run(testbed.ContainerSpec{Name: p + "other.tarsup-old", Image: bed.Images.Framework3015, NoStart: true})

	r := tarsup(t, ctx, append([]string{"status", "--format", "json"}, conn...)...)
	requireExit(t, r, 0)
	var rows []ownStatusRow
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.Stdout)
	}
	got := map[string]ownStatusRow{}
	for _, row := range rows {
		got[row.Name] = row
		if row.Interrupted == nil {
			t.Fatalf("row %s has no interrupted key:\n%s", row.Name, r.Stdout)
		}
	}
	for _, n := range []string{fw, fw + ".tarsup-old"} {
		if row, ok := got[n]; !ok || !*row.Interrupted || !strings.Contains(row.Note, "interrupted upgrade, run tarsup recover") {
			t.Errorf("row %s = %+v, want an interrupted upgrade", n, row)
		}
	}
	if row := got[user.Name]; *row.Interrupted || !strings.Contains(row.Note, "not tarsup's") {
		t.Errorf("row %s = %+v, want not interrupted and flagged as not tarsup's", user.Name, row)
	}
	if row := got[dep.DB.Name]; row.Interrupted == nil || *row.Interrupted || row.Note != "" {
		t.Errorf("row %s = %+v, want an ordinary row", dep.DB.Name, row)
	}

	r = tarsup(t, ctx, append([]string{"status"}, conn...)...)
	requireExit(t, r, 0, "NOTE")
	for _, line := range strings.Split(r.Stdout, "\n") {
		if strings.Contains(line, " "+fw+".tarsup-old ") && !strings.Contains(line, "interrupted upgrade, run tarsup recover") {
			t.Errorf("table row without the note: %q", line)
		}
	}
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestSigtermBetweenFrameworkHosts: SIGTERM to `tarsup upgrade` during the
// master's step of a master+slave deployment lets that step finish and
// starts nothing more, and the run exits 1 saying first that the framework
// hosts are now on different versions, then which steps did not run. The
// same upgrade run again finishes the job.
func TestSigtermBetweenFrameworkHosts(t *testing.T) {
	bed.Parallel(t, ownEngineIndex)
	ctx := t.Context()
	e, conn := ownEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("sigterm-")
	sub := e.Subnet(53)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: sub})
	fw := dep.Framework.Name
	slave := d.Run(testbed.ContainerSpec{
		Name:  p + "framework2",
		Image: bed.Images.Framework3015,
		Env: []string{"MYSQL_HOST=" + dep.DB.IP, "MYSQL_ROOT_PASSWORD=tars2015", "MYSQL_USER=root", "MYSQL_PORT=3306",
			"REBUILD=false", "INET=eth0", "SLAVE=true"},
		Networks: []testbed.Attachment{{Network: dep.Network, IPv4: testbed.HostIP(sub, 4)}},
		Restart:  "always",
	})
	d.WaitTCP(slave.IP + ":17890")
	slaveBefore := containerState(t, ctx, e, slave.Name)

	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionStart)))})

	var out strings.Builder
	args := append(append(append([]string{"upgrade", "--to", "v3.0.16"}, conn...), only(fw, slave.Name)...),
		"--health-timeout", "30s", "--monitor", "3s", "--stop-timeout", "5s", "--lock-wait", "10m")
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The master's new container starts under the master's name: SIGTERM
	// then, while its health gate runs.
wait:
	for {
		select {
		case m := <-msgs:
			if m.Actor.Attributes["name"] != fw {
				continue
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			break wait
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case err := <-done:
			t.Fatalf("tarsup finished before the master's new container started (%v):\n%s", err, out.String())
		case <-time.After(5 * time.Minute):
			t.Fatalf("the master's new container never started:\n%s", out.String())
		}
	}
	err := <-done
	stopEvents()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	msg := out.String()
	t.Logf("after SIGTERM (exit %d):\n%s", code, msg)
	if code != 1 {
		t.Fatalf("exit %d after SIGTERM, want 1:\n%s", code, msg)
	}
	split := "framework hosts are on different versions now: " + fw + " v3.0.16, " + slave.Name + " v3.0.15: run tarsup upgrade --to v3.0.16 again to finish"
	i, j := strings.Index(msg, split), strings.Index(msg, "did not run: "+slave.Name)
	if i < 0 || j < 0 || j < i {
		t.Fatalf("the message lacks the version split first, then the step not run:\n%s", msg)
	}
	// The master's step finished; the slave's never started.
	if v := strings.TrimSpace(httpBody(t, ctx, dep.WebHost+"/version")); v != "v3.0.16" {
		t.Errorf("master runs %s, want v3.0.16 (its step should have finished)", v)
	}
	if after := containerState(t, ctx, e, slave.Name); after != slaveBefore {
		t.Errorf("the slave was touched after SIGTERM:\nbefore %s\nafter  %s", slaveBefore, after)
	}
	if got := names(t, ctx, e, p); len(got) != 3 {
		t.Errorf("containers %v, want the db, the master and the slave only", got)
	}

	// The same upgrade again finishes.
	r := tarsup(t, ctx, append(append(append([]string{"upgrade", "--to", "v3.0.16"}, conn...), only(fw, slave.Name)...), gateFlags...)...)
	requireExit(t, r, 0, slave.Name+": recreate v3.0.15 -> v3.0.16")
}

// TestStaleLockStampede: several tarsups started at once against an engine
// whose lock was left by a dead tarsup. Exactly one takes it over and
// proceeds; the others exit 3 naming the holder (no --lock-wait) or wait
// for it (--lock-wait); none fails with exit 1 ("removal already in
// progress" when two remove the same stale lock).
func TestStaleLockStampede(t *testing.T) {
	bed.Parallel(t, ownEngineIndex)
	ctx := t.Context()
	e, conn := ownEngine(t, ctx)
	d := bed.On(ctx, t, e)
	p := uniq("stampede-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(54)})
	fw := dep.Framework.Name
	host, _ := os.Hostname()
	staleLock := func() {
		d.Run(testbed.ContainerSpec{Name: lock.EngineLockName, Image: bed.Images.Framework3015, NoStart: true, Labels: map[string]string{
			lock.LabelLock: "1", plan.LabelTxnOwner: host + "/" + fmt.Sprint(deadPID(t)) + "/1",
			plan.LabelTxnStarted: time.Now().UTC().Format(time.RFC3339),
		}})
	}
	stampede := func(n int, args ...string) []testbed.Result {
		results := make([]testbed.Result, n)
		start := make(chan struct{})
		done := make(chan struct{})
		for i := range results {
			go func() {
				defer func() { done <- struct{}{} }()
				<-start
				results[i] = testbed.Run(ctx, bed.Tarsup(t), args...)
			}()
		}
		close(start)
		for range results {
			<-done
		}
		return results
	}
	const n = 6

	staleLock()
	// The winner's upgrade takes a few seconds (a slow image, a monitor
	// period), long enough for every other one to meet its lock.
	rs := stampede(n, append(append(append([]string{"upgrade", "--framework-image", bed.Images.FrameworkSlow}, conn...), only(fw)...),
		"--health-timeout", "30s", "--monitor", "3s", "--stop-timeout", "5s", "--lock-wait", "0s")...)
	codes := map[int]int{}
	for _, r := range rs {
		codes[r.ExitCode]++
		if strings.Contains(r.Stderr, "already in progress") || (r.ExitCode != 0 && r.ExitCode != 3) {
			t.Errorf("a tarsup of the stampede failed: %s", r)
		}
		if r.ExitCode == 3 && !strings.Contains(r.Stderr, "another tarsup") {
			t.Errorf("exit 3 without naming the holder: %s", r)
		}
	}
	t.Logf("exit codes %v; one refusal:\n%s", codes, rs[len(rs)-1])
	if codes[0] != 1 || codes[3] != n-1 {
		t.Fatalf("exit codes %v, want exactly one 0 and %d times 3", codes, n-1)
	}

	staleLock()
	rs = stampede(n, append(append(append([]string{"upgrade", "--framework-image", bed.Images.Framework3016}, conn...), only(fw)...), gateFlags...)...)
	upgraded := 0
	for _, r := range rs {
		if r.ExitCode != 0 {
			t.Errorf("with --lock-wait every tarsup waits its turn, but: %s", r)
		}
		if strings.Contains(r.Stdout, fw+": recreate") && !strings.Contains(r.Stdout, "nothing to do") {
			upgraded++
		}
	}
	if upgraded != 1 {
		t.Errorf("%d tarsups upgraded %s, want exactly one (the others then find nothing to do)", upgraded, fw)
	}
	if in := inspect(t, ctx, e, fw); !strings.HasSuffix(in.Config.Image, "framework:v3.0.16") {
		t.Errorf("%s runs %s", fw, in.Config.Image)
	}
	if _, err := e.Client.ContainerInspect(ctx, lock.EngineLockName); err == nil {
		t.Errorf("the engine lock is still there after every tarsup finished")
	}
}
