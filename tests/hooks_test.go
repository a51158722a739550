//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tarsup/tarsup/tests/testbed"
)

// The lifecycle hooks (README: Hooks) on the main engine: hooks on this
// machine are real `sh -c` commands that write files the test reads;
// hooks in a container are the fake image's `tarsfake hook` (the images
// have no shell), which appends its image's version and TARSUP_*
// variables to a file on the framework's data volume.

// hookFramework lays out a database and a framework (v3.0.15, data on a
// volume, a static IP on its own network, subnet k) whose container
// carries labels, and waits until the framework answers.
func hookFramework(t *testing.T, ctx context.Context, d *testbed.Deployer, p string, k int, labels map[string]string) *testbed.Container {
	t.Helper()
	sub := bed.Local.Subnet(k)
	netName := d.Network(p+"net", sub)
	dbIP, fwIP := testbed.HostIP(sub, 2), testbed.HostIP(sub, 3)
	d.Run(testbed.ContainerSpec{Name: p + "mysql", Image: bed.Images.MySQL, Env: []string{"MYSQL_ROOT_PASSWORD=tars2015"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: dbIP}}, Restart: "always"})
	fw := d.Run(testbed.ContainerSpec{
		Name: p + "framework", Image: bed.Images.Framework3015, Labels: labels,
		Env:      []string{"MYSQL_HOST=" + dbIP, "MYSQL_ROOT_PASSWORD=tars2015", "MYSQL_USER=root", "REBUILD=false", "INET=eth0"},
		Volumes:  []string{d.Volume(p+"data") + ":/data/tars"},
		Networks: []testbed.Attachment{{Network: netName, IPv4: fwIP}},
		Restart:  "always",
	})
	d.WaitTCP(net.JoinHostPort(fwIP, "17890"))
	d.WaitHTTP("http://" + fwIP + ":3000/get_tarsnode")
	return fw
}

// marker is the label value of an exec-form hook that appends to
// /data/tars/hooks.log, with the fake hook's extra arguments.
func marker(extra ...string) string {
	b, _ := json.Marshal(append([]string{"/tarsfake", "hook", "/data/tars/hooks.log"}, extra...))
	return string(b)
}

// readEnvFile reads a file of `env` output into a map.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the hook did not write %s: %v", path, err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// TestHooksRun: a real upgrade runs every hook where and when it should:
// --pre-upgrade before anything changed, with the step in TARSUP_* and as
// JSON on stdin; the pre-stop label in the old container (v3.0.15); the
// post-start label in the new one (v3.0.16); --post-upgrade with result
// ok; no --on-rollback. The dry run lists them and runs none. Hook output
// reaches the log, prefixed by the hook, with no secret in it.
func TestHooksRun(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("hooks-run-")
	fw := hookFramework(t, ctx, d, p, 200, map[string]string{"tarsup.hook.pre-stop": marker(), "tarsup.hook.post-start": marker()})
	dir := t.TempDir()
	hookArgs := []string{
		"--pre-upgrade", "env > " + dir + "/pre.env; cat > " + dir + "/pre.json; echo backing up for $TARSUP_CONTAINER, token $HOOK_TEST_TOKEN",
		"--post-upgrade", "env > " + dir + "/post.env; cat > " + dir + "/post.json",
		"--on-rollback", "touch " + dir + "/rolled-back",
	}
	args := append([]string{"upgrade", "--to", "v3.0.16", "--only", fw.Name}, hookArgs...)

	before := snapshot(t, ctx, bed.Local, p)
	dry := tarsup(t, ctx, append(args, "--dry-run")...)
	requireExit(t, dry, 0,
		fw.Name+`: hook pre-upgrade on this machine: sh -c "env > `+dir+`/pre.env;`,
		fw.Name+": hook pre-stop in the old container, before it stops (label tarsup.hook.pre-stop): "+marker()+" (timeout 1m0s; a failure skips the step, changing nothing)",
		fw.Name+": hook post-start in the new container, once it passed its gate (label tarsup.hook.post-start): "+marker()+" (timeout 1m0s; a failure rolls back)",
		fw.Name+": hook post-upgrade on this machine:",
		fw.Name+": hook on-rollback on this machine:")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("the dry run ran hooks: %v", entries)
	}

	r := testbed.RunEnv(ctx, []string{"HOOK_TEST_TOKEN=s3cr3t-t0ken"}, bed.Tarsup(t), append(args, gateFlags...)...)
	requireExit(t, r, 0, "hook pre-upgrade: ok", "hook pre-stop: ok", "hook post-start: ok", "hook post-upgrade: ok",
		"--pre-upgrade ("+fw.Name+"): backing up for "+fw.Name+", token ***",
		"label tarsup.hook.pre-stop ("+fw.Name+"): TARSUP_HOOK=pre-stop",
		"label tarsup.hook.post-start ("+fw.Name+"): MYSQL_ROOT_PASSWORD=***")
	for _, secret := range []string{"s3cr3t-t0ken", "tars2015"} {
		if strings.Contains(r.Stdout+r.Stderr, secret) {
			t.Errorf("the output echoes the secret %q:\n%s", secret, r)
		}
	}
	after := inspect(t, ctx, bed.Local, fw.Name)
	if after.ID == fw.ID || after.Config.Image != bed.Images.Framework3016 {
		t.Fatalf("not upgraded: %s runs %s", after.ID, after.Config.Image)
	}

	pre := readEnvFile(t, filepath.Join(dir, "pre.env"))
	for k, want := range map[string]string{"TARSUP_HOOK": "pre-upgrade", "TARSUP_HOST": bed.Local.Host, "TARSUP_CONTAINER": fw.Name,
		"TARSUP_CONTAINER_ID": fw.ID, "TARSUP_ROLE": "framework", "TARSUP_FROM": bed.Images.Framework3015, "TARSUP_TO": bed.Images.Framework3016,
		"TARSUP_RESULT": "", "HOOK_TEST_TOKEN": "s3cr3t-t0ken"} {
		if got, ok := pre[k]; !ok || got != want {
			t.Errorf("pre-upgrade %s=%q (set %v), want %q", k, got, ok, want)
		}
	}
	post := readEnvFile(t, filepath.Join(dir, "post.env"))
	if post["TARSUP_HOOK"] != "post-upgrade" || post["TARSUP_RESULT"] != "ok" || post["TARSUP_NEW_ID"] != after.ID {
		t.Errorf("post-upgrade env: hook %q, result %q, new id %q (want %s)", post["TARSUP_HOOK"], post["TARSUP_RESULT"], post["TARSUP_NEW_ID"], after.ID)
	}
	for file, want := range map[string]map[string]string{
		"pre.json":  {"hook": "pre-upgrade", "container": fw.Name, "id": fw.ID, "role": "framework", "from": bed.Images.Framework3015, "to": bed.Images.Framework3016, "cause": "--to v3.0.16", "result": ""},
		"post.json": {"hook": "post-upgrade", "container": fw.Name, "new_id": after.ID, "result": "ok"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		var got map[string]string
		if err != nil || json.Unmarshal(data, &got) != nil {
			t.Fatalf("stdin %s: %q (%v): want the step as JSON", file, data, err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", file, k, got[k], v)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rolled-back")); err == nil {
		t.Errorf("--on-rollback ran after an upgrade that worked")
	}

	// Which container ran each label hook: the fake hook writes its image's version.
	lines := strings.Split(strings.TrimSpace(d.ReadFile(fw.Name, "/data/tars/hooks.log")), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "version=v3.0.15 ") || !strings.Contains(lines[0], "TARSUP_HOOK=pre-stop") ||
		!strings.HasPrefix(lines[1], "version=v3.0.16 ") || !strings.Contains(lines[1], "TARSUP_HOOK=post-start") ||
		!strings.Contains(lines[1], "TARSUP_RESULT=ok") || !strings.Contains(lines[1], "TARSUP_NEW_ID="+after.ID) {
		t.Errorf("hooks.log:\n%s\nwant pre-stop in v3.0.15, then post-start in v3.0.16", strings.Join(lines, "\n"))
	}
}

// TestHooksPreFailure: a failing pre hook skips the step: the container
// keeps its ID, name and state, the run exits 1 naming the hook and its
// last output lines. First --pre-upgrade fails (the pre-stop label does
// not even run), then it times out, then the pre-stop label fails,
// exec'd in the old container.
func TestHooksPreFailure(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("hooks-pre-")
	fw := hookFramework(t, ctx, d, p, 201, map[string]string{"tarsup.hook.pre-stop": marker("exit=5")})
	before := snapshot(t, ctx, bed.Local, p)
	args := append([]string{"upgrade", "--to", "v3.0.16", "--only", fw.Name}, gateFlags...)

	r := tarsup(t, ctx, append(args, "--pre-upgrade", "echo checking disk; echo disk full >&2; exit 3")...)
	requireExit(t, r, 1, fw.Name+" on "+bed.Local.Host+": the step was skipped, the container was not changed: pre-upgrade hook --pre-upgrade",
		"exit status 3", "  | checking disk\n  | disk full", "skipped (pre hook failed)")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	if _, err := bed.Local.Client.ContainerStatPath(ctx, fw.Name, "/data/tars/hooks.log"); err == nil {
		t.Errorf("the pre-stop label ran after --pre-upgrade failed")
	}

	// Past --hook-timeout a hook is killed with its whole process group
	// (a child it left in the background too): a failure as well.
	pids := filepath.Join(t.TempDir(), "pids")
	r = tarsup(t, ctx, append(args, "--hook-timeout", "2s", "--pre-upgrade", "echo $$ > "+pids+"; sleep 300 & echo $! >> "+pids+"; echo waiting; wait")...)
	requireExit(t, r, 1, "pre-upgrade hook --pre-upgrade", "timed out after 2s: its process group was killed", "  | waiting", "skipped (pre hook failed)")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	requireKilled(t, pids)

	r = tarsup(t, ctx, args...)
	requireExit(t, r, 1, "pre-stop hook label tarsup.hook.pre-stop", "exit status 5", "  | hook: exiting 5 as asked", "skipped (pre hook failed)")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	if log := d.ReadFile(fw.Name, "/data/tars/hooks.log"); !strings.HasPrefix(log, "version=v3.0.15 ") || strings.Count(log, "\n") != 1 {
		t.Errorf("hooks.log %q: want the one run of the pre-stop label, in the old container", log)
	}
	if got := names(t, ctx, bed.Local, fw.Name); strings.Join(got, " ") != fw.Name {
		t.Errorf("containers %v, want only %s (the new one removed)", got, fw.Name)
	}
}

// TestHooksPostFailure: a failing --post-upgrade rolls the step back (the
// old container is back, same ID, and --on-rollback is told
// rolled-back); with --post-hook-failure warn the new container stays
// and the run exits 0 with a warning.
func TestHooksPostFailure(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("hooks-post-")
	fw := hookFramework(t, ctx, d, p, 202, nil)
	dir := t.TempDir()
	args := append([]string{"upgrade", "--to", "v3.0.16", "--only", fw.Name,
		"--post-upgrade", "echo smoke test failed; exit 1", "--on-rollback", "env > " + dir + "/rollback.env"}, gateFlags...)

	r := tarsup(t, ctx, args...)
	requireExit(t, r, 1, "post-upgrade hook --post-upgrade", "  | smoke test failed", "rolled back")
	back := inspect(t, ctx, bed.Local, fw.Name)
	if back.ID != fw.ID || !back.State.Running || back.Config.Image != bed.Images.Framework3015 {
		t.Fatalf("after the rollback %s runs %s (running %v), want the old %s back", back.ID, back.Config.Image, back.State.Running, fw.ID)
	}
	if got := names(t, ctx, bed.Local, fw.Name); strings.Join(got, " ") != fw.Name {
		t.Errorf("containers %v, want only %s", got, fw.Name)
	}
	env := readEnvFile(t, filepath.Join(dir, "rollback.env"))
	if env["TARSUP_HOOK"] != "on-rollback" || env["TARSUP_RESULT"] != "rolled-back" || env["TARSUP_CONTAINER"] != fw.Name {
		t.Errorf("on-rollback env: hook %q, result %q, container %q", env["TARSUP_HOOK"], env["TARSUP_RESULT"], env["TARSUP_CONTAINER"])
	}

	r = tarsup(t, ctx, append(args, "--post-hook-failure", "warn")...)
	requireExit(t, r, 0, "upgraded (warning: a post hook failed)", "kept the new container (--post-hook-failure warn): post-upgrade hook --post-upgrade")
	kept := inspect(t, ctx, bed.Local, fw.Name)
	if kept.ID == fw.ID || kept.Config.Image != bed.Images.Framework3016 || !kept.State.Running {
		t.Fatalf("with warn %s runs %s, want the new container kept", kept.ID, kept.Config.Image)
	}
}

// requireKilled fails the test when any process whose PID is in the file
// still runs (a zombie is dead, waiting for init to reap it).
func requireKilled(t *testing.T, pids string) {
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
		if stat, err := os.ReadFile("/proc/" + f + "/stat"); err == nil && !strings.Contains(string(stat), ") Z ") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the hook's process %d survived the timeout: %s", pid, stat)
		}
	}
}

// TestHooksRefresh: refresh runs the hooks of the steps it plans: a node
// whose tag moved gets --pre-upgrade and --post-upgrade on this machine,
// with the refresh's cause, and its post-start label in the new
// container; --monitor-only lists them and runs none.
func TestHooksRefresh(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("hooks-refresh-")
	hookFramework(t, ctx, d, p, 203, nil)
	repo := "e2e-hooks/" + testbed.NodeRepo
	ref, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: repo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.15"})
	if err != nil {
		t.Fatal(err)
	}
	node := d.Run(testbed.ContainerSpec{
		Name: p + "node", Image: ref, Env: []string{"WEB_HOST=http://" + testbed.HostIP(bed.Local.Subnet(203), 3) + ":3000"},
		Labels:   map[string]string{"tarsup.hook.post-start": marker()},
		Volumes:  []string{d.Volume(p+"node-data") + ":/data/tars"},
		Networks: []testbed.Attachment{{Network: p + "net", IPv4: testbed.HostIP(bed.Local.Subnet(203), 5)}},
		Restart:  "always",
	})
	d.WaitTCP(net.JoinHostPort(node.IP, "19385"))
	// The tag moves on: same version, another image.
	if _, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: repo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.15", Env: []string{"MOVED=1"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := append([]string{"refresh", "--lock", filepath.Join(dir, "run.lock"), "--only", node.Name,
		"--pre-upgrade", "env > " + dir + "/pre.env", "--post-upgrade", "env > " + dir + "/post.env"}, gateFlags...)

	r := tarsup(t, ctx, append(args, "--monitor-only")...)
	requireExit(t, r, 0, node.Name+": hook pre-upgrade on this machine:", node.Name+": hook post-start in the new container", node.Name+": hook post-upgrade on this machine:")
	if _, err := os.Stat(filepath.Join(dir, "pre.env")); err == nil {
		t.Fatal("--monitor-only ran a hook")
	}
	r = tarsup(t, ctx, args...)
	requireExit(t, r, 0, "hook pre-upgrade: ok", "hook post-start: ok", "hook post-upgrade: ok")
	after := inspect(t, ctx, bed.Local, node.Name)
	if after.ID == node.ID {
		t.Fatalf("the node was not recreated")
	}
	pre, post := readEnvFile(t, filepath.Join(dir, "pre.env")), readEnvFile(t, filepath.Join(dir, "post.env"))
	if pre["TARSUP_ROLE"] != "node" || pre["TARSUP_CONTAINER"] != node.Name || pre["TARSUP_FROM"] != ref || pre["TARSUP_TO"] != ref || pre["TARSUP_RESULT"] != "" {
		t.Errorf("pre-upgrade env: role %q, container %q, from %q, to %q, result %q", pre["TARSUP_ROLE"], pre["TARSUP_CONTAINER"], pre["TARSUP_FROM"], pre["TARSUP_TO"], pre["TARSUP_RESULT"])
	}
	if post["TARSUP_RESULT"] != "ok" || post["TARSUP_NEW_ID"] != after.ID {
		t.Errorf("post-upgrade env: result %q, new id %q (want %s)", post["TARSUP_RESULT"], post["TARSUP_NEW_ID"], after.ID)
	}
	if log := d.ReadFile(node.Name, "/data/tars/hooks.log"); !strings.Contains(log, "TARSUP_HOOK=post-start") || !strings.Contains(log, "TARSUP_NEW_ID="+after.ID) {
		t.Errorf("hooks.log %q: want the post-start label run in the new node", log)
	}
}

// TestHooksBadInput: a hook that cannot run, a bad --hook-timeout or
// --post-hook-failure, and a hook label that names no command are exit 2,
// naming the flag or the label, and change nothing.
func TestHooksBadInput(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("hooks-bad-")
	fw := hookFramework(t, ctx, d, p, 204, map[string]string{"tarsup.hook.post-start": `["/tarsfake", "hook"`})
	before := snapshot(t, ctx, bed.Local, p)
	base := []string{"upgrade", "--to", "v3.0.16", "--only", fw.Name}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pre-upgrade", ""}, `bad --pre-upgrade "": an empty value means nothing here`},
		{[]string{"--post-upgrade", " "}, `bad --post-upgrade " ": an empty value means nothing here`},
		{[]string{"--hook-timeout", "0"}, "bad --hook-timeout 0s: must be more than 0s"},
		{[]string{"--hook-timeout", "-1m"}, "bad --hook-timeout -1m0s: a duration must not be negative"},
		{[]string{"--post-hook-failure", "ignore"}, `bad --post-hook-failure "ignore": use rollback or warn`},
	} {
		r := tarsup(t, ctx, append(append(base, tc.args...), gateFlags...)...)
		requireExit(t, r, 2, tc.want)
	}
	r := tarsup(t, ctx, append(base, gateFlags...)...)
	requireExit(t, r, 2, fw.Name+" on "+bed.Local.Host+": label tarsup.hook.post-start", "is not a JSON array of strings", "nothing was changed")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}
