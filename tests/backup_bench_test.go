//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/tests/testbed"
)

// benchTarsDB is a db_tars the size of a real deployment's: 1,000 nodes in
// t_node_info and 10,000 rows of t_server_conf (ten services a node), with
// the columns TARS.md lists.
const benchTarsDB = `
CREATE DATABASE db_tars;
USE db_tars;
CREATE TABLE t_node_info (
  id int NOT NULL AUTO_INCREMENT, node_name varchar(128) NOT NULL DEFAULT '', node_obj varchar(128) NOT NULL DEFAULT '',
  endpoint_ip varchar(16) NOT NULL DEFAULT '', endpoint_port int NOT NULL DEFAULT 0, data_dir varchar(128) NOT NULL DEFAULT '',
  load_avg1 float DEFAULT 0, load_avg5 float DEFAULT 0, load_avg15 float DEFAULT 0,
  last_reg_time datetime NOT NULL DEFAULT '1970-01-01 00:08:00', last_heartbeat datetime NOT NULL DEFAULT '1970-01-01 00:08:00',
  setting_state enum('active','inactive') NOT NULL DEFAULT 'inactive', present_state enum('active','inactive') NOT NULL DEFAULT 'inactive',
  tars_version varchar(128) NOT NULL DEFAULT '', template_name varchar(128) NOT NULL DEFAULT '',
  modify_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, group_id int DEFAULT -1,
  PRIMARY KEY (id), UNIQUE KEY node_name (node_name), KEY indx_node_1 (last_heartbeat)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE t_server_conf (
  id int NOT NULL AUTO_INCREMENT, application varchar(128) DEFAULT '', server_name varchar(128) DEFAULT '', node_name varchar(50) NOT NULL DEFAULT '',
  registry_timestamp datetime NOT NULL DEFAULT '2026-11-30 00:00:00', base_path varchar(128) DEFAULT '', exe_path varchar(128) NOT NULL DEFAULT '',
  template_name varchar(128) NOT NULL DEFAULT '', setting_state enum('active','inactive') NOT NULL DEFAULT 'inactive',
  present_state enum('active','inactive','activating','deactivating','destroyed') NOT NULL DEFAULT 'inactive',
  patch_version varchar(128) NOT NULL DEFAULT '', patch_time datetime NOT NULL DEFAULT '2026-11-30 00:00:00', patch_user varchar(128) NOT NULL DEFAULT '',
  tars_version varchar(128) NOT NULL DEFAULT '', posttime datetime DEFAULT NULL, lastuser varchar(30) DEFAULT NULL, server_type varchar(20) DEFAULT 'tars_cpp',
  profile text, PRIMARY KEY (id), UNIQUE KEY application (application, server_name, node_name), KEY node_name (node_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
SET SESSION max_recursive_iterations = 100000;
INSERT INTO t_node_info (node_name, node_obj, endpoint_ip, endpoint_port, data_dir, last_reg_time, last_heartbeat, setting_state, present_state, tars_version, template_name)
  WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM s WHERE n < 999)
  SELECT CONCAT('10.1.', n DIV 250, '.', n MOD 250 + 2), CONCAT('tars.tarsnode.NodeObj@tcp -h 10.1.', n DIV 250, '.', n MOD 250 + 2, ' -p 19385 -t 60000'),
    CONCAT('10.1.', n DIV 250, '.', n MOD 250 + 2), 19385, '/usr/local/app/tars/tarsnode/data', '2026-11-30 10:00:00', '2026-11-30 10:00:00', 'active', 'active', 'v3.0.15', 'tars.tarsnode'
  FROM s;
INSERT INTO t_server_conf (application, server_name, node_name, base_path, exe_path, template_name, setting_state, present_state, patch_version, patch_user, tars_version, posttime, lastuser, profile)
  WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM s WHERE n < 9999)
  SELECT CONCAT('App', n MOD 37), CONCAT('Server', n MOD 10, 'X', n DIV 1000), CONCAT('10.1.', (n DIV 10) DIV 250, '.', (n DIV 10) MOD 250 + 2),
    CONCAT('/usr/local/app/tars/tarsnode/data/App', n MOD 37, '.Server', n MOD 10, '/bin/'), '', 'tars.default', 'active', 'active',
    CONCAT(100 + n MOD 50), 'admin', 'v3.0.15', '2026-11-30 10:00:00', 'admin', REPEAT('<tars><application>x</application></tars>', 3)
  FROM s;
`

// benchDeployment lays out a framework on a MariaDB holding benchTarsDB on
// subnet k, and returns it.
func benchDeployment(b *testing.B, k int, name string) *snapDeployment {
	b.Helper()
	ctx := b.Context()
	ref, err := bed.MariaDB(ctx, bed.Local)
	if err != nil {
		b.Fatal(err)
	}
	s := &snapDeployment{d: bed.On(ctx, b, bed.Local), ref: ref, subnet: bed.Local.Subnet(k), pw: "bench-" + bed.RunID, dir: b.TempDir()}
	s.net = uniq(name + "-net")
	s.d.Network(s.net, s.subnet)
	s.db = s.d.MariaDB(testbed.MariaDBSpec{Name: uniq(name + "-mysql"), Image: ref, Network: s.net, IPv4: testbed.HostIP(s.subnet, 2), RootPassword: s.pw})
	s.d.SQL(s.db.Name, s.pw, benchTarsDB)
	return s
}

// benchFramework runs the deployment's framework (v3.0.15) at .3 and waits
// for its registry port.
func (s *snapDeployment) benchFramework(b *testing.B, name string) string {
	ip := testbed.HostIP(s.subnet, 3)
	s.fw = s.d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015,
		Env:      []string{"MYSQL_HOST=" + s.db.IP, "MYSQL_ROOT_PASSWORD=" + s.pw, "REBUILD=false"},
		Networks: []testbed.Attachment{{Network: s.net, IPv4: ip}}, Restart: "always"})
	addr := net.JoinHostPort(ip, "17890")
	s.d.WaitTCP(addr)
	return addr
}

// BenchmarkSnapshot reports what `tarsup backup` takes for a db_tars of
// 1,000 nodes and 10,000 t_server_conf rows: the whole command's time (it
// connects, takes the engine lock, finds the database, dumps, verifies,
// writes the manifest) and the snapshot's size, compressed and as SQL.
func BenchmarkSnapshot(b *testing.B) {
	// Why a long deadline: --lock-wait 10m outlasts Run's default, and a
	// shared machine's other runs may hold the engine's lock that long.
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	s := benchDeployment(b, 195, "snapbench")
	s.benchFramework(b, uniq("snapbench-framework"))
	var took []time.Duration
	var size, raw int64
	for i := 0; i < b.N*3; i++ {
		began := time.Now()
		r := testbed.RunEnv(ctx, []string{"TARSUP_NO_BACKUP=false"}, bed.Tarsup(b), "backup", "--host", bed.Local.Host, "--only", s.db.Name,
			"--backup-dir", s.dir, "--lock-wait", "10m", "--format", "json")
		took = append(took, time.Since(began))
		var out struct {
			Snapshots []struct {
				Size    int64 `json:"size"`
				RawSize int64 `json:"raw_size"`
			}
		}
		if r.ExitCode != 0 || json.Unmarshal([]byte(r.Stdout), &out) != nil || len(out.Snapshots) != 1 {
			b.Fatalf("backup: %s", r)
		}
		size, raw = out.Snapshots[0].Size, out.Snapshots[0].RawSize
	}
	b.Logf("tarsup backup of 1,000 nodes and 10,000 t_server_conf rows: %v; %d bytes (%d of SQL)", took, size, raw)
	b.ReportMetric(float64(median(took).Milliseconds()), "backup-ms")
	b.ReportMetric(float64(size), "snapshot-bytes")
	b.ReportMetric(float64(raw), "snapshot-sql-bytes")
}

// BenchmarkSnapshotDowntime measures a framework upgrade on that database
// with and without the snapshot, alternating: the downtime a client of the
// registry port sees (the snapshot is taken before the first stop, so it
// must not grow) and the whole run's time.
func BenchmarkSnapshotDowntime(b *testing.B) {
	ctx, cancel := context.WithTimeout(b.Context(), 60*time.Minute)
	defer cancel()
	s := benchDeployment(b, 196, "snapdown")
	gaps := map[bool][]time.Duration{}
	runs := map[bool][]time.Duration{}
	for i := 0; i < b.N*3; i++ {
		for _, snap := range []bool{true, false} {
			name := uniq(fmt.Sprintf("snapdown-fw-%d-%v", i, snap))
			addr := s.benchFramework(b, name)
			args := []string{"upgrade", "--host", bed.Local.Host, "--only", name, "--to", "v3.0.16",
				"--health-timeout", "30s", "--monitor", "1s", "--stop-timeout", "10s", "--lock-wait", "10m"}
			env := []string{"TARSUP_NO_BACKUP=true"}
			if snap {
				args, env = append(args, "--backup-dir", s.dir), []string{"TARSUP_NO_BACKUP=false"}
			}
			w := watchGaps(addr)
			began := time.Now()
			r := testbed.RunEnv(ctx, env, bed.Tarsup(b), args...)
			runs[snap] = append(runs[snap], time.Since(began))
			gaps[snap] = append(gaps[snap], w.Stop(ctx))
			if r.ExitCode != 0 {
				b.Fatalf("upgrade (snapshot %v): %s", snap, r)
			}
			if err := bed.Local.Client.ContainerRemove(ctx, name, container.RemoveOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("downtime with the snapshot %v, without %v; runs %v and %v", gaps[true], gaps[false], runs[true], runs[false])
	b.ReportMetric(float64(median(gaps[true]).Milliseconds()), "downtime-with-snapshot-ms")
	b.ReportMetric(float64(median(gaps[false]).Milliseconds()), "downtime-without-snapshot-ms")
	b.ReportMetric(float64(median(runs[true]).Milliseconds()), "upgrade-with-snapshot-ms")
	b.ReportMetric(float64(median(runs[false]).Milliseconds()), "upgrade-without-snapshot-ms")
}
