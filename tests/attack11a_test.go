//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/tarsdb"
	"github.com/tarsup/tarsup/tests/testbed"
)

// Attacks on issue 11's registration check and its database clients, as an
// operator's worst night would bring them. They run on extra engine 12 (a
// dockerd of their own: their runs wait for heartbeats), subnets 235..239.

// a11aEngineSlot is the extra engine these attacks run on (bed.Parallel: they
// take turns on it, beside the other engines' tests).
const a11aEngineSlot = 12

// a11aEngine is the engine of these attacks and the flags that reach it.
func a11aEngine(t *testing.T) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, t.Context(), a11aEngineSlot)
}

// a11aRow is what these attacks read of status' JSON rows.
type a11aRow struct {
	ID, Name, Role, Registration string
	Detail                       string `json:"registration_detail"`
	LastHeartbeat                string `json:"last_heartbeat"`
}

// a11aStatus runs status --format json (with extra args) and decodes it.
func a11aStatus(t *testing.T, ctx context.Context, flags []string, extra ...string) (map[string]a11aRow, testbed.Result) {
	t.Helper()
	r := tarsup(t, ctx, append(append([]string{"status", "--format", "json", "--offline"}, flags...), extra...)...)
	requireExit(t, r, 0)
	var rows []a11aRow
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.Stdout)
	}
	out := map[string]a11aRow{}
	for _, row := range rows {
		out[row.Name] = row
	}
	return out, r
}

// a11aNoClients fails the test if a database client container of tarsup's
// is on e (running or not), and removes it.
func a11aNoClients(t *testing.T, ctx context.Context, e *testbed.Engine) {
	t.Helper()
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", tarsdb.LabelClient))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		t.Errorf("database client container %s (%s) left behind", c.ID[:12], c.State)
		_ = e.Client.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
	}
}

// TestAttack11aDatabaseNamedElsewhere: the framework's MYSQL_HOST is a
// network alias of its database; a user's container NAMED like that alias
// runs on another network, with a t_node_info saying every node is
// inactive. The framework's DNS never resolves that container, so status
// must read the real database (nodes active), not the user's. tarsup
// matched a container name on any network and read the decoy.
func TestAttack11aDatabaseNamedElsewhere(t *testing.T) {
	bed.Parallel(t, a11aEngineSlot)
	ctx := t.Context()
	e, flags := a11aEngine(t)
	d := bed.On(ctx, t, e)
	dep := regDeployment(t, d, e, "a11el-", 235, 1)
	alias := dep.DB.Name + "-alias"
	// The real database gets the alias on the framework's network, at its
	// address, and the framework points MYSQL_HOST at it.
	if err := e.Client.NetworkDisconnect(ctx, dep.Network, dep.DB.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.NetworkConnect(ctx, dep.Network, dep.DB.ID, &network.EndpointSettings{
		IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: dep.DB.IP}, Aliases: []string{"mysql", alias}}); err != nil {
		t.Fatal(err)
	}
	spec := dep.FrameworkSpec
	spec.Env = append(append([]string{}, spec.Env...), "MYSQL_HOST="+alias)
	d.Replace(spec)
	since := d.DBNow(dep)
	d.WaitHeartbeatAfter(dep, dep.Nodes[0].IP, since)

	other := alias + "-net"
	d.Network(other, e.Subnet(236))
	maria, err := bed.MariaDB(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	d.MariaDB(testbed.MariaDBSpec{Name: alias, Image: maria, Network: other, RootPassword: dep.DBPassword})
	d.SQL(alias, dep.DBPassword, "CREATE DATABASE db_tars; CREATE TABLE db_tars.t_node_info (node_name varchar(128), endpoint_ip varchar(50), "+
		"present_state varchar(16), last_heartbeat datetime, last_reg_time datetime); "+
		"INSERT INTO db_tars.t_node_info VALUES ('"+dep.Nodes[0].IP+"', '"+dep.Nodes[0].IP+"', 'inactive', NOW() - INTERVAL 1 DAY, NOW() - INTERVAL 1 DAY);")

	rows, r := a11aStatus(t, ctx, flags)
	if got := rows[dep.Nodes[0].Name]; got.Registration != "active" {
		t.Errorf("status of %s: registration %q (%s), want active from the framework's database, not the container %s on another network:\n%s",
			dep.Nodes[0].Name, got.Registration, got.Detail, alias, r)
	}
	a11aNoClients(t, ctx, e)
}

// a11aPassword is an operator's password that shells and SQL dislike.
const a11aPassword = `it's "q" $HOME \x  sp-äö€`

// sqlQuote quotes s as a MariaDB string literal.
func sqlQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// TestAttack11aOddRowsPasswordAndDatabaseDown: t_node_info with what tarsup
// did not expect (1,000 more rows, names that are no IP, NULL heartbeats,
// tabs, newlines and backslashes in text fields) and a root password with
// quotes, spaces, $, a backslash and non-ASCII, changed with ALTER USER and
// given to the framework. status and the dry run read every node right;
// the password is in no `ps -eo args` line while they run, in none of
// their output at --log-level debug, and in no container left behind. Then
// the database is stopped by hand: status still prints every row, exit 0,
// and says the nodes' registration is unknown and why.
func TestAttack11aOddRowsPasswordAndDatabaseDown(t *testing.T) {
	bed.Parallel(t, a11aEngineSlot)
	ctx := t.Context()
	e, flags := a11aEngine(t)
	d := bed.On(ctx, t, e)
	dep := regDeployment(t, d, e, "a11odd-", 237, 2)
	d.TarsSQL(dep, "INSERT INTO db_tars.t_node_info (node_name, endpoint_ip, present_state, last_heartbeat) "+
		"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 1000) "+
		"SELECT CONCAT('bulk-', n), CONCAT('10.99.', n DIV 256, '.', n MOD 256), 'inactive', NULL FROM s;\n"+
		"INSERT INTO db_tars.t_node_info (node_name, endpoint_ip, present_state, last_heartbeat, data_dir) VALUES "+
		"('tab\there', 'nl\nthere', 'active', NOW(), 'x\ty'), ('back\\\\slash\\\\', '\\\\', 'inactive', NULL, ''), "+
		"('node-x.example', '', 'active', NOW(), 'a\nb');")
	d.TarsSQL(dep, "ALTER USER IF EXISTS 'root'@'%' IDENTIFIED BY "+sqlQuote(a11aPassword)+"; "+
		"ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY "+sqlQuote(a11aPassword)+"; FLUSH PRIVILEGES;")
	dep.DBPassword = a11aPassword
	spec := dep.FrameworkSpec
	spec.Env = append(append([]string{}, spec.Env...), "MYSQL_ROOT_PASSWORD="+a11aPassword)
	d.Replace(spec)
	since := d.DBNow(dep)
	for _, n := range dep.Nodes {
		d.WaitHeartbeatAfter(dep, n.IP, since)
	}

	stopPS := a11aWatchPS(t, a11aPassword)
	rows, r := a11aStatus(t, ctx, flags, "--log-level", "debug")
	for _, n := range dep.Nodes {
		if got := rows[n.Name]; got.Registration != "active" || got.LastHeartbeat == "" {
			t.Errorf("status of %s among odd rows: %+v, want active with a heartbeat:\n%s", n.Name, got, r)
		}
	}
	dry := tarsup(t, ctx, append(append([]string{"upgrade", "--dry-run", "--log-level", "debug", "--register-timeout", "30s",
		"--only", dep.Nodes[0].Name, "--node-image", nodeVariant(t, "a11odd-new", "A11_VARIANT=1")}, flags...), gateFlags...)...)
	requireExit(t, dry, 0, dep.Nodes[1].Name+": reregister: active again at "+dep.Nodes[1].IP)
	stopPS()
	for _, out := range []testbed.Result{r, dry} {
		if strings.Contains(out.Stdout+out.Stderr, a11aPassword) {
			t.Errorf("the password is in tarsup's output:\n%s", out)
		}
	}
	a11aNoClients(t, ctx, e)

	d.Stop(dep.DB.Name)
	rows, r = a11aStatus(t, ctx, flags)
	for _, name := range []string{dep.Framework.Name, dep.DB.Name, dep.Nodes[0].Name, dep.Nodes[1].Name} {
		if _, ok := rows[name]; !ok {
			t.Errorf("status with the database down does not list %s:\n%s", name, r)
		}
	}
	for _, n := range dep.Nodes {
		if got := rows[n.Name]; got.Registration != "unknown" || !strings.Contains(got.Detail, dep.DB.Name) || got.LastHeartbeat != "" {
			t.Errorf("status of %s with the database stopped: %+v, want unknown, naming %s", n.Name, got, dep.DB.Name)
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, a11aPassword) {
		t.Errorf("the password is in status' output:\n%s", r)
	}
	table := tarsup(t, ctx, append([]string{"status", "--offline"}, flags...)...)
	requireExit(t, table, 0, "REGISTRATION", "unknown")
	a11aNoClients(t, ctx, e)
}

// a11aWatchPS samples `ps -eo args` until the returned func is called,
// which fails the test if a line held secret.
func a11aWatchPS(t *testing.T, secret string) func() {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	samples := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			out, err := exec.Command("ps", "-eo", "args").Output()
			if err == nil {
				mu.Lock()
				samples++
				for _, l := range strings.Split(string(out), "\n") {
					if strings.Contains(l, secret) {
						seen = append(seen, l)
					}
				}
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		if samples == 0 {
			t.Error("ps never ran")
		}
		for _, l := range seen {
			t.Errorf("the password is on a command line: %s", l)
		}
	}
}

// TestAttack11aKill9AtClientCreate: kill -9 of tarsup status the moment its
// database client container is created (before or just after its start).
// Whatever is left must not show the password to docker inspect; it goes
// away by itself once started (AutoRemove), and status and recover ignore
// one that stays.
func TestAttack11aKill9AtClientCreate(t *testing.T) {
	bed.Parallel(t, a11aEngineSlot)
	ctx := t.Context()
	e, flags := a11aEngine(t)
	d := bed.On(ctx, t, e)
	dep := regDeployment(t, d, e, "a11k9-", 238, 1)
	for _, when := range []events.Action{events.ActionCreate, events.ActionStart} {
		id := a11aKillAt(t, ctx, e, when, append([]string{"status", "--offline"}, flags...)...)
		in, err := e.Client.ContainerInspect(ctx, id)
		if err == nil {
			b, _ := json.Marshal(in)
			if strings.Contains(string(b), dep.DBPassword) {
				t.Errorf("kill -9 at %s: the client container %s left behind shows the password to docker inspect", when, id[:12])
			}
			t.Cleanup(func() {
				_ = e.Client.ContainerRemove(context.WithoutCancel(ctx), id, container.RemoveOptions{Force: true})
			})
		}
		rows, r := a11aStatus(t, ctx, flags)
		for _, row := range rows {
			if row.ID == id {
				t.Errorf("status lists the client container %s:\n%s", row.Name, r)
			}
		}
		if got := rows[dep.Nodes[0].Name]; got.Registration != "active" {
			t.Errorf("status after the kill: %+v", got)
		}
		rec := tarsup(t, ctx, append([]string{"recover", "--dry-run"}, flags...)...)
		requireExit(t, rec, 0)
		if strings.Contains(rec.Stdout, id[:12]) {
			t.Errorf("recover --dry-run plans something for the client container:\n%s", rec)
		}
		if in.State != nil && in.State.Status != "created" {
			// Started: AutoRemove takes it once its input ended.
			a11aWaitGone(t, ctx, e, id)
		}
	}
}

// a11aKillAt runs tarsup with args and kills it (SIGKILL) at the first
// event when of a database client container; it returns that container's ID.
func a11aKillAt(t *testing.T, ctx context.Context, e *testbed.Engine, when events.Action, args ...string) string {
	t.Helper()
	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(when)), filters.Arg("label", tarsdb.LabelClient))})
	var out strings.Builder
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var id string
	select {
	case m := <-msgs:
		id = m.Actor.ID
		_ = cmd.Process.Signal(syscall.SIGKILL)
	case err := <-errs:
		t.Fatalf("engine events: %v", err)
	case err := <-done:
		t.Fatalf("tarsup ended before a client container's %s (%v):\n%s", when, err, out.String())
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("no client container %s:\n%s", when, out.String())
	}
	var ee *exec.ExitError
	if err := <-done; !errors.As(err, &ee) {
		t.Fatalf("tarsup was not killed: %v", err)
	}
	return id
}

// a11aWaitGone waits until container id is removed.
func a11aWaitGone(t *testing.T, ctx context.Context, e *testbed.Engine, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := e.Client.ContainerInspect(ctx, id); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the client container %s of a killed tarsup is still there", id[:12])
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAttack11aSigtermDuringRegistrationWait: SIGTERM while the check after
// the node steps waits for a node that does not heartbeat. The recreate is
// done and stays; the wait ends at once, nothing is restarted; exit 1, and
// the report says the run was interrupted and the check did not finish; no
// client container and no temporary name is left.
func TestAttack11aSigtermDuringRegistrationWait(t *testing.T) {
	bed.Parallel(t, a11aEngineSlot)
	ctx := t.Context()
	e, flags := a11aEngine(t)
	d := bed.On(ctx, t, e)
	dep := regDeployment(t, d, e, "a11term-", 239, 1)
	n := dep.Nodes[0]
	img := nodeVariant(t, "a11term-mute", "FAKE_NO_HEARTBEAT=true")
	args := append(append([]string{"upgrade", "--only", n.Name, "--node-image", img, "--register-timeout", "5m", "--format", "json"}, flags...), gateFlags...)

	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))})
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	renamed, restartsAfter := false, 0
	deadline := time.After(3 * time.Minute)
wait:
	for {
		select {
		case m := <-msgs:
			switch {
			case m.Action == events.ActionRename && m.Actor.Attributes["name"] == n.Name:
				renamed = true // the swap is done: the gate, then the check
			case renamed && m.Action == events.ActionCreate && m.Actor.Attributes[tarsdb.LabelClient] != "":
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				break wait
			}
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case err := <-done:
			t.Fatalf("tarsup ended before the registration wait (%v):\n%s\n%s", err, stdout.String(), stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("no registration wait:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	var code int
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("tarsup did not end after SIGTERM:\n%s\n%s", stdout.String(), stderr.String())
	}
drain:
	for {
		select {
		case m := <-msgs:
			if m.Actor.Attributes["name"] == n.Name && (m.Action == events.ActionRestart || m.Action == events.ActionKill || m.Action == events.ActionStop) {
				restartsAfter++
			}
		case <-time.After(time.Second):
			break drain
		}
	}
	stopEvents()
	t.Logf("exit %d\n--- stdout\n%s\n--- stderr\n%s", code, stdout.String(), stderr.String())
	if code != 1 {
		t.Errorf("exit %d after SIGTERM during the registration wait, want 1", code)
	}
	var rep struct {
		Interrupted  bool `json:"interrupted"`
		Registration struct {
			Checks []struct{ Container, After, Result string } `json:"checks"`
		} `json:"registration"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if !rep.Interrupted {
		t.Errorf("the report does not say the run was interrupted")
	}
	for _, c := range rep.Registration.Checks {
		if c.Container == n.Name && c.Result != "skipped" {
			t.Errorf("check of %s %s: %q, want skipped (interrupted)", c.Container, c.After, c.Result)
		}
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
	}
	if restartsAfter != 0 {
		t.Errorf("%d restarts or kills of %s after SIGTERM: the node was restarted", restartsAfter, n.Name)
	}
	in := inspect(t, ctx, e, n.Name)
	if in.Config.Image != img || !in.State.Running {
		t.Errorf("%s runs %s (running %v), want the new image %s: the recreate was done", n.Name, in.Config.Image, in.State.Running, img)
	}
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		for _, name := range c.Names {
			if strings.Contains(name, ".tarsup-") {
				t.Errorf("temporary container %s left", name)
			}
		}
	}
	a11aNoClients(t, ctx, e)
}

// a11aDuringCheck runs tarsup with args and calls act once the check after
// the node steps began (node was renamed back, then a client container was
// created); it returns the exit code and the output.
func a11aDuringCheck(t *testing.T, ctx context.Context, e *testbed.Engine, node string, act func(), args ...string) (int, string) {
	t.Helper()
	ectx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	msgs, errs := e.Client.Events(ectx, events.ListOptions{Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))})
	var out strings.Builder
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	renamed, acted := false, false
	for {
		select {
		case m := <-msgs:
			switch {
			case m.Action == events.ActionRename && m.Actor.Attributes["name"] == node:
				renamed = true
			case renamed && !acted && m.Action == events.ActionCreate && m.Actor.Attributes[tarsdb.LabelClient] != "":
				acted = true
				act()
			}
		case err := <-errs:
			t.Fatalf("engine events: %v", err)
		case err := <-done:
			if !acted {
				t.Fatalf("tarsup ended before the check after the node steps (%v):\n%s", err, out.String())
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode(), out.String()
			}
			return 0, out.String()
		case <-time.After(4 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("tarsup did not end:\n%s", out.String())
		}
	}
}

// TestAttack11aDatabaseTroubleDuringCheck: the database restarted by hand
// while the check after the node steps waits is only a pause (exit 0, the
// node not restarted); its root password changed (ALTER USER) after the
// pre-flight read fails the check, exit 1, saying the server refused the
// password of MYSQL_ROOT_PASSWORD, without restarting the node and without
// the new password anywhere.
func TestAttack11aDatabaseTroubleDuringCheck(t *testing.T) {
	bed.Parallel(t, a11aEngineSlot)
	for _, tc := range []struct {
		name string
		k    int
		code int
		act  func(t *testing.T, d *testbed.Deployer, e *testbed.Engine, dep *testbed.TarsDeployment)
		want []string
	}{
		{"restarted", 235, 0, func(t *testing.T, d *testbed.Deployer, e *testbed.Engine, dep *testbed.TarsDeployment) {
			timeout := 5
			if err := e.Client.ContainerRestart(t.Context(), dep.DB.ID, container.StopOptions{Timeout: &timeout}); err != nil {
				t.Error(err)
			}
		}, []string{"registration"}},
		{"password changed", 236, 1, func(t *testing.T, d *testbed.Deployer, e *testbed.Engine, dep *testbed.TarsDeployment) {
			d.TarsSQL(dep, "ALTER USER IF EXISTS 'root'@'%' IDENTIFIED BY "+sqlQuote(a11aPassword)+"; FLUSH PRIVILEGES;")
		}, []string{"could not be read", "MYSQL_ROOT_PASSWORD", "the node was not restarted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			e, flags := a11aEngine(t)
			d := bed.On(ctx, t, e)
			dep := regDeployment(t, d, e, "a11db"+tc.name[:4]+"-", tc.k, 1)
			n := dep.Nodes[0]
			img := nodeVariant(t, "a11db"+tc.name[:4], "A11_VARIANT=1")
			args := append(append([]string{"upgrade", "--only", n.Name, "--node-image", img, "--register-timeout", "30s"}, flags...), gateFlags...)
			code, out := a11aDuringCheck(t, ctx, e, n.Name, func() { tc.act(t, d, e, dep) }, args...)
			t.Logf("exit %d:\n%s", code, out)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output lacks %q", w)
				}
			}
			if strings.Contains(out, "restarting") || strings.Contains(out, "restarted once") || strings.Contains(out, a11aPassword) {
				t.Errorf("the node was restarted, or the password shown")
			}
			a11aNoClients(t, ctx, e)
		})
	}
}
