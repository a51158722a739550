//go:build e2e

package tests

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// The attacks on issue 12's hooks, windows and cooldown with the real
// tarsup binary, on an engine of their own (slot 13): a tarsup killed
// during a hook, and a machine whose TZ Go cannot read.
const a12bEngineSlot = 13

// a12bFramework lays out a database and a framework (v3.0.15, data on a
// volume, a static IP on its own network, subnet k) on e and waits until
// the framework answers.
func a12bFramework(t *testing.T, ctx context.Context, e *testbed.Engine, d *testbed.Deployer, p string, k int) *testbed.Container {
	t.Helper()
	sub := e.Subnet(k)
	netName := d.Network(p+"net", sub)
	dbIP, fwIP := testbed.HostIP(sub, 2), testbed.HostIP(sub, 3)
	d.Run(testbed.ContainerSpec{Name: p + "mysql", Image: bed.Images.MySQL, Env: []string{"MYSQL_ROOT_PASSWORD=tars2015"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: dbIP}}, Restart: "always"})
	fw := d.Run(testbed.ContainerSpec{
		Name: p + "framework", Image: bed.Images.Framework3015,
		Env:      []string{"MYSQL_HOST=" + dbIP, "MYSQL_ROOT_PASSWORD=tars2015", "MYSQL_USER=root", "REBUILD=false", "INET=eth0"},
		Volumes:  []string{d.Volume(p+"data") + ":/data/tars"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: fwIP}},
		Restart:  "always",
	})
	d.WaitTCP(net.JoinHostPort(fwIP, "17890"))
	d.WaitHTTP("http://" + fwIP + ":3000/get_tarsnode")
	return fw
}

// killDuringHook starts tarsup with args, waits until the hook wrote
// ready (its processes' PIDs are in pids by then) and kills tarsup with
// SIGKILL. It returns the output tarsup printed.
func killDuringHook(t *testing.T, ctx context.Context, ready string, args ...string) string {
	t.Helper()
	var out strings.Builder
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("tarsup ended (%v) before its hook ran:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the hook never ran:\n%s", out.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	return out.String()
}

// hookPIDsGone fails the test when a process whose PID is in pids still
// runs (not a zombie) once the guard had its time (SIGTERM, then SIGKILL
// 3 s later), and kills it.
func hookPIDsGone(t *testing.T, pids string) {
	t.Helper()
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		if pid <= 1 {
			t.Fatalf("pid %q", f)
		}
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			stat, err := os.ReadFile("/proc/" + f + "/stat")
			if err != nil || strings.Contains(string(stat), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the hook's process %d still runs after its tarsup was killed: %s", pid, stat)
			}
		}
	}
}

// hookThatHangs is a hook that records its PID and a background child's
// (one that ignores SIGTERM) in dir/pids, says it is ready, and waits.
func hookThatHangs(dir string) string {
	return "(trap '' TERM; exec sleep 600) & echo $! > " + dir + "/pids; echo $$ >> " + dir + "/pids; touch " + dir + "/ready; wait"
}

// TestAttack12bKillDuringHook: kill -9 of tarsup during a pre-upgrade
// hook (its timeout 10 minutes away) leaves no process of the hook on the
// machine, changes nothing, and `recover` then finds nothing to do; kill -9
// during a post-upgrade hook leaves no hook process either, and `recover`
// finishes the swap (the new container passes its gate and stays), after
// which status shows the framework on v3.0.16 and nothing to recover.
func TestAttack12bKillDuringHook(t *testing.T) {
	bed.Parallel(t, a12bEngineSlot)
	ctx := t.Context()
	e, conn := extraEngine(t, ctx, a12bEngineSlot)
	d := bed.On(ctx, t, e)
	p := uniq("a12b-kill-")
	fw := a12bFramework(t, ctx, e, d, p, 240)
	base := append(append([]string{"upgrade", "--to", "v3.0.16", "--only", fw.Name, "--hook-timeout", "10m"}, conn...), gateFlags...)

	before := snapshot(t, ctx, e, p)
	pre := t.TempDir()
	out := killDuringHook(t, ctx, filepath.Join(pre, "ready"), append(base, "--pre-upgrade", hookThatHangs(pre))...)
	hookPIDsGone(t, filepath.Join(pre, "pids"))
	requireUnchanged(t, before, snapshot(t, ctx, e, p))
	r := tarsup(t, ctx, append(append([]string{"recover"}, conn...), gateFlags...)...)
	requireExit(t, r, 0)
	requireUnchanged(t, before, snapshot(t, ctx, e, p))
	if t.Failed() {
		t.Fatalf("tarsup's output before the kill:\n%s", out)
	}

	post := t.TempDir()
	out = killDuringHook(t, ctx, filepath.Join(post, "ready"), append(base, "--post-upgrade", hookThatHangs(post))...)
	hookPIDsGone(t, filepath.Join(post, "pids"))
	r = tarsup(t, ctx, append(append([]string{"recover"}, conn...), gateFlags...)...)
	requireExit(t, r, 0)
	after := inspect(t, ctx, e, fw.Name)
	if after.ID == fw.ID || after.Config.Image != bed.Images.Framework3016 || !after.State.Running {
		t.Fatalf("after recover %s runs %s (running %v), want the new v3.0.16 container kept:\n%s\nbefore the kill:\n%s",
			after.ID, after.Config.Image, after.State.Running, r, out)
	}
	if got := names(t, ctx, e, fw.Name); strings.Join(got, " ") != fw.Name {
		t.Errorf("containers %v after recover, want only %s", got, fw.Name)
	}
	st := tarsup(t, ctx, append([]string{"status", "--offline"}, conn...)...)
	requireExit(t, st, 0, fw.Name)
	if strings.Contains(st.Stdout, ".tarsup-") {
		t.Errorf("status still shows a temporary container:\n%s", st)
	}
}

// TestAttack12bWindowUnreadableTZ: with TZ set to what Go cannot read (a
// POSIX rule as cron users in China write it, or a typo), a window without
// CRON_TZ= would silently follow UTC: refresh refuses it, exit 2 naming TZ
// and the fix, before any engine is contacted or anything changes.
func TestAttack12bWindowUnreadableTZ(t *testing.T) {
	bed.Parallel(t, a12bEngineSlot)
	ctx := t.Context()
	e, conn := extraEngine(t, ctx, a12bEngineSlot)
	d := bed.On(ctx, t, e)
	p := uniq("a12b-tz-")
	a12bFramework(t, ctx, e, d, p, 241)
	before := snapshot(t, ctx, e, p)
	for _, tz := range []string{"CST-8", "Nowhere/City"} {
		r := testbed.RunEnv(ctx, []string{"TZ=" + tz}, bed.Tarsup(t), append(append([]string{"refresh", "--lock", filepath.Join(t.TempDir(), "lock"),
			"--window", "daily 00:00-24:00"}, conn...), gateFlags...)...)
		requireExit(t, r, 2, `bad --window "daily 00:00-24:00": it names no zone, and TZ=`+tz+` is not a zone tarsup can read, so the window would follow UTC`,
			`("CRON_TZ=Asia/Shanghai daily 00:00-24:00")`)
	}
	requireUnchanged(t, before, snapshot(t, ctx, e, p))
}
