//go:build e2e

package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/tests/testbed"
)

// mariadbSchema is a slice of Tars's db_tars (TARS.md) with what a snapshot
// must carry besides rows: a trigger, a procedure and an event.
const mariadbSchema = `
CREATE DATABASE db_tars;
USE db_tars;
CREATE TABLE t_node_info (
  id int NOT NULL AUTO_INCREMENT,
  node_name varchar(128) NOT NULL DEFAULT '',
  endpoint_ip varchar(16) NOT NULL DEFAULT '',
  endpoint_port int NOT NULL DEFAULT 0,
  last_heartbeat datetime DEFAULT NULL,
  present_state enum('active','inactive') DEFAULT 'inactive',
  tars_version varchar(128) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY node_name (node_name),
  KEY indx_node_1 (last_heartbeat)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE t_node_log (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, node_name varchar(128) NOT NULL) ENGINE=InnoDB;
DELIMITER ;;
CREATE TRIGGER node_added AFTER INSERT ON t_node_info FOR EACH ROW INSERT INTO t_node_log (node_name) VALUES (NEW.node_name);;
CREATE PROCEDURE count_active() SELECT count(*) FROM t_node_info WHERE present_state = 'active';;
DELIMITER ;
CREATE EVENT mark_inactive ON SCHEDULE EVERY 1 HOUR DO
  UPDATE t_node_info SET present_state = 'inactive' WHERE last_heartbeat < now() - INTERVAL 1 DAY;
INSERT INTO t_node_info (node_name, endpoint_ip, endpoint_port, last_heartbeat, present_state, tars_version) VALUES
  ('10.0.0.5', '10.0.0.5', 19385, '2026-11-30 10:00:00', 'active', 'v3.0.15'),
  ('10.0.0.6', '10.0.0.6', 19385, '2026-11-30 10:00:01', 'active', 'v3.0.15'),
  ('node.example', '10.0.0.7', 19385, '2026-11-01 09:00:00', 'inactive', 'v3.0.14 ''quoted'' "and" \\backslash');
`

// snapshotArgs are the mariadb-dump options tarsup's snapshots will use.
var snapshotArgs = []string{"--single-transaction", "--routines", "--triggers", "--events", "--databases", "db_tars"}

// TestBedMariaDB checks the bed's MariaDB image (tests/testbed/mariadb.go) as
// tarsup will use it: a database laid out the TarsDocs way with a password
// that needs quoting, root reachable over TCP from another container, a dump
// taken by a short-lived container in the database's network namespace,
// restored into a fresh database whose own dump is the same, a clean stop by
// SIGTERM to mariadbd as PID 1, a restart on the same volume that keeps the
// data, and the refusal to initialise without a password.
func TestBedMariaDB(t *testing.T) {
	ctx := t.Context()
	began := time.Now()
	ref, err := bed.MariaDB(ctx, bed.Local)
	if err != nil {
		t.Fatal(err)
	}
	img, err := bed.Local.Client.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MariaDB image %s (MariaDB %s, %d MB) ready in %s", ref, img.Config.Labels[testbed.VersionLabel], img.Size/1_000_000, time.Since(began).Round(time.Millisecond))
	if !strings.HasPrefix(ref, testbed.MariaDBRepo+":") || img.Config.Labels[testbed.VersionLabel] == "" {
		t.Errorf("image %s has labels %v", ref, img.Config.Labels)
	}

	d := bed.On(ctx, t, bed.Local)
	subnet := bed.Local.Subnet(110)
	netName := uniq("db-internal")
	d.Network(netName, subnet)
	pw := `t@rs'20"15\`

	began = time.Now()
	db1 := d.MariaDB(testbed.MariaDBSpec{Name: uniq("db1"), Image: ref, Network: netName,
		IPv4: testbed.HostIP(subnet, 2), Aliases: []string{"mysql"}, RootPassword: pw})
	t.Logf("first database initialised and up in %s", time.Since(began).Round(time.Millisecond))
	if db1.IP != testbed.HostIP(subnet, 2) {
		t.Errorf("db1 IP %s, want .2", db1.IP)
	}
	if comm := pid1(t, db1.ID); comm != "mariadbd" {
		t.Errorf("PID 1 of %s is %q, want mariadbd (the entrypoint must exec it)", db1.Name, comm)
	}

	// Root over TCP from another container (by the docs' alias), and from
	// this process to the published address; a wrong password is refused.
	d.WaitTCP(net.JoinHostPort(db1.IP, "3306"))
	client := func(name, password string) (int, string) {
		c := d.Run(testbed.ContainerSpec{Name: uniq(name), Image: ref, Env: []string{"MYSQL_PWD=" + password},
			Cmd:      []string{"mariadb", "-hmysql", "-uroot", "--batch", "--skip-column-names", "-e", "select current_user()"},
			Networks: []testbed.Attachment{{Network: netName}}})
		return d.Wait(c.Name), strings.TrimSpace(d.Logs(c.Name))
	}
	if code, out := client("client-ok", pw); code != 0 || out != "root@%" {
		t.Errorf("root over TCP from another container: exit %d: %s", code, out)
	}
	if code, out := client("client-bad", "tars2015"); code == 0 || !strings.Contains(out, "Access denied") {
		t.Errorf("a wrong password over TCP: exit %d: %s", code, out)
	}

	d.SQL(db1.Name, pw, mariadbSchema)
	rows := "SELECT node_name, endpoint_ip, present_state, tars_version FROM db_tars.t_node_info ORDER BY id;"
	want := d.SQL(db1.Name, pw, rows)
	if strings.Count(want, "\n") != 3 {
		t.Fatalf("rows in db1:\n%s", want)
	}

	began = time.Now()
	dump1 := d.MariaDBDump(db1, ref, pw, snapshotArgs...)
	t.Logf("dump of db1 (%d bytes) in %s", len(dump1), time.Since(began).Round(time.Millisecond))
	for _, s := range []string{"CREATE DATABASE", "CREATE TABLE `t_node_info`", "INSERT INTO `t_node_info`",
		"TRIGGER node_added", "PROCEDURE `count_active`", "EVENT `mark_inactive`", `\'quoted\'`} {
		if !strings.Contains(dump1, s) {
			t.Errorf("the dump lacks %q:\n%s", s, dump1)
		}
	}

	// A fresh database (MYSQL_DATABASE made at initialisation) takes the dump.
	db2 := d.MariaDB(testbed.MariaDBSpec{Name: uniq("db2"), Image: ref, Network: netName,
		IPv4: testbed.HostIP(subnet, 3), RootPassword: pw, Env: []string{"MYSQL_DATABASE=tars_stat"}})
	if got := d.SQL(db2.Name, pw, "SHOW DATABASES LIKE 'db_tars'; SHOW DATABASES LIKE 'tars_stat';"); got != "tars_stat\n" {
		t.Fatalf("databases of the fresh db2: %q, want only tars_stat", got)
	}
	began = time.Now()
	d.SQL(db2.Name, pw, dump1)
	t.Logf("restore into db2 in %s", time.Since(began).Round(time.Millisecond))
	dump2 := d.MariaDBDump(db2, ref, pw, snapshotArgs...)
	if dump2 != dump1 {
		t.Errorf("the dump of the restored database differs: %s", firstDiff(dump1, dump2))
	}
	if got := d.SQL(db2.Name, pw, rows); got != want {
		t.Errorf("rows in db2:\n%s\nwant:\n%s", got, want)
	}
	if got := d.SQL(db2.Name, pw, "CALL db_tars.count_active();"); got != "2\n" {
		t.Errorf("the restored procedure says %q, want 2", got)
	}
	d.SQL(db2.Name, pw, "INSERT INTO db_tars.t_node_info (node_name) VALUES ('10.0.0.8');")
	if got := d.SQL(db2.Name, pw, "SELECT count(*) FROM db_tars.t_node_log;"); got != "4\n" {
		t.Errorf("the restored trigger: %q log rows, want 4", got)
	}

	// docker stop: SIGTERM to mariadbd, a clean shutdown within the timeout.
	d.Stop(db1.Name)
	info, err := bed.Local.Client.ContainerInspect(ctx, db1.ID)
	if err != nil {
		t.Fatal(err)
	}
	logs := d.Logs(db1.Name)
	if info.State.ExitCode != 0 || !strings.Contains(logs, "Shutdown complete") {
		t.Errorf("docker stop of %s: exit code %d, want 0 and a clean shutdown:\n%s", db1.Name, info.State.ExitCode, logs)
	}

	// A start on the initialised volume keeps the data and the password.
	if err := bed.Local.Client.ContainerStart(ctx, db1.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	d.WaitMariaDB(db1.Name, pw)
	if !strings.Contains(d.Logs(db1.Name), "already holds a database") {
		t.Errorf("the restart initialised the data directory again:\n%s", d.Logs(db1.Name))
	}
	if got := d.SQL(db1.Name, pw, rows); got != want {
		t.Errorf("rows in db1 after a restart:\n%s\nwant:\n%s", got, want)
	}

	// No password option: refused, as the official image does.
	bare := d.Run(testbed.ContainerSpec{Name: uniq("db-nopw"), Image: ref})
	if code := d.Wait(bare.Name); code != 1 || !strings.Contains(d.Logs(bare.Name), "MYSQL_ROOT_PASSWORD") {
		t.Errorf("a database without a password option exited %d:\n%s", code, d.Logs(bare.Name))
	}
}

// pid1 returns the command name of a local container's first process, read
// from this machine's /proc (the test runs where the engine runs).
func pid1(t *testing.T, id string) string {
	t.Helper()
	info, err := bed.Local.Client.ContainerInspect(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(info.State.Pid), "comm"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// firstDiff describes the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "no line differs"
}

// TestBedMariaDBOtherEngine checks that another engine of the bed gets the
// same MariaDB image from the cached root file system, without a new build,
// and that a database runs and dumps there as on the local engine.
func TestBedMariaDBOtherEngine(t *testing.T) {
	ctx := t.Context()
	ref, err := bed.MariaDB(ctx, bed.Local)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := testbed.MariaDBTar(ctx, testbed.MariaDBCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(cached)
	if err != nil {
		t.Fatal(err)
	}

	e, err := bed.Engine(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	got, err := bed.MariaDB(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported into %s in %s", e.Host, time.Since(began).Round(time.Millisecond))
	if got != ref {
		t.Errorf("the extra engine has %s, the local one %s", got, ref)
	}
	after, err := os.Stat(cached)
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the cached %s was rebuilt or removed (%v)", cached, err)
	}

	d := bed.On(ctx, t, e)
	db := d.MariaDB(testbed.MariaDBSpec{Name: uniq("far-db"), Image: got})
	d.SQL(db.Name, "tars2015", "CREATE DATABASE db_tars; CREATE TABLE db_tars.t (id int PRIMARY KEY); INSERT INTO db_tars.t VALUES (1), (2);")
	dump := d.MariaDBDump(db, got, "tars2015", snapshotArgs...)
	if !strings.Contains(dump, "INSERT INTO `t` VALUES\n(1),\n(2);") {
		t.Errorf("dump on %s:\n%s", e.Host, dump)
	}
}
