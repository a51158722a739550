//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/backup"
	"github.com/tarsup/tarsup/tests/testbed"
)

// started is what a restore may change of a container: nothing but
// whether it was restarted (StartedAt).
type started struct{ id, name, startedAt, status, ip string }

func startedOf(t *testing.T, ctx context.Context, s *snapDeployment, name string) started {
	t.Helper()
	in := inspect(t, ctx, s.e, name)
	ip := ""
	if ep := in.NetworkSettings.Networks[s.net]; ep != nil {
		ip = ep.IPAddress
	}
	return started{in.ID, in.Name, in.State.StartedAt, in.State.Status, ip}
}

// takeBackup runs `tarsup backup` of the deployment and returns its file.
func takeBackup(t *testing.T, ctx context.Context, s *snapDeployment) string {
	t.Helper()
	r := s.tarsup(t, ctx, "backup", "--only", s.fw.Name, "--backup-dir", s.dir, "--lock-wait", "10m", "--format", "json")
	var out struct {
		Snapshots []struct{ File string }
	}
	if r.ExitCode != 0 || json.Unmarshal([]byte(r.Stdout), &out) != nil || len(out.Snapshots) != 1 {
		t.Fatalf("backup: %s", r)
	}
	return out.Snapshots[0].File
}

// TestRestore: `tarsup restore` of a snapshot brings back the rows deleted
// and the schema altered since (a column added, a row inserted: gone
// again); it stops and starts the framework (same container, same address,
// an address the engine had assigned included), never the database
// container nor a node; a corrupt or truncated snapshot is refused (exit
// 2) before anything stops; --dry-run prints the plan and changes nothing.
func TestRestore(t *testing.T) {
	ctx := t.Context()
	s := newSnapDeployment(t, 192, "restore", snapLayout{dynamicFW: true})
	node := s.d.Run(testbed.ContainerSpec{Name: uniq("restore-node"), Image: bed.Images.NodeLatest,
		Env: []string{"WEB_HOST=http://" + s.fw.IP + ":3000"}, Networks: []testbed.Attachment{{Network: s.net, IPv4: testbed.HostIP(s.subnet, 5)}}, Restart: "always"})
	// Why wait: the node's row is then in the snapshot, and no
	// registration changes the rows while the test compares them.
	s.d.WaitNodeActive(&testbed.TarsDeployment{DB: s.db, MariaDB: s.ref, DBPassword: s.pw}, node.IP)
	dump := takeBackup(t, ctx, s)

	s.d.SQL(s.db.Name, s.pw, `DELETE FROM db_tars.t_node_info WHERE node_name = '10.0.0.6';
ALTER TABLE db_tars.t_node_info ADD COLUMN sha varchar(255) DEFAULT '';
INSERT INTO db_tars.t_node_info (node_name, endpoint_ip) VALUES ('10.0.0.99', '10.0.0.99');
DELETE FROM db_user_system.t_user_info;`)
	changed := s.d.SQL(s.db.Name, s.pw, "SELECT node_name FROM db_tars.t_node_info ORDER BY id;")
	db, fw, nd := startedOf(t, ctx, s, s.db.Name), startedOf(t, ctx, s, s.fw.Name), startedOf(t, ctx, s, node.Name)

	unchanged := func(what string) {
		t.Helper()
		if now := s.d.SQL(s.db.Name, s.pw, "SELECT node_name FROM db_tars.t_node_info ORDER BY id;"); now != changed {
			t.Errorf("%s changed the rows: %q", what, now)
		}
		for _, c := range []struct {
			name string
			was  started
		}{{s.db.Name, db}, {s.fw.Name, fw}, {node.Name, nd}} {
			if now := startedOf(t, ctx, s, c.name); now != c.was {
				t.Errorf("%s changed %s: %+v, was %+v", what, c.name, now, c.was)
			}
		}
	}

	// Corrupt and truncated copies are refused before anything stops.
	for _, tc := range []struct{ name, want string }{{"corrupt", "corrupt"}, {"truncated", "truncated"}} {
		bad := spoiledCopy(t, dump, tc.name)
		r := s.tarsup(t, ctx, append([]string{"restore", bad}, quickGate...)...)
		if r.ExitCode != 2 || !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "refused") {
			t.Errorf("restore of a %s snapshot: want exit 2 saying %q: %s", tc.name, tc.want, r)
		}
		unchanged("a restore of a " + tc.name + " snapshot")
	}

	r := s.tarsup(t, ctx, append([]string{"restore", dump, "--dry-run"}, quickGate...)...)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "stop "+s.fw.Name) || !strings.Contains(r.Stdout, "drop and load db_tars") || strings.Contains(r.Stdout, node.Name) {
		t.Errorf("restore --dry-run: %s", r)
	}
	unchanged("restore --dry-run")
	t.Logf("restore --dry-run:\n%s", r.Stdout)

	r = s.tarsup(t, ctx, append([]string{"restore", dump, "--format", "json"}, quickGate...)...)
	var rep backup.RestoreReport
	if r.ExitCode != 0 || json.Unmarshal([]byte(r.Stdout), &rep) != nil || !rep.Restored || !rep.SchemaMatches || rep.Forced {
		t.Fatalf("restore: %+v: %s", rep, r)
	}
	if got := s.d.SQL(s.db.Name, s.pw, "SELECT node_name FROM db_tars.t_node_info WHERE node_name LIKE '10.0.0.%' OR node_name = 'node.example' ORDER BY id;"); got != "10.0.0.5\n10.0.0.6\nnode.example\n" {
		t.Errorf("rows after the restore: %q", got)
	}
	if got := s.d.SQL(s.db.Name, s.pw, "SELECT uid FROM db_user_system.t_user_info WHERE uid = 'operator';"); got != "operator\n" {
		t.Errorf("db_user_system after the restore: %q", got)
	}
	if got := s.d.SQL(s.db.Name, s.pw, "SELECT count(*) FROM information_schema.COLUMNS WHERE table_schema = 'db_tars' AND table_name = 't_node_info' AND column_name = 'sha';"); got != "0\n" {
		t.Errorf("the column added after the snapshot is still there: %q", got)
	}
	if now := startedOf(t, ctx, s, s.db.Name); now != db {
		t.Errorf("the database container changed: %+v, was %+v", now, db)
	}
	if now := startedOf(t, ctx, s, node.Name); now != nd {
		t.Errorf("the node changed: %+v, was %+v", now, nd)
	}
	now := startedOf(t, ctx, s, s.fw.Name)
	if now.id != fw.id || now.ip != fw.ip || now.status != "running" || now.startedAt == fw.startedAt {
		t.Errorf("the framework after the restore: %+v, was %+v: want the same container at the same address, started again", now, fw)
	}
}

// spoiledCopy copies a snapshot (dump and manifest) to a new directory and
// spoils the dump: a byte flipped in its middle, or its last 20 bytes cut.
func spoiledCopy(t *testing.T, dump, how string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(backup.ManifestPath(dump))
	if err != nil {
		t.Fatal(err)
	}
	if how == "corrupt" {
		b[len(b)/2] ^= 0x55
	} else {
		b = b[:len(b)-20]
	}
	out := filepath.Join(dir, filepath.Base(dump))
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup.ManifestPath(out), m, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
