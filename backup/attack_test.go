package backup

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tarsup/tarsup/fault"
)

// forge rewrites a snapshot as someone who can write its directory would:
// a dump of their own, and the manifest's sha256, sizes and databases made
// to match it.
func forge(t *testing.T, dump, sql string, dbs []string) {
	t.Helper()
	f, err := os.Create(dump)
	must(t, err)
	zw := gzip.NewWriter(f)
	_, _ = zw.Write([]byte(sql))
	must(t, zw.Close())
	must(t, f.Close())
	found, err := readBack(t.Context(), dump, nil)
	must(t, err)
	m, err := ReadManifest(dump)
	must(t, err)
	m.SHA256, m.Size, m.RawSize = found.SHA256, found.Size, found.RawSize
	if dbs != nil {
		m.Databases = dbs
	}
	data, _ := json.Marshal(m)
	must(t, os.WriteFile(ManifestPath(dump), data, 0o600))
}

// TestVerifyRefusesForgedDumps: a dump whose manifest was edited to match
// it is still refused when it would drop `mysql` (the manifest naming it,
// or the SQL) or touch a database outside the snapshot's.
func TestVerifyRefusesForgedDumps(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, sql, want string
		dbs             []string
	}{
		{"manifest names mysql", "CREATE DATABASE `mysql`;\nUSE `mysql`;\n-- Dump completed\n", "none of the Tars databases", []string{"mysql"}},
		{"dump of mysql", "CREATE DATABASE `mysql`;\nUSE `mysql`;\nDROP TABLE IF EXISTS `user`;\n-- Dump completed\n", "not one of the snapshot's databases", nil},
		{"other database", "USE `db_tars`;\nDROP DATABASE `shop`;\n-- Dump completed\n", "shop", nil},
		{"system command", "USE `db_tars`;\nsystem rm -rf /\n-- Dump completed\n", "statement", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dump := writeSnapshot(t, t.TempDir(), "d", sampleDump, at)
			forge(t, dump, tc.sql, tc.dbs)
			_, _, err := Verify(t.Context(), dump)
			if err == nil || fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v (exit %d), want exit 2 saying %q", err, fault.ExitCode(err), tc.want)
			}
		})
	}
}

// TestVerifyRefusesOddFiles: a FIFO (which would block the read for
// ever), a directory and a file of neither suffix are refused at once.
func TestVerifyRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.json")
	must(t, syscall.Mkfifo(fifo, 0o600))
	sub := filepath.Join(dir, "d.sql.gz")
	must(t, os.Mkdir(sub, 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "d.json"), []byte("{}"), 0o600))
	for path, want := range map[string]string{fifo: "not a regular file", sub: "format", "/dev/null": "not a snapshot's file", dir: "not a snapshot's file"} {
		_, _, err := Verify(t.Context(), path)
		if err == nil || fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify(%s) = %v (exit %d), want exit 2 saying %q", path, err, fault.ExitCode(err), want)
		}
	}
	dump := writeSnapshot(t, t.TempDir(), "d", sampleDump, time.Now())
	must(t, os.Remove(dump))
	must(t, syscall.Mkfifo(dump, 0o600))
	if _, _, err := Verify(t.Context(), dump); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO for the dump: %v", err)
	}
}

// TestBackupDirOthers: a backup directory every user can write to (not
// sticky) and a deployment directory others can write to, or that is a
// link, are refused; a sticky one (/tmp's kind) is not.
func TestBackupDirOthers(t *testing.T) {
	open := t.TempDir()
	must(t, os.Chmod(open, 0o777))
	if why := usable(open); !strings.Contains(why, "writable by every user") {
		t.Errorf("usable(0777) = %q", why)
	}
	must(t, os.Chmod(open, 0o777|os.ModeSticky))
	if why := usable(open); why != "" {
		t.Errorf("usable(1777) = %q", why)
	}
	dd := filepath.Join(t.TempDir(), "dep")
	if why := private(dd); why != "" {
		t.Errorf("private(missing) = %q", why)
	}
	must(t, os.Mkdir(dd, 0o700))
	if why := private(dd); why != "" {
		t.Errorf("private(0700) = %q", why)
	}
	must(t, os.Chmod(dd, 0o777))
	if why := private(dd); !strings.Contains(why, "other users") {
		t.Errorf("private(0777) = %q", why)
	}
	link := dd + "-link"
	must(t, os.Symlink(dd, link))
	if why := private(link); !strings.Contains(why, "not a directory") {
		t.Errorf("private(link) = %q", why)
	}
}

// TestVerifyOpenKeepsTheVerifiedFile: a dump renamed over the verified one
// after the verification is not what a restore reads.
func TestVerifyOpenKeepsTheVerifiedFile(t *testing.T) {
	dir := t.TempDir()
	dump := writeSnapshot(t, dir, "d", sampleDump, time.Now())
	m, f, err := verifyOpen(t.Context(), dump)
	must(t, err)
	defer f.Close()
	other := writeSnapshot(t, t.TempDir(), "d", strings.Replace(sampleDump, "10.0.0.5", "10.6.6.6", 1), time.Now())
	must(t, os.Rename(other, dump))
	zr, err := gzip.NewReader(f)
	must(t, err)
	var b strings.Builder
	_, err = io.Copy(&b, zr)
	must(t, err)
	if b.String() != sampleDump || m.Deployment != "d" {
		t.Errorf("read %q after the swap, want the verified dump", b.String())
	}
}

// TestVerifyFollowsLinkedManifest: a link to a manifest in another
// directory names the dump beside the manifest it links to.
func TestVerifyFollowsLinkedManifest(t *testing.T) {
	dump := writeSnapshot(t, t.TempDir(), "d", sampleDump, time.Now())
	link := filepath.Join(t.TempDir(), "latest.json")
	must(t, os.Symlink(ManifestPath(dump), link))
	if _, got, err := Verify(t.Context(), link); err != nil || got != dump {
		t.Errorf("Verify(link) = %q, %v; want %s", got, err, dump)
	}
}
