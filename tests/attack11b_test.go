//go:build e2e

package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/backup"
	"github.com/tarsup/tarsup/tarsdb"
	"github.com/tarsup/tarsup/tests/testbed"
)

// Attacks on issue 11's snapshots, `tarsup backup` and `tarsup restore`,
// as an operator's worst night would bring them. They run on extra engine
// 14, subnets 245..249.

// a11bEngineSlot is the extra engine these attacks run on (bed.Parallel).
const a11bEngineSlot = 14

// a11bDeployment is a deployment of these attacks on subnet k.
func a11bDeployment(t *testing.T, k int, name string) *snapDeployment {
	t.Helper()
	return newSnapDeployment(t, k, name, snapLayout{engine: a11bEngineSlot})
}

// a11bUsers is mysql.user's rows: what no restore may touch.
func a11bUsers(s *snapDeployment) string {
	return s.d.SQL(s.db.Name, s.pw, "SELECT user, host FROM mysql.user ORDER BY user, host;\n")
}

// a11bForge writes a snapshot of sql into dir as someone who can write
// there would: the dump gzip'd, and a manifest copied from the real one m
// with its file, sizes and sha256 made to match (and dbs, when given).
func a11bForge(t *testing.T, dir string, m backup.Manifest, sql string, dbs ...string) string {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(sql))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(gz.Bytes())
	m.File, m.Size, m.RawSize, m.SHA256 = "forged"+backup.DumpSuffix, int64(gz.Len()), int64(len(sql)), hex.EncodeToString(sum[:])
	if len(dbs) > 0 {
		m.Databases = dbs
	}
	dump := filepath.Join(dir, m.File)
	data, _ := json.Marshal(m)
	if err := os.WriteFile(dump, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup.ManifestPath(dump), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dump
}

// TestAttack11bForgedSnapshots: a restore of a file that is no snapshot
// (a directory, /dev/null, a FIFO), of a dump of the `mysql` schema with a
// manifest saying so or saying db_tars, of a dump that drops `mysql` or
// runs the client's `system`, each with a manifest edited to match its
// sha256, is exit 2 before anything stops: the framework is not
// restarted, mysql.user is untouched. A snapshot linked from another
// deployment's name is refused (exit 3). The real snapshot then restores.
// tarsup dropped and loaded whatever database the manifest named, and the
// client ran the dump's `system` lines.
func TestAttack11bForgedSnapshots(t *testing.T) {
	bed.Parallel(t, a11bEngineSlot)
	ctx := t.Context()
	s := a11bDeployment(t, 245, "a11b-forged")
	good := takeBackup(t, ctx, s)
	m, err := backup.ReadManifest(good)
	if err != nil {
		t.Fatal(err)
	}
	users := a11bUsers(s)
	before := startedOf(t, ctx, s, s.fw.Name)
	dir := t.TempDir()
	mysqlDump := s.d.MariaDBDump(s.db, s.ref, s.pw, "--single-transaction", "--databases", "mysql")
	marker := "/tmp/a11b-" + bed.RunID
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub"+backup.DumpSuffix)
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"a directory":                        dir,
		"/dev/null":                          "/dev/null",
		"a FIFO":                             fifo,
		"a directory named like a dump":      sub,
		"the mysql schema, manifest says so": a11bForge(t, t.TempDir(), m, mysqlDump, "mysql"),
		"the mysql schema as db_tars":        a11bForge(t, t.TempDir(), m, mysqlDump),
		"a dump that drops mysql":            a11bForge(t, t.TempDir(), m, "USE `db_tars`;\nDROP DATABASE IF EXISTS `mysql`;\n-- Dump completed\n"),
		"a dump that runs system":            a11bForge(t, t.TempDir(), m, "USE `db_tars`;\nsystem touch "+marker+"\n-- Dump completed\n"),
	}
	for name, file := range cases {
		r := s.tarsup(t, ctx, append([]string{"restore", file}, quickGate...)...)
		if r.ExitCode != 2 {
			t.Errorf("restore of %s: exit %d, want 2:\n%s", name, r.ExitCode, r)
		}
	}
	if got := startedOf(t, ctx, s, s.fw.Name); got != before {
		t.Errorf("the framework changed: %+v, was %+v", got, before)
	}
	if got := a11bUsers(s); got != users {
		t.Errorf("mysql.user changed:\n%s\nwas\n%s", got, users)
	}
	// A symbolic link to a snapshot whose manifest names another
	// deployment (another database container on the engine).
	other := m
	other.Deployment, other.DatabaseContainerID = "tars-mysql on tcp://elsewhere:2375", "0123"
	link := filepath.Join(t.TempDir(), "other"+backup.DumpSuffix)
	odump := a11bForge(t, t.TempDir(), other, mustRead(t, good))
	if err := os.Symlink(odump, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(backup.ManifestPath(odump), backup.ManifestPath(link)); err != nil {
		t.Fatal(err)
	}
	requireExit(t, s.tarsup(t, ctx, append([]string{"restore", link}, quickGate...)...), 3, "of deployment tars-mysql on tcp://elsewhere:2375")
	requireExit(t, s.tarsup(t, ctx, append([]string{"restore", good}, quickGate...)...), 0)
	if got := a11bUsers(s); got != users {
		t.Errorf("mysql.user changed by the real restore:\n%s", got)
	}
	for _, c := range []*testbed.Container{s.fw} {
		if st := startedOf(t, ctx, s, c.Name); st.status != "running" {
			t.Errorf("%s is %s after the restore", c.Name, st.status)
		}
	}
}

// mustRead is a snapshot's SQL, gunzipped.
func mustRead(t *testing.T, dump string) string {
	t.Helper()
	f, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAttack11bBackupDirs: a --backup-dir every user can write to (not
// sticky), a deployment directory others can write to, or owned by
// another user, is exit 2 and no file is written there; a relative
// --backup-dir is the working directory's; two backups of one deployment
// at once both end with a verified snapshot of their own.
func TestAttack11bBackupDirs(t *testing.T) {
	bed.Parallel(t, a11bEngineSlot)
	ctx := t.Context()
	s := a11bDeployment(t, 246, "a11b-dirs")
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	backupTo := func(dir string) testbed.Result {
		return s.tarsup(t, ctx, "backup", "--only", s.fw.Name, "--backup-dir", dir, "--lock-wait", "10m")
	}
	requireExit(t, backupTo(open), 2, "writable by every user")
	if left := snapshotFiles(t, open); len(left) != 0 {
		t.Errorf("files written to the world-writable directory: %v", left)
	}
	for _, spoil := range []func(string) error{
		func(dd string) error { return os.Chmod(dd, 0o777) },
		func(dd string) error { return os.Chown(dd, 65534, 65534) },
	} {
		base := t.TempDir()
		dd := s.deploymentDir(base)
		if err := os.Mkdir(dd, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := spoil(dd); err != nil {
			t.Fatal(err)
		}
		requireExit(t, backupTo(base), 2, dd)
		if left := snapshotFiles(t, base); len(left) != 0 {
			t.Errorf("files written to %s: %v", dd, left)
		}
	}
	// Two at once: the engine lock makes the second wait; each snapshot
	// is whole and has its own name.
	var wg sync.WaitGroup
	results := make([]testbed.Result, 2)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = backupTo(s.dir) }()
	}
	wg.Wait()
	for _, r := range results {
		requireExit(t, r, 0)
	}
	dumps, _ := filepath.Glob(filepath.Join(s.deploymentDir(s.dir), "*"+backup.DumpSuffix))
	if len(dumps) != 2 {
		t.Fatalf("%d snapshots after two backups: %v", len(dumps), dumps)
	}
	for _, d := range dumps {
		if _, _, err := backup.Verify(ctx, d); err != nil {
			t.Errorf("a snapshot of two at once does not verify: %v", err)
		}
	}
}

// a11bKillWhen runs tarsup with args (its engine flags added) and sends
// sig once ready says so (polled); it returns tarsup's stdout.
func a11bKillWhen(t *testing.T, ctx context.Context, s *snapDeployment, sig syscall.Signal, ready func() bool, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bed.Tarsup(t), append(args, s.conn...)...)
	cmd.Env = append(os.Environ(), "TARSUP_NO_BACKUP=false")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			t.Fatalf("tarsup ended (%v) before the point to signal it:\n%s%s", err, out.String(), errOut.String())
		case <-tick.C:
			if ready() {
				_ = cmd.Process.Signal(sig)
				<-done
				t.Logf("tarsup %s, %v:\n%s", strings.Join(args, " "), sig, errOut.String())
				return out.String()
			}
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			t.Fatal(ctx.Err())
		}
	}
}

// a11bClients are tarsup's database client containers on the engine.
func a11bClients(t *testing.T, ctx context.Context, s *snapDeployment) []container.Summary {
	t.Helper()
	list, err := s.e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", tarsdb.LabelClient))})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// a11bNoClientsLeft waits until no client container of tarsup's is left
// (AutoRemove takes one once its tool ended) and fails if one stays.
func a11bNoClientsLeft(t *testing.T, ctx context.Context, s *snapDeployment) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(a11bClients(t, ctx, s)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("client containers left: %v", a11bClients(t, ctx, s))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// a11bBulk makes the dump and the load take a while: rows enough that a
// kill lands in the middle.
const a11bBulk = `CREATE TABLE db_tars.a11b_bulk (id INT PRIMARY KEY AUTO_INCREMENT, pad VARCHAR(1000));
INSERT INTO db_tars.a11b_bulk (pad) SELECT REPEAT('x', 1000) FROM information_schema.COLUMNS a, information_schema.COLUMNS b LIMIT 60000;
`

// TestAttack11bKill9DuringSnapshot: kill -9 of `tarsup upgrade` while its
// snapshot streams to disk leaves no file a restore takes (every file in
// the directory is refused, exit 2), the framework untouched, no client
// container once the dump tool ended; the next upgrade takes over the
// dead lock, sweeps the unfinished file and upgrades.
func TestAttack11bKill9DuringSnapshot(t *testing.T) {
	bed.Parallel(t, a11bEngineSlot)
	ctx := t.Context()
	s := a11bDeployment(t, 247, "a11b-kill-dump")
	s.d.SQL(s.db.Name, s.pw, a11bBulk)
	before := startedOf(t, ctx, s, s.fw.Name)
	dd := s.deploymentDir(s.dir)
	writing := func() bool {
		left, _ := filepath.Glob(filepath.Join(dd, ".snapshot-*.tmp"))
		for _, p := range left {
			if st, err := os.Stat(p); err == nil && st.Size() > 0 {
				return true
			}
		}
		return false
	}
	out := a11bKillWhen(t, ctx, s, syscall.SIGKILL, writing, append([]string{"upgrade", "--only", s.fw.Name, "--to", "v3.0.16", "--backup-dir", s.dir}, quickGate...)...)
	files := snapshotFiles(t, s.dir)
	if len(files) == 0 {
		t.Fatalf("no file left to attack:\n%s", out)
	}
	for _, f := range files {
		requireExit(t, s.tarsup(t, ctx, append([]string{"restore", f, "--dry-run"}, quickGate...)...), 2)
	}
	if got := startedOf(t, ctx, s, s.fw.Name); got != before {
		t.Errorf("the framework changed: %+v, was %+v", got, before)
	}
	a11bNoClientsLeft(t, ctx, s)
	r := s.tarsup(t, ctx, append([]string{"upgrade", "--only", s.fw.Name, "--to", "v3.0.16", "--backup-dir", s.dir}, quickGate...)...)
	requireExit(t, r, 0)
	left, _ := filepath.Glob(filepath.Join(dd, ".snapshot-*"))
	if len(left) != 0 {
		t.Errorf("the unfinished snapshot is still there: %v", left)
	}
	dumps, _ := filepath.Glob(filepath.Join(dd, "*"+backup.DumpSuffix))
	if len(dumps) != 1 {
		t.Errorf("snapshots after the second upgrade: %v", dumps)
	}
}

// TestAttack11bKilledRestore: kill -9 of `tarsup restore` during its load
// leaves the framework stopped and the database partly loaded; `tarsup
// recover` has nothing to recover but sweeps a client container left
// created; the same restore again loads the whole
// snapshot, and, as the README says, leaves the framework stopped (it was
// stopped when it began): `docker start` brings it back. SIGTERM during
// the load ends neither the load nor the start: the framework runs.
func TestAttack11bKilledRestore(t *testing.T) {
	bed.Parallel(t, a11bEngineSlot)
	ctx := t.Context()
	s := a11bDeployment(t, 248, "a11b-kill-load")
	s.d.SQL(s.db.Name, s.pw, a11bBulk)
	dump := takeBackup(t, ctx, s)
	loading := func() bool {
		return startedOf(t, ctx, s, s.fw.Name).status != "running" && len(a11bClients(t, ctx, s)) > 0
	}
	restore := append([]string{"restore", dump, "--format", "json"}, quickGate...)
	a11bKillWhen(t, ctx, s, syscall.SIGKILL, loading, restore...)
	if st := startedOf(t, ctx, s, s.fw.Name); st.status == "running" {
		t.Errorf("the framework runs on a partly loaded database")
	}
	// Why recover first: a client container created and never started
	// (tarsup killed in between) is the engine lock's sweep's, when the
	// next tarsup takes the lock.
	requireExit(t, s.tarsup(t, ctx, "recover", "--lock-wait", "10m"), 0)
	a11bNoClientsLeft(t, ctx, s)
	r := s.tarsup(t, ctx, restore...)
	requireExit(t, r, 0)
	var rep backup.RestoreReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || !rep.Restored || !rep.SchemaMatches || len(rep.LeftStopped) != 1 {
		t.Errorf("second restore: %v %+v", err, rep)
	}
	if n := strings.TrimSpace(s.d.SQL(s.db.Name, s.pw, "SELECT COUNT(*) FROM db_tars.a11b_bulk;\n")); n != "60000" {
		t.Errorf("%s rows after the second restore, want 60000", n)
	}
	if err := s.e.Client.ContainerStart(ctx, s.fw.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	s.d.WaitTCP(s.fw.IP + ":17890")

	out := a11bKillWhen(t, ctx, s, syscall.SIGTERM, loading, restore...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Restored {
		t.Errorf("SIGTERM during the load: %v %+v\n%s", err, rep, out)
	}
	if st := startedOf(t, ctx, s, s.fw.Name); st.status != "running" {
		t.Errorf("after SIGTERM during the load the framework is %s", st.status)
	}
}
