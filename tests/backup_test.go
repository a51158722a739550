//go:build e2e

package tests

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/backup"
	"github.com/tarsup/tarsup/tests/testbed"
)

// snapRows are rows of our own in the fake framework's db_tars, and what
// a snapshot must carry besides rows: a trigger, a procedure and an event.
const snapRows = `
USE db_tars;
INSERT INTO t_node_info (node_name, endpoint_ip, endpoint_port, last_heartbeat, present_state, tars_version) VALUES
  ('10.0.0.5', '10.0.0.5', 19385, '2026-11-30 10:00:00', 'active', 'v3.0.15'),
  ('10.0.0.6', '10.0.0.6', 19385, '2026-11-30 10:00:01', 'active', 'v3.0.15'),
  ('node.example', '10.0.0.7', 19385, '2026-11-01 09:00:00', 'inactive', 'v3.0.14 ''quoted'' "and" \\backslash');
CREATE TABLE t_node_log (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, node_name varchar(128) NOT NULL) ENGINE=InnoDB;
DELIMITER ;;
CREATE TRIGGER node_added AFTER INSERT ON t_node_info FOR EACH ROW INSERT INTO t_node_log (node_name) VALUES (NEW.node_name);;
CREATE PROCEDURE count_active() SELECT count(*) FROM t_node_info WHERE present_state = 'active';;
DELIMITER ;
CREATE EVENT mark_inactive ON SCHEDULE EVERY 1 HOUR DO
  UPDATE t_node_info SET present_state = 'inactive' WHERE last_heartbeat < now() - INTERVAL 1 DAY;
INSERT INTO db_user_system.t_user_info (uid, password) VALUES ('operator', 'e10adc3949ba59abbe56e057f20f883e');
`

// coreDBs are the databases a snapshot holds without --backup-all.
var coreDBs = []string{"db_tars", "db_tars_web", "db_user_system", "db_cache_web"}

// snapDeployment is a Tars deployment on the real MariaDB: its database,
// whose Tars databases the fake framework created (with snapRows added);
// the framework, whose MYSQL_* variables point at it; a directory for the
// snapshots.
type snapDeployment struct {
	d      *testbed.Deployer
	e      *testbed.Engine
	conn   []string // tarsup's flags for e
	ref    string   // the MariaDB image
	net    string
	subnet string
	db, fw *testbed.Container
	pw     string
	dir    string
}

// snapPassword needs quoting in SQL and in a shell, and is unique to the
// run: finding it in any output is a leak.
func snapPassword(kind string) string { return `Sn@p'` + kind + `"` + bed.RunID + ` $x\` }

// snapLayout says how newSnapDeployment lays the deployment out.
type snapLayout struct {
	// dynamicFW gives the framework an address the engine assigns.
	dynamicFW bool
	// quiet makes the framework's registry write nothing after its start
	// (no heartbeat of its own, no sweep), so that dumps of the database
	// taken apart compare equal.
	quiet bool
	// engine is the extra engine's slot (0: 10).
	engine int
}

// newSnapDeployment lays a deployment out on subnet k as TarsDocs does:
// the database at .2 (alias mysql), the framework (v3.0.15) at .3 with
// MYSQL_HOST the database's IP; the framework creates the Tars databases.
func newSnapDeployment(t *testing.T, k int, name string, l snapLayout) *snapDeployment {
	t.Helper()
	ctx := t.Context()
	slot := 10
	if l.engine != 0 {
		slot = l.engine
	}
	e, conn := extraEngine(t, ctx, slot)
	ref, err := bed.MariaDB(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapDeployment{d: bed.On(ctx, t, e), e: e, conn: conn, ref: ref, subnet: e.Subnet(k), pw: snapPassword(name), dir: t.TempDir()}
	s.net = uniq(name + "-net")
	s.d.Network(s.net, s.subnet)
	s.db = s.d.MariaDB(testbed.MariaDBSpec{Name: uniq(name + "-mysql"), Image: ref, Network: s.net,
		IPv4: testbed.HostIP(s.subnet, 2), Aliases: []string{"mysql"}, RootPassword: s.pw})
	att := testbed.Attachment{Network: s.net, IPv4: testbed.HostIP(s.subnet, 3), Aliases: []string{"framework"}}
	if l.dynamicFW {
		att.IPv4 = ""
	}
	env := []string{"MYSQL_HOST=" + s.db.IP, "MYSQL_ROOT_PASSWORD=" + s.pw, "MYSQL_USER=root", "MYSQL_PORT=3306", "REBUILD=false", "INET=eth0", "SLAVE=false"}
	if l.quiet {
		env = append(env, "FAKE_HEARTBEAT_INTERVAL=1h")
	}
	s.fw = s.d.Run(testbed.ContainerSpec{Name: uniq(name + "-framework"), Image: bed.Images.Framework3015, Env: env,
		Volumes: []string{uniq(name+"-framework-data") + ":/data/tars"}, Networks: []testbed.Attachment{att}, Restart: "always"})
	s.d.WaitTCP(net.JoinHostPort(s.fw.IP, "17890"))
	s.d.WaitHTTP("http://" + net.JoinHostPort(s.fw.IP, "3000") + "/get_tarsnode")
	s.d.SQL(s.db.Name, s.pw, snapRows)
	return s
}

// dump is mariadb-dump's dump of the core databases, as a snapshot takes it.
func (s *snapDeployment) dump(db *testbed.Container, pw string) string {
	return s.d.MariaDBDump(db, s.ref, pw, append([]string{"--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--databases"}, coreDBs...)...)
}

// deploymentDir is where the deployment's snapshots go in dir.
func (s *snapDeployment) deploymentDir(dir string) string {
	return filepath.Join(dir, backup.DirName(s.e.Host, s.db.Name))
}

// tarsup runs tarsup on the deployment's engine (args, then the engine's
// flags) with snapshots on (TestMain turns them off for the tests on the
// stand-in database).
// Why 15 minutes: other runs on the machine may hold the engine's lock
// for minutes (--lock-wait 10m waits for them).
func (s *snapDeployment) tarsup(t *testing.T, ctx context.Context, args ...string) testbed.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	return testbed.RunEnv(ctx, []string{"TARSUP_NO_BACKUP=false"}, bed.Tarsup(t), append(slices.Clone(args), s.conn...)...)
}

// quickGate keeps the gates of these tests short.
var quickGate = []string{"--health-timeout", "30s", "--monitor", "1s", "--stop-timeout", "10s", "--lock-wait", "10m"}

// snapshotFiles lists every file under dir, temporary ones included.
func snapshotFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// gunzipFile returns a snapshot's SQL.
func gunzipFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readManifest reads a snapshot's manifest as JSON, and as text.
func readManifest(t *testing.T, dump string) (backup.Manifest, string) {
	t.Helper()
	b, err := os.ReadFile(backup.ManifestPath(dump))
	if err != nil {
		t.Fatal(err)
	}
	var m backup.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, string(b)
}

// psSampler samples `ps -eo args` until stopped and remembers every line
// holding a secret, and whether it saw a dump tool at work.
type psSampler struct {
	secret  string
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	leaks   []string
	samples int
	dumps   int
}

func samplePS(secret string) *psSampler {
	p := &psSampler{secret: secret, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			out, _ := exec.Command("ps", "-eo", "args").Output()
			p.mu.Lock()
			p.samples++
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, p.secret) {
					p.leaks = append(p.leaks, line)
				}
				if strings.HasPrefix(line, "mariadb-dump ") {
					p.dumps++
				}
			}
			p.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return p
}

func (p *psSampler) Stop() (leaks []string, samples, dumps int) {
	close(p.stop)
	<-p.done
	return p.leaks, p.samples, p.dumps
}

// firstDie is when the container first died since began (the engine's event).
func firstDie(t *testing.T, ctx context.Context, e *testbed.Engine, id string, began time.Time) time.Time {
	t.Helper()
	msgs, errs := e.Client.Events(ctx, events.ListOptions{Since: began.Add(-time.Second).Format(time.RFC3339Nano), Until: time.Now().Add(time.Second).Format(time.RFC3339Nano),
		Filters: filters.NewArgs(filters.Arg("container", id), filters.Arg("event", "die"))})
	for {
		select {
		case m := <-msgs:
			return time.Unix(0, m.TimeNano)
		case err := <-errs:
			t.Fatalf("no die event of %s since %s: %v", id, began, err)
		}
	}
}

// TestBackupBeforeUpgrade: a framework upgrade takes a verified snapshot
// of the deployment's four core databases before anything stops (the
// files are written before the old framework dies), mode 0600 in a 0700
// directory, with a manifest that says what it holds; the password is in
// no output, no manifest, no file name and no `ps` line sampled during the
// run; restoring the snapshot into an empty MariaDB of another deployment
// is refused without --force (exit 3, nothing changed) and, with it,
// reproduces the database byte for byte.
func TestBackupBeforeUpgrade(t *testing.T) {
	ctx := t.Context()
	s := newSnapDeployment(t, 190, "snap", snapLayout{quiet: true})
	before := s.dump(s.db, s.pw)
	oldFW := inspect(t, ctx, s.e, s.fw.Name)
	dbBefore := dbState(t, ctx, s.e, s.db.ID)

	dry := s.tarsup(t, ctx, "upgrade", "--only", s.fw.Name, "--to", "v3.0.16", "--backup-dir", s.dir, "--dry-run")
	wantLine := s.db.Name + ": snapshot " + strings.Join(coreDBs, ", ") + " (database of " + s.fw.Name + ") to " + s.deploymentDir(s.dir) + "/, keep the newest 10"
	if dry.ExitCode != 0 || !strings.Contains(dry.Stdout, "# snapshot: before the first container stops") || !strings.Contains(dry.Stdout, wantLine) {
		t.Errorf("the dry run does not show the snapshot (%q): %s", wantLine, dry)
	}
	if files := snapshotFiles(t, s.dir); len(files) != 0 {
		t.Errorf("the dry run wrote %q", files)
	}

	began := time.Now()
	ps := samplePS(s.pw)
	r := s.tarsup(t, ctx, append([]string{"upgrade", "--only", s.fw.Name, "--to", "v3.0.16",
		"--backup-dir", s.dir, "--format", "json", "--log-level", "debug"}, quickGate...)...)
	leaks, samples, dumps := ps.Stop()
	if r.ExitCode != 0 {
		t.Fatalf("upgrade: %s", r)
	}
	var rep struct {
		Snapshots []struct {
			File, Manifest string
			Databases      []string
			Deployment     string
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || len(rep.Snapshots) != 1 {
		t.Fatalf("report %v: %s", err, r.Stdout)
	}
	dump := rep.Snapshots[0].File
	if filepath.Dir(dump) != s.deploymentDir(s.dir) || strings.Join(rep.Snapshots[0].Databases, ",") != strings.Join(coreDBs, ",") {
		t.Errorf("snapshot %+v, want the core databases in %s", rep.Snapshots[0], s.deploymentDir(s.dir))
	}
	checkSnapshotFiles(t, s, dump)

	// Written before the old framework stopped.
	died := firstDie(t, ctx, s.e, oldFW.ID, began)
	for _, p := range []string{dump, backup.ManifestPath(dump)} {
		st, err := os.Stat(p)
		if err != nil || !st.ModTime().Before(died) {
			t.Errorf("%s written at %v, the old framework died at %v: the snapshot must come first (%v)", p, st.ModTime(), died, err)
		}
	}

	// The password nowhere.
	_, manifest := readManifest(t, dump)
	for what, text := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr, "manifest": manifest, "file name": dump} {
		if strings.Contains(text, s.pw) {
			t.Errorf("the password is in the %s", what)
		}
	}
	if len(leaks) > 0 || samples < 5 {
		t.Errorf("ps: %d samples, lines with the password: %q", samples, leaks)
	}
	t.Logf("ps sampled %d times during the upgrade, %d lines of mariadb-dump seen", samples, dumps)

	if got := gunzipFile(t, dump); got != before {
		t.Errorf("the snapshot differs from mariadb-dump's dump taken before the upgrade: %s", firstDiff(before, got))
	}
	restoreIntoEmpty(t, s, dump, before)
	if now := dbState(t, ctx, s.e, s.db.ID); now != dbBefore {
		t.Errorf("the database container changed: %s, was %s", now, dbBefore)
	}
}

// checkSnapshotFiles checks the snapshot's files: modes, no temporary file
// left, and a manifest that describes what the file holds.
func checkSnapshotFiles(t *testing.T, s *snapDeployment, dump string) {
	t.Helper()
	if st, err := os.Stat(filepath.Dir(dump)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory %s: mode %v, %v; want 0700", filepath.Dir(dump), st.Mode().Perm(), err)
	}
	files := snapshotFiles(t, s.dir)
	if len(files) != 2 {
		t.Errorf("files in the backup directory: %q, want the dump and its manifest", files)
	}
	for _, p := range files {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, st.Mode().Perm(), err)
		}
	}
	m, _ := readManifest(t, dump)
	st, _ := os.Stat(dump)
	sql := gunzipFile(t, dump)
	if m.Deployment != s.db.Name+" on "+s.e.Host || m.Engine != s.e.Host || m.DatabaseContainer != s.db.Name || m.DatabaseContainerID != s.db.ID ||
		m.Framework != s.fw.Name || m.FrameworkVersion != "v3.0.15" || strings.Join(m.Databases, ",") != strings.Join(coreDBs, ",") ||
		m.Size != st.Size() || m.RawSize != int64(len(sql)) || m.File != filepath.Base(dump) || !strings.Contains(m.ServerVersion, "MariaDB") ||
		len(m.SchemaFingerprint) != 64 || m.TarsupVersion == "" || time.Since(m.Time) > 10*time.Minute {
		t.Errorf("manifest %+v", m)
	}
	if _, _, err := backup.Verify(t.Context(), dump); err != nil {
		t.Errorf("the snapshot does not verify: %v", err)
	}
	if !strings.HasPrefix(lastLine(sql), backup.CompletionMarker) {
		t.Errorf("the dump ends with %q", lastLine(sql))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// restoreIntoEmpty restores the snapshot into a second, empty MariaDB (a
// deployment of its own, whose framework is created and not started):
// refused without --force, then reproducing want byte for byte.
func restoreIntoEmpty(t *testing.T, s *snapDeployment, dump, want string) {
	t.Helper()
	ctx := t.Context()
	pw2 := snapPassword("empty")
	db2 := s.d.MariaDB(testbed.MariaDBSpec{Name: uniq("snap-empty-mysql"), Image: s.ref, Network: s.net, IPv4: testbed.HostIP(s.subnet, 4), RootPassword: pw2})
	s.d.Run(testbed.ContainerSpec{Name: uniq("snap-empty-framework"), Image: bed.Images.Framework3015,
		Env: []string{"MYSQL_HOST=" + db2.IP, "MYSQL_ROOT_PASSWORD=" + pw2}, Networks: []testbed.Attachment{{Network: s.net, IPv4: testbed.HostIP(s.subnet, 6)}}, NoStart: true})
	emptyBefore := s.d.SQL(db2.Name, pw2, "SHOW DATABASES;")

	r := s.tarsup(t, ctx, append([]string{"restore", dump, "--only", db2.Name}, quickGate...)...)
	if r.ExitCode != 3 || !strings.Contains(r.Stderr, s.db.Name+" on ") || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("restore into another deployment without --force: want exit 3 naming the snapshot's deployment and --force: %s", r)
	}
	if got := s.d.SQL(db2.Name, pw2, "SHOW DATABASES;"); got != emptyBefore {
		t.Errorf("a refused restore changed the database: %q, was %q", got, emptyBefore)
	}
	r = s.tarsup(t, ctx, append([]string{"restore", dump, "--only", db2.Name, "--force"}, quickGate...)...)
	if r.ExitCode != 0 {
		t.Fatalf("restore --force into the empty database: %s", r)
	}
	for _, text := range []string{r.Stdout, r.Stderr} {
		if strings.Contains(text, s.pw) || strings.Contains(text, pw2) {
			t.Errorf("a password is in the restore's output")
		}
	}
	got := s.dump(db2, pw2)
	if got != want {
		t.Errorf("the empty database after the restore differs from the original: %s", firstDiff(want, got))
	}
}

// frameworkState is what must not change of a framework when a run is
// refused: the container (not recreated), its image, that it runs.
func frameworkState(t *testing.T, ctx context.Context, e *testbed.Engine, name string) string {
	t.Helper()
	in := inspect(t, ctx, e, name)
	return in.ID + " " + in.Config.Image + " " + in.State.Status
}

// TestSnapshotRefusals: a snapshot that cannot be taken (the server
// refuses the framework's password, the database container is stopped,
// the backup directory is full or read-only) is exit 2 before anything
// changed, naming the database container and the variable but no
// password, and leaves no file; --no-backup takes none.
func TestSnapshotRefusals(t *testing.T) {
	ctx := t.Context()
	s := newSnapDeployment(t, 191, "snapfail", snapLayout{})
	upgrade := func(extra ...string) testbed.Result {
		return s.tarsup(t, ctx, append(append([]string{"upgrade", "--only", s.fw.Name, "--to", "v3.0.16"}, quickGate...), extra...)...)
	}
	refused := func(what string, r testbed.Result, dir string, want ...string) {
		t.Helper()
		if r.ExitCode != 2 {
			t.Errorf("%s: want exit 2: %s", what, r)
		}
		for _, w := range want {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%s: the error does not say %q: %s", what, w, r.Stderr)
			}
		}
		t.Logf("%s: %s", what, r.Stderr)
		if !strings.Contains(r.Stderr, "nothing was changed") {
			t.Errorf("%s: the error does not say that nothing was changed: %s", what, r.Stderr)
		}
		if files := snapshotFiles(t, dir); len(files) != 0 {
			t.Errorf("%s: files left in %s: %q", what, dir, files)
		}
	}
	fw := frameworkState(t, ctx, s.e, s.fw.Name)

	// The server refuses the password the framework has.
	pw2 := snapPassword("changed")
	s.d.SQL(s.db.Name, s.pw, "ALTER USER 'root'@'%' IDENTIFIED BY '"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw2)+"';")
	r := upgrade("--backup-dir", s.dir)
	refused("wrong password", r, s.dir, s.db.Name, "MYSQL_ROOT_PASSWORD", "Access denied")
	if strings.Contains(r.Stderr+r.Stdout, s.pw) || strings.Contains(r.Stderr+r.Stdout, pw2) {
		t.Errorf("a password is in the output: %s", r)
	}
	s.d.SQL(s.db.Name, pw2, "ALTER USER 'root'@'%' IDENTIFIED BY '"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s.pw)+"';")

	// The database container is stopped.
	s.d.Stop(s.db.Name)
	refused("database stopped", upgrade("--backup-dir", s.dir), s.dir, s.db.Name, "MYSQL_HOST", "docker start")
	if err := s.e.Client.ContainerStart(ctx, s.db.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	s.d.WaitMariaDB(s.db.Name, s.pw)

	// A full backup directory: a tmpfs of 64 kB, and a dump far bigger.
	fillStat(s.d, s.db.Name, s.pw)
	full := mountTmpfs(t, "size=64k")
	refused("full directory", upgrade("--backup-dir", full, "--backup-all"), full, s.db.Name, "no space left on device", "--backup-dir")

	// A read-only backup directory.
	ro := mountTmpfs(t, "ro,size=64k")
	refused("read-only directory", upgrade("--backup-dir", filepath.Join(ro, "snapshots")), ro, "--backup-dir", "not writable")

	if now := frameworkState(t, ctx, s.e, s.fw.Name); now != fw {
		t.Errorf("a refused upgrade changed the framework: %s, was %s", now, fw)
	}

	// --no-backup takes none.
	r = upgrade("--no-backup")
	if r.ExitCode != 0 || len(snapshotFiles(t, s.dir)) != 0 {
		t.Errorf("--no-backup: files %q: %s", snapshotFiles(t, s.dir), r)
	}
	if in := inspect(t, ctx, s.e, s.fw.Name); in.Config.Image != bed.Images.Framework3016 {
		t.Errorf("--no-backup did not upgrade: %s", in.Config.Image)
	}
}

// mountTmpfs mounts a tmpfs with opts on a new directory, for the test.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tarsup-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestBackupKeep: `tarsup backup` prints each snapshot's file, and
// --backup-keep 2 leaves the newest two of the deployment.
func TestBackupKeep(t *testing.T) {
	ctx := t.Context()
	s := newSnapDeployment(t, 193, "snapkeep", snapLayout{})
	var files []string
	for i := 0; i < 3; i++ {
		r := s.tarsup(t, ctx, "backup", "--only", s.db.Name, "--backup-dir", s.dir, "--backup-keep", "2", "--lock-wait", "10m", "--format", "json")
		var out struct {
			Snapshots []struct{ File string }
		}
		if r.ExitCode != 0 || json.Unmarshal([]byte(r.Stdout), &out) != nil || len(out.Snapshots) != 1 {
			t.Fatalf("backup %d: %s", i, r)
		}
		files = append(files, out.Snapshots[0].File)
	}
	want := []string{files[1], backup.ManifestPath(files[1]), files[2], backup.ManifestPath(files[2])}
	got := snapshotFiles(t, s.dir)
	if strings.Join(sorted(got), " ") != strings.Join(sorted(want), " ") {
		t.Errorf("after three backups with --backup-keep 2: %q, want %q", got, want)
	}
	r := s.tarsup(t, ctx, "backup", "--only", s.db.Name, "--backup-dir", s.dir, "--lock-wait", "10m")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, s.deploymentDir(s.dir)+"/") || !strings.Contains(r.Stdout, "verified") {
		t.Errorf("backup's text output names no file: %s", r)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// fillStat puts about 13 MB of monitoring rows into tars_stat (see
// bigDatabase), so that a dump with --backup-all is far bigger than 64 kB
// compressed.
func fillStat(d *testbed.Deployer, db, pw string) {
	d.SQL(db, pw, `CREATE DATABASE IF NOT EXISTS tars_stat;
CREATE TABLE IF NOT EXISTS tars_stat.t_big (id int AUTO_INCREMENT PRIMARY KEY, v varchar(1000));
SET SESSION max_recursive_iterations = 1000000;
INSERT INTO tars_stat.t_big (v) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 20000) SELECT REPEAT(MD5(n), 20) FROM s;`)
}

// TestSnapshotRollback: a new framework (v3.0.16, which never gets
// healthy) applies its schema upgrade (t_server_conf gains sha) and is
// rolled back: the report says the schema changed and gives the exact
// restore command, which puts the snapshot's schema back; with
// --restore-on-rollback the upgrade restores the snapshot by itself.
func TestSnapshotRollback(t *testing.T) {
	ctx := t.Context()
	s := newSnapDeployment(t, 194, "snaproll", snapLayout{})
	upgrade := func(extra ...string) testbed.Result {
		return s.tarsup(t, ctx, append([]string{"upgrade", "--only", s.fw.Name, "--framework-image", bed.Images.FrameworkNeverHealthy,
			"--backup-dir", s.dir, "--health-timeout", "15s", "--monitor", "1s", "--stop-timeout", "10s", "--lock-wait", "10m"}, extra...)...)
	}
	sha := func() bool {
		return s.d.SQL(s.db.Name, s.pw, "SELECT count(*) FROM information_schema.COLUMNS WHERE table_schema = 'db_tars' AND table_name = 't_server_conf' AND column_name = 'sha';") == "1\n"
	}
	if sha() {
		t.Fatal("v3.0.15's t_server_conf has sha already")
	}

	r := upgrade()
	t.Logf("the rolled-back upgrade's report:\n%s", r.Stdout)
	dump := newest(snapshotFiles(t, s.dir))
	cmd := strings.Join(append([]string{"tarsup", "restore", dump, "--host", s.e.Host}, tlsArgs(s.e)...), " ")
	if r.ExitCode != 1 || !strings.Contains(r.Stdout, "altered the schema") || !strings.Contains(r.Stdout, cmd+"\n") {
		t.Fatalf("a rollback after a schema change: want exit 1 and the restore command %q: %s", cmd, r)
	}
	if !sha() {
		t.Errorf("the new framework's schema upgrade is not there after the rollback: the test proves nothing")
	}
	if in := inspect(t, ctx, s.e, s.fw.Name); in.Config.Image != bed.Images.Framework3015 || !in.State.Running {
		t.Errorf("the framework after the rollback: %s, running %v", in.Config.Image, in.State.Running)
	}
	// The command the report gives works as it is.
	rr := testbed.RunEnv(ctx, []string{"TARSUP_NO_BACKUP=false"}, bed.Tarsup(t), append(strings.Fields(cmd)[1:], append(quickGate, "--probe", "direct")...)...)
	if rr.ExitCode != 0 || sha() {
		t.Fatalf("the report's restore command: sha there %v: %s", sha(), rr)
	}

	r = upgrade("--restore-on-rollback", "--format", "json")
	var rep struct {
		SnapshotNotes []struct {
			File          string `json:"file"`
			SchemaChanged bool   `json:"schema_changed"`
			Restored      bool   `json:"restored"`
		} `json:"snapshot_notes"`
	}
	dump = newest(snapshotFiles(t, s.dir))
	if r.ExitCode != 1 || json.Unmarshal([]byte(r.Stdout), &rep) != nil || len(rep.SnapshotNotes) != 1 || rep.SnapshotNotes[0].File != dump ||
		!rep.SnapshotNotes[0].SchemaChanged || !rep.SnapshotNotes[0].Restored {
		t.Errorf("--restore-on-rollback: %+v: %s", rep, r)
	}
	if sha() {
		t.Errorf("after --restore-on-rollback the new framework's column is still there")
	}
	if in := inspect(t, ctx, s.e, s.fw.Name); in.Config.Image != bed.Images.Framework3015 || !in.State.Running {
		t.Errorf("the framework after the restore: %s, running %v", in.Config.Image, in.State.Running)
	}
}

// newest is the newest snapshot dump among files.
func newest(files []string) string {
	var out string
	var at time.Time
	for _, f := range files {
		st, err := os.Stat(f)
		if err == nil && strings.HasSuffix(f, backup.DumpSuffix) && !strings.HasPrefix(filepath.Base(f), ".") && st.ModTime().After(at) {
			out, at = f, st.ModTime()
		}
	}
	return out
}
