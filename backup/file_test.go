package backup

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

// sampleDump is the shape of a dump tool's output, with its completion
// marker last.
const sampleDump = "-- MariaDB dump 10.19\n--\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `db_tars`;\nUSE `db_tars`;\n" +
	"INSERT INTO `t_node_info` VALUES (1,'10.0.0.5');\n\n-- Dump completed\n"

// writeSnapshot writes a snapshot of sql into dir as takeOne does, without
// a database, and returns the dump's path.
func writeSnapshot(t *testing.T, dir, deployment, sql string, at time.Time) string {
	t.Helper()
	df, err := createDump(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := df.Write([]byte(sql)); err != nil {
		t.Fatal(err)
	}
	if err := df.finish(); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Format: ManifestFormat, Deployment: deployment, DatabaseContainer: "tars-mysql", Databases: []string{"db_tars"},
		Size: df.size.n, RawSize: df.raw.n, SHA256: df.digest(), FrameworkVersion: "v3.0.15", Time: at}
	if err := verify(t.Context(), df.path, m); err != nil {
		t.Fatalf("a good dump is refused: %v", err)
	}
	if err := publish(df.path, &m, dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, m.File)
}

func TestSnapshotFiles(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 1, 11, 12, 43, 0, time.UTC)
	dump := writeSnapshot(t, dir, "tars-mysql on unix:///var/run/docker.sock", sampleDump, at)
	if filepath.Base(dump) != "20261201T111243Z-v3.0.15.sql.gz" {
		t.Errorf("dump named %s", filepath.Base(dump))
	}
	for _, p := range []string{dump, ManifestPath(dump)} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", p, err, st.Mode())
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	m, got, err := Verify(t.Context(), ManifestPath(dump))
	if err != nil || got != dump || m.File != filepath.Base(dump) {
		t.Fatalf("Verify(manifest) = %q, %v", got, err)
	}
	again := writeSnapshot(t, dir, m.Deployment, sampleDump, at)
	if filepath.Base(again) != "20261201T111243Z-v3.0.15-2.sql.gz" {
		t.Errorf("a second snapshot in the same second is named %s", filepath.Base(again))
	}
}

// TestVerifyRefuses: a truncated, corrupt, altered or unfinished dump and a
// missing manifest are bad input, each said for what it is.
func TestVerifyRefuses(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, want string
		spoil      func(t *testing.T, dump string)
	}{
		{"truncated", "truncated", func(t *testing.T, dump string) {
			st, _ := os.Stat(dump)
			must(t, os.Truncate(dump, st.Size()-12))
		}},
		{"corrupt", "corrupt", func(t *testing.T, dump string) {
			b, _ := os.ReadFile(dump)
			b[len(b)/2] ^= 0xff
			must(t, os.WriteFile(dump, b, 0o600))
		}},
		{"replaced", "SHA-256", func(t *testing.T, dump string) {
			f, _ := os.Create(dump)
			zw := gzip.NewWriter(f)
			_, _ = zw.Write([]byte(strings.Replace(sampleDump, "10.0.0.5", "10.0.0.9", 1)))
			must(t, zw.Close())
			must(t, f.Close())
		}},
		{"no manifest", "read its manifest", func(t *testing.T, dump string) { must(t, os.Remove(ManifestPath(dump))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dump := writeSnapshot(t, t.TempDir(), "d", sampleDump, at)
			tc.spoil(t, dump)
			_, _, err := Verify(t.Context(), dump)
			if err == nil || fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v (exit %d), want exit 2 saying %q", err, fault.ExitCode(err), tc.want)
			}
		})
	}
	t.Run("unfinished", func(t *testing.T) {
		dir := t.TempDir()
		df, _ := createDump(dir)
		_, _ = df.Write([]byte(strings.TrimSuffix(sampleDump, "-- Dump completed\n")))
		must(t, df.finish())
		m := Manifest{Size: df.size.n, RawSize: df.raw.n, SHA256: df.digest()}
		if err := verify(t.Context(), df.path, m); err == nil || !strings.Contains(err.Error(), "did not finish") {
			t.Errorf("an unfinished dump: %v", err)
		}
	})
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var dumps []string
	for i := 0; i < 4; i++ {
		dumps = append(dumps, writeSnapshot(t, dir, "mine", sampleDump, base.Add(time.Duration(i)*time.Hour)))
	}
	other := writeSnapshot(t, dir, "other", sampleDump, base.Add(-time.Hour))
	stray := filepath.Join(dir, "notes.json")
	must(t, os.WriteFile(stray, []byte("{}"), 0o600))
	removed, err := prune(dir, "mine", 2)
	if err != nil || len(removed) != 2 || removed[0] != dumps[1] || removed[1] != dumps[0] {
		t.Fatalf("prune removed %v, %v; want the two oldest of mine", removed, err)
	}
	for _, p := range []string{dumps[2], dumps[3], ManifestPath(dumps[3]), other, ManifestPath(other), stray} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if _, err := os.Stat(ManifestPath(dumps[0])); !os.IsNotExist(err) {
		t.Errorf("the manifest of a pruned dump stays: %v", err)
	}
	if removed, _ := prune(dir, "mine", 0); len(removed) != 0 {
		t.Errorf("keep 0 removed %v", removed)
	}
}

func TestDirs(t *testing.T) {
	env := map[string]string{"XDG_STATE_HOME": "/home/u/.state", "HOME": "/home/u"}
	got := DefaultDirs(func(k string) string { return env[k] })
	want := []string{"/var/lib/tarsup/backups", "/home/u/.state/tarsup/backups", "/home/u/.local/state/tarsup/backups"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("DefaultDirs = %v, want %v", got, want)
	}
	for in, want := range map[string]string{
		"unix:///var/run/docker.sock tars-mysql": "unix-var-run-docker.sock-tars-mysql",
		"tcp://127.0.0.11:2376":                  "tcp-127.0.0.11-2376",
		"../..":                                  "unnamed",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	dir := t.TempDir()
	if why := usable(filepath.Join(dir, "a", "b")); why != "" {
		t.Errorf("a directory to create under a writable one: %s", why)
	}
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, nil, 0o600))
	if why := usable(filepath.Join(file, "x")); !strings.Contains(why, "not a directory") {
		t.Errorf("under a file: %q", why)
	}
	o := Options{Dir: filepath.Join(file, "x")}
	if _, err := o.resolveDir(); fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), "--backup-dir") {
		t.Errorf("an unusable --backup-dir: %v", err)
	}
}

func TestRestoreCommand(t *testing.T) {
	spec := engineSpec("tcp://10.0.0.5:2376", "/etc/certs/ca.pem")
	got := RestoreCommand(spec, "/var/lib/tarsup/backups/d/x y.sql.gz")
	want := "tarsup restore '/var/lib/tarsup/backups/d/x y.sql.gz' --host tcp://10.0.0.5:2376 --tlsverify --tlscacert /etc/certs/ca.pem"
	if got != want {
		t.Errorf("RestoreCommand = %s\nwant %s", got, want)
	}
	if q := quote("it's"); q != `'it'\''s'` {
		t.Errorf("quote = %s", q)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoreVerifiesFirst: a truncated snapshot is refused before any
// engine is contacted (the one given does not exist).
func TestRestoreVerifiesFirst(t *testing.T) {
	dump := writeSnapshot(t, t.TempDir(), "d", sampleDump, time.Now())
	st, _ := os.Stat(dump)
	must(t, os.Truncate(dump, st.Size()/2))
	cfg := Config{Fleet: fleet.Config{Specs: []engine.HostSpec{{URL: "unix://" + filepath.Join(t.TempDir(), "none.sock")}}}}
	_, err := Restore(t.Context(), cfg, RestoreOptions{File: dump})
	if fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), "truncated") || strings.Contains(err.Error(), "none.sock") {
		t.Errorf("restore of a truncated snapshot: %v", err)
	}
}
