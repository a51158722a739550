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

// benchRows fill the db_tars the fake framework created up to the size of
// a real deployment's: 1,000 rows in t_node_info and 10,000 in
// t_server_conf (ten services a node), the framework's own rows included.
const benchRows = `
USE db_tars;
SET SESSION max_recursive_iterations = 100000;
SET @nodes = 1000 - (SELECT count(*) FROM t_node_info), @confs = 10000 - (SELECT count(*) FROM t_server_conf);
INSERT INTO t_node_info (node_name, node_obj, endpoint_ip, endpoint_port, data_dir, last_reg_time, last_heartbeat, setting_state, present_state, tars_version, template_name)
  WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM s WHERE n < @nodes - 1)
  SELECT CONCAT('10.1.', n DIV 250, '.', n MOD 250 + 2), CONCAT('tars.tarsnode.NodeObj@tcp -h 10.1.', n DIV 250, '.', n MOD 250 + 2, ' -p 19385 -t 60000'),
    CONCAT('10.1.', n DIV 250, '.', n MOD 250 + 2), 19385, '/usr/local/app/tars/tarsnode/data', '2026-11-30 10:00:00', '2026-11-30 10:00:00', 'active', 'active', 'v3.0.15', 'tars.tarsnode'
  FROM s;
INSERT INTO t_server_conf (application, server_name, node_name, base_path, template_name, setting_state, present_state, patch_version, patch_user, tars_version, posttime, lastuser, profile)
  WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM s WHERE n < @confs - 1)
  SELECT CONCAT('App', n MOD 37), CONCAT('Server', n MOD 10, 'X', n DIV 1000), CONCAT('10.1.', (n DIV 10) DIV 250, '.', (n DIV 10) MOD 250 + 2),
    CONCAT('/usr/local/app/tars/tarsnode/data/App', n MOD 37, '.Server', n MOD 10, '/bin/'), 'tars.default', 'active', 'active',
    CONCAT(100 + n MOD 50), 'admin', 'v3.0.15', '2026-11-30 10:00:00', 'admin', REPEAT('<tars><application>x</application></tars>', 3)
  FROM s;
SELECT (SELECT count(*) FROM t_node_info), (SELECT count(*) FROM t_server_conf);
`

// benchDeployment lays out a MariaDB on subnet k whose Tars databases a
// first framework created, filled with benchRows; that framework is gone
// again, so each benchmark runs its own on the same database.
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
	seed := uniq(name + "-seed")
	s.benchFramework(b, seed)
	if got := s.d.SQL(s.db.Name, s.pw, benchRows); got != "1000\t10000\n" {
		b.Fatalf("db_tars holds %q rows (t_node_info, t_server_conf), want 1000 and 10000", got)
	}
	if err := bed.Local.Client.ContainerRemove(ctx, seed, container.RemoveOptions{Force: true}); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchFramework runs a framework (v3.0.15) of the deployment at .3, quiet
// (FAKE_HEARTBEAT_INTERVAL=1h: no writes of its own after its start), and
// waits for its registry port.
func (s *snapDeployment) benchFramework(b *testing.B, name string) string {
	ip := testbed.HostIP(s.subnet, 3)
	s.fw = s.d.Run(testbed.ContainerSpec{Name: name, Image: bed.Images.Framework3015,
		Env:      []string{"MYSQL_HOST=" + s.db.IP, "MYSQL_ROOT_PASSWORD=" + s.pw, "REBUILD=false", "FAKE_HEARTBEAT_INTERVAL=1h"},
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
			w := watchGaps(addr, 5*time.Millisecond)
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
