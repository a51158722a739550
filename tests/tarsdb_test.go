//go:build e2e

package tests

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The tables the fake framework creates in each database (TARS.md).
var tarsTables = map[string][]string{
	"db_tars": {"t_adapter_conf", "t_config_files", "t_machine_tars_info", "t_node_info", "t_profile_template",
		"t_registry_info", "t_server_conf", "t_server_patchs"},
	"tars_stat":      {"t_ecstatus"},
	"tars_property":  {"t_ecstatus"},
	"db_tars_web":    {"t_application"},
	"db_user_system": {"t_auth", "t_token", "t_user_info"},
	"db_cache_web":   {"t_apply_app_base"},
}

// operatorRows are what an operator's deployment holds besides the
// framework's own rows: a deployed service, a web application, a token.
func operatorRows(nodeIP string) string {
	return "INSERT INTO db_tars.t_server_conf (application, server_name, node_name, setting_state, present_state, tars_version)" +
		" VALUES ('Demo', 'HelloServer', '" + nodeIP + "', 'active', 'active', 'v3.0.15');\n" +
		"INSERT INTO db_tars_web.t_application (f_name, f_create_person) VALUES ('Demo', 'admin');\n" +
		"INSERT INTO db_user_system.t_token (uid, token, valid) VALUES ('admin', 'secret-token', 1);\n"
}

// operatorRowCount counts the rows operatorRows inserted that are still there.
func operatorRowCount(d *testbed.Deployer, dep *testbed.TarsDeployment) int {
	return d.CountRows(dep, "db_tars.t_server_conf", "application = 'Demo'") +
		d.CountRows(dep, "db_tars_web.t_application", "f_name = 'Demo'") +
		d.CountRows(dep, "db_user_system.t_token", "token = 'secret-token'")
}

// mariaDB returns the bed's MariaDB image on the local engine.
func mariaDB(t *testing.T) string {
	t.Helper()
	ref, err := bed.MariaDB(t.Context(), bed.Local)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestTarsDBDeployment lays out TarsDocs on the real MariaDB with a slave
// and two nodes: the six databases and their tables exist, every framework
// host and node is active in t_node_info under its own IP and heartbeats,
// the framework hosts recorded their IPs, a restart keeps the operator's
// rows, the nodes heartbeat to the slave while the master is down, v3.0.15 applies no v3.0.16 upgrade, and a slave on a database
// without db_tars exits 1 naming it and creates nothing.
func TestTarsDBDeployment(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	subnet := bed.Local.Subnet(140)
	img := mariaDB(t)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("tdb-"), Subnet: subnet, MariaDB: img, Slave: true, Nodes: 2})

	for db, tables := range tarsTables {
		for _, tbl := range tables {
			if n := d.CountRows(dep, "information_schema.TABLES", "TABLE_SCHEMA = '"+db+"' AND TABLE_NAME = '"+tbl+"'"); n != 1 {
				t.Errorf("table %s.%s: %d", db, tbl, n)
			}
		}
	}
	for _, col := range []string{"node_name", "node_obj", "endpoint_ip", "endpoint_port", "data_dir", "load_avg1", "load_avg5", "load_avg15",
		"last_reg_time", "last_heartbeat", "setting_state", "present_state", "tars_version", "template_name", "modify_time", "group_id"} {
		if !d.HasColumn(dep, "db_tars.t_node_info", col) {
			t.Errorf("db_tars.t_node_info has no %s", col)
		}
	}
	if d.HasColumn(dep, "db_tars.t_server_conf", "sha") {
		t.Errorf("v3.0.15 applied v3.0.16's upgrade (t_server_conf.sha)")
	}

	hosts := []*testbed.Container{dep.Framework, dep.Slave, dep.Nodes[0], dep.Nodes[1]}
	rows := d.NodeRows(dep)
	if len(rows) != len(hosts) {
		t.Errorf("t_node_info has %d rows, want %d: %+v", len(rows), len(hosts), rows)
	}
	since := d.DBNow(dep)
	for _, c := range hosts {
		r := d.WaitHeartbeatAfter(dep, c.IP, since)
		if r.EndpointIP != c.IP || r.EndpointPort != 19385 || r.TarsVersion != "v3.0.15" || r.LastRegTime == "" {
			t.Errorf("%s: row %+v", c.Name, r)
		}
	}
	for _, fw := range []*testbed.Container{dep.Framework, dep.Slave} {
		if n := d.CountRows(dep, "db_tars.t_registry_info", "locator_id = '"+fw.IP+":17890' AND present_state = 'active'"); n != 2 {
			t.Errorf("%s: %d active t_registry_info rows, want QueryObj and RegistryObj", fw.Name, n)
		}
	}
	if n := d.CountRows(dep, "db_tars.t_server_conf", "application = 'tars' AND node_name = '"+dep.Framework.IP+"'"); n != 10 {
		t.Errorf("the master recorded %d tars.* services with its IP, want 10", n)
	}
	if n := d.CountRows(dep, "db_tars.t_server_conf", "application = 'tars' AND node_name = '"+dep.Slave.IP+"'"); n != 5 {
		t.Errorf("the slave recorded %d tars.* services with its IP, want 5", n)
	}
	// The node learnt both registries from the installer's locator.
	if got := httpBody(t, ctx, dep.WebHost+"/get_tarsnode?ip=probe"); !strings.Contains(got,
		"locator=tars.tarsregistry.QueryObj@tcp -h "+dep.Framework.IP+" -p 17890:tcp -h "+dep.Slave.IP+" -p 17890\n") {
		t.Errorf("the installer's locator:\n%s", got)
	}

	// A restart (REBUILD=false) keeps the operator's rows.
	d.TarsSQL(dep, operatorRows(dep.Nodes[0].IP))
	timeout := 10
	if err := bed.Local.Client.ContainerRestart(ctx, dep.Framework.Name, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	d.WaitHTTP(dep.WebHost + "/get_tarsnode")
	if n := operatorRowCount(d, dep); n != 3 {
		t.Errorf("after a restart %d of 3 operator rows are left", n)
	}
	if starts := d.ReadFile(dep.Framework.Name, "/data/tars/db/starts"); strings.Count(starts, "version=v3.0.15") != 2 {
		t.Errorf("starts after a restart:\n%s", starts)
	}

	// The master down: the nodes heartbeat to the slave's registry.
	d.Stop(dep.Framework.Name)
	since = d.DBNow(dep)
	for _, n := range dep.Nodes {
		d.WaitHeartbeatAfter(dep, n.IP, since)
		waitLog(t, d, n.Name, "using "+dep.Slave.IP+":17890")
	}
	if err := bed.Local.Client.ContainerStart(ctx, dep.Framework.Name, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	d.WaitHTTP(dep.WebHost + "/get_tarsnode")

	// A slave never creates the databases: on an empty server it exits.
	empty := d.MariaDB(testbed.MariaDBSpec{Name: uniq("tdb-empty"), Image: img, Network: dep.Network, IPv4: testbed.HostIP(subnet, 20)})
	lone := d.Run(testbed.ContainerSpec{Name: uniq("tdb-lone-slave"), Image: bed.Images.Framework3015,
		Env:      []string{"MYSQL_HOST=" + empty.IP, "MYSQL_ROOT_PASSWORD=tars2015", "SLAVE=true"},
		Networks: []testbed.Attachment{{Network: dep.Network, IPv4: testbed.HostIP(subnet, 21)}}})
	if code := d.Wait(lone.Name); code != 1 || !strings.Contains(d.Logs(lone.Name), "db_tars is missing") {
		t.Errorf("a slave on an empty database exited %d:\n%s", code, d.Logs(lone.Name))
	}
	if got := d.SQL(empty.Name, "tars2015", "SHOW DATABASES LIKE 'db\\_%'; SHOW DATABASES LIKE 'tars\\_%';"); got != "" {
		t.Errorf("the slave created databases: %q", got)
	}
}

// TestTarsDBRebuildDrops runs the framework again by hand with
// REBUILD=true: the operator's rows are gone from every database (the fake
// really drops them, so the REBUILD guard's tests have teeth), the tables
// are back empty, and the node registers again in the new t_node_info.
func TestTarsDBRebuildDrops(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("tdbrb-"), Subnet: bed.Local.Subnet(141), MariaDB: mariaDB(t), Nodes: 1})
	node := dep.Nodes[0].IP
	d.TarsSQL(dep, operatorRows(node)+"UPDATE db_tars.t_node_info SET template_name = 'ops.node' WHERE node_name = '"+node+"';")
	if n := operatorRowCount(d, dep); n != 3 {
		t.Fatalf("%d of 3 operator rows inserted", n)
	}

	spec := dep.FrameworkSpec
	spec.Env = append(slices.Clone(spec.Env), "REBUILD=true")
	fw := d.Replace(spec)
	d.WaitTCP(net.JoinHostPort(fw.IP, "17890"))
	d.WaitHTTP(dep.WebHost + "/get_tarsnode")
	if logs := d.Logs(fw.Name); !strings.Contains(logs, "REBUILD=true: dropped databases") {
		t.Errorf("the framework did not drop the databases:\n%s", logs)
	}
	if n := operatorRowCount(d, dep); n != 0 {
		t.Errorf("REBUILD=true left %d of the 3 operator rows", n)
	}
	if n := d.CountRows(dep, "db_tars.t_server_conf", "node_name = '"+fw.IP+"'"); n != 10 {
		t.Errorf("the rebuilt db_tars has %d services of the framework, want 10", n)
	}
	r := d.WaitNodeActive(dep, node)
	if tmpl := strings.TrimSpace(d.TarsSQL(dep, "SELECT template_name FROM db_tars.t_node_info WHERE node_name = '"+node+"';")); tmpl != "" {
		t.Errorf("the node's row kept template_name %q through REBUILD=true: %+v", tmpl, r)
	}
	if starts := d.ReadFile(fw.Name, "/data/tars/db/starts"); strings.Count(starts, "version=") != 1 {
		t.Errorf("REBUILD=true should have wiped the earlier start record:\n%s", starts)
	}
}

// TestTarsDBRebuildRefused: `tarsup upgrade` of a framework that has
// REBUILD=true is refused (exit 3), and every row of every database is
// still in place: the dumps before and after are equal (but the heartbeat
// tables, which change every few seconds; their rows' IDs and registration
// times are compared instead).
func TestTarsDBRebuildRefused(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("tdbrf-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(142), MariaDB: mariaDB(t), Nodes: 1,
		FrameworkEnv: []string{"REBUILD=true"}})
	d.TarsSQL(dep, operatorRows(dep.Nodes[0].IP))
	dumpArgs := []string{"--single-transaction", "--routines", "--triggers", "--events",
		"--ignore-table=db_tars.t_node_info", "--ignore-table=db_tars.t_registry_info", "--databases",
		"db_tars", "tars_stat", "tars_property", "db_tars_web", "db_user_system", "db_cache_web"}
	registered := func() []string {
		var out []string
		for _, r := range d.NodeRows(dep) {
			out = append(out, strings.Join([]string{r.Name, r.EndpointIP, r.LastRegTime}, " "))
		}
		return out
	}
	before, rowsBefore := d.TarsDump(dep, dumpArgs...), registered()
	containers := snapshot(t, ctx, bed.Local, p)
	if !strings.Contains(before, "'HelloServer'") || !strings.Contains(before, "'secret-token'") {
		t.Fatalf("the dump lacks the operator's rows:\n%s", before)
	}

	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"},
		only(dep.Framework.Name, dep.Nodes[0].Name)...), "--lock-wait", "10m")...)
	requireExit(t, r, 3, dep.Framework.Name, "REBUILD=true", "db_tars")
	requireUnchanged(t, containers, snapshot(t, ctx, bed.Local, p))
	if after := d.TarsDump(dep, dumpArgs...); after != before {
		t.Errorf("the databases changed: %s", firstDiff(before, after))
	}
	if after := registered(); !slices.Equal(after, rowsBefore) {
		t.Errorf("t_node_info rows changed:\nbefore %v\nafter  %v", rowsBefore, after)
	}
}

// TestTarsDBNodeHeartbeats: a node stopped by hand goes inactive (its
// services too) and active again when started; a node that comes back with
// another IP (FAKE_REGISTER_IP) is a new row while the old one goes
// inactive; a node that registers and never heartbeats (FAKE_NO_HEARTBEAT)
// goes inactive although its container runs.
func TestTarsDBNodeHeartbeats(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	subnet := bed.Local.Subnet(143)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("tdbhb-"), Subnet: subnet, MariaDB: mariaDB(t), Nodes: 2,
		FrameworkEnv: []string{"FAKE_NODE_TIMEOUT=4s", "FAKE_HEARTBEAT_INTERVAL=1s"}, NodeEnv: []string{"FAKE_HEARTBEAT_INTERVAL=1s"}})
	n1, n2 := dep.Nodes[0], dep.Nodes[1]
	d.TarsSQL(dep, operatorRows(n1.IP))

	d.Stop(n1.Name)
	d.WaitNodeInactive(dep, n1.IP)
	if state := strings.TrimSpace(d.TarsSQL(dep, "SELECT present_state FROM db_tars.t_server_conf WHERE server_name = 'HelloServer';")); state != "inactive" {
		t.Errorf("the service on the stopped node is %q, want inactive", state)
	}
	d.WaitHeartbeatAfter(dep, n2.IP, d.DBNow(dep))
	if err := bed.Local.Client.ContainerStart(ctx, n1.Name, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	d.WaitHeartbeatAfter(dep, n1.IP, d.DBNow(dep))

	// node2 comes back as another IP: a new row, and the old one goes inactive.
	moved := testbed.HostIP(subnet, 99)
	spec := dep.NodeSpecs[1]
	spec.Env = append(slices.Clone(spec.Env), "FAKE_REGISTER_IP="+moved)
	rowsBefore := len(d.NodeRows(dep))
	d.Replace(spec)
	if r := d.WaitNodeActive(dep, moved); r.EndpointIP != moved {
		t.Errorf("the moved node's row %+v", r)
	}
	d.WaitNodeInactive(dep, n2.IP)
	if got := len(d.NodeRows(dep)); got != rowsBefore+1 {
		t.Errorf("t_node_info has %d rows, want %d (the old one stays)", got, rowsBefore+1)
	}

	// node1 registers once and never heartbeats: inactive, though it runs.
	since := d.DBNow(dep)
	spec = dep.NodeSpecs[0]
	spec.Env = append(slices.Clone(spec.Env), "FAKE_NO_HEARTBEAT=true")
	d.Replace(spec)
	waitLog(t, d, spec.Name, "FAKE_NO_HEARTBEAT=true: registered once")
	if r, ok := d.NodeRow(dep, n1.IP); !ok || r.LastRegTime < since {
		t.Errorf("the silent node did not register again: %+v", r)
	}
	d.WaitNodeInactive(dep, n1.IP)
	d.WaitTCP(net.JoinHostPort(n1.IP, "19385"))
}

// TestTarsDBUpgrade upgrades a whole deployment on MariaDB (master, slave,
// two nodes) to v3.0.16: the new version's schema upgrade is applied once
// (t_server_conf.sha; a restart re-runs it harmlessly), the operator's rows
// are kept, and every row that was active before is active again at the
// same IP, re-registered at the new version, with no new row.
func TestTarsDBUpgrade(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	tag := "tdbup-" + bed.RunID
	nodeRef := floatingNode(t, ctx, tag, "v3.0.15")
	// Why a pull: the engine may hold the tag at v3.0.16 from an earlier
	// run of this test (-count), and Run pulls only a missing image.
	if err := testbed.Pull(ctx, bed.Local, nodeRef, true); err != nil {
		t.Fatal(err)
	}
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("tdbup-"), Subnet: bed.Local.Subnet(144), MariaDB: mariaDB(t),
		Slave: true, Nodes: 2, NodeImage: nodeRef})
	d.TarsSQL(dep, operatorRows(dep.Nodes[0].IP))
	if d.HasColumn(dep, "db_tars.t_server_conf", "sha") {
		t.Fatal("t_server_conf.sha before the upgrade")
	}
	var active []testbed.NodeRow
	for _, r := range d.NodeRows(dep) {
		if r.PresentState == "active" {
			active = append(active, r)
		}
	}
	if len(active) != 4 || active[3].TarsVersion != "v3.0.15" {
		t.Fatalf("active before the upgrade: %+v", active)
	}

	floatingNode(t, ctx, tag, "v3.0.16")
	since := d.DBNow(dep)
	r := tarsup(t, ctx, append(append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16"},
		only(dep.Framework.Name, dep.Slave.Name, dep.Nodes[0].Name, dep.Nodes[1].Name)...), gateFlags...)...)
	requireExit(t, r, 0, dep.Framework.Name+": recreate v3.0.15 -> v3.0.16", dep.Slave.Name+": recreate v3.0.15 -> v3.0.16")

	if !d.HasColumn(dep, "db_tars.t_server_conf", "sha") {
		t.Error("the upgrade to v3.0.16 did not add t_server_conf.sha")
	}
	for _, was := range active {
		// Why wait for the version: a node answers on 19385 (all tarsup
		// waits for) a moment before it registers.
		now := d.WaitNode(dep, was.Name, was.Name+" registered at v3.0.16", func(r testbed.NodeRow) bool {
			return r.PresentState == "active" && r.LastHeartbeat > since && r.TarsVersion == "v3.0.16"
		})
		if now.EndpointIP != was.EndpointIP || now.LastRegTime < since {
			t.Errorf("%s after the upgrade: %+v (before %+v)", was.Name, now, was)
		}
	}
	if rows := d.NodeRows(dep); len(rows) != len(active) {
		t.Errorf("t_node_info after the upgrade: %+v", rows)
	}
	if n := operatorRowCount(d, dep); n != 3 {
		t.Errorf("after the upgrade %d of 3 operator rows are left", n)
	}
	added := func() int {
		return strings.Count(d.Logs(dep.Framework.Name)+d.Logs(dep.Slave.Name), "schema upgrade: added db_tars.t_server_conf.sha")
	}
	if n := added(); n != 1 {
		t.Errorf("the column was added %d times", n)
	}
	timeout := 10
	if err := bed.Local.Client.ContainerRestart(ctx, dep.Framework.Name, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	d.WaitHTTP(dep.WebHost + "/get_tarsnode")
	if strings.Count(d.Logs(dep.Framework.Name), "lets root in") < 2 || added() != 1 {
		t.Errorf("a restart at v3.0.16 did the upgrade again, or did not start:\n%s", d.Logs(dep.Framework.Name))
	}
}
