package backup

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/tarsdb"
)

// ManifestFormat is the manifest's format version.
const ManifestFormat = 1

// DumpSuffix and ManifestSuffix end a snapshot's two files.
const (
	DumpSuffix     = ".sql.gz"
	ManifestSuffix = ".json"
)

// Manifest describes one snapshot; it sits beside the dump. Its JSON keys
// are a promise. It holds no credential: not the password, nor the user.
type Manifest struct {
	Format int `json:"format"`
	// Deployment is "DB on HOST"; Engine the engine's name (its URL unless
	// an inventory names it).
	Deployment          string `json:"deployment"`
	Engine              string `json:"engine"`
	DatabaseContainer   string `json:"database_container"`
	DatabaseContainerID string `json:"database_container_id"`
	DatabaseImage       string `json:"database_image"`
	// Framework is the framework container whose MYSQL_* variables led to
	// the database; FrameworkImage and FrameworkVersion what it ran.
	Framework        string   `json:"framework"`
	FrameworkImage   string   `json:"framework_image"`
	FrameworkVersion string   `json:"framework_version"`
	Databases        []string `json:"databases"`
	// File is the dump's name, in the manifest's directory.
	File string `json:"file"`
	// Size is the dump file's, RawSize the SQL's inside it.
	Size              int64     `json:"size"`
	RawSize           int64     `json:"raw_size"`
	SHA256            string    `json:"sha256"`
	ServerVersion     string    `json:"server_version"`
	SchemaFingerprint string    `json:"schema_fingerprint"`
	TarsupVersion     string    `json:"tarsup_version"`
	Time              time.Time `json:"time"`
}

// ManifestPath is the manifest of a dump file (or the manifest itself).
func ManifestPath(path string) string {
	if strings.HasSuffix(path, ManifestSuffix) {
		return path
	}
	return strings.TrimSuffix(path, DumpSuffix) + ManifestSuffix
}

// DumpPath is the dump of a manifest (or the dump itself).
func DumpPath(path string) string {
	if strings.HasSuffix(path, DumpSuffix) {
		return path
	}
	return strings.TrimSuffix(path, ManifestSuffix) + DumpSuffix
}

var (
	dbNameRE = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ReadManifest reads and checks the manifest of a snapshot (path is the
// dump or the manifest). A missing or broken one is bad input.
func ReadManifest(path string) (Manifest, error) {
	if !strings.HasSuffix(path, DumpSuffix) && !strings.HasSuffix(path, ManifestSuffix) {
		return Manifest{}, fault.Mark(fault.BadInput, fmt.Errorf("snapshot %s: not a snapshot's file: give its %s dump or its %s manifest", path, DumpSuffix, ManifestSuffix))
	}
	mp := ManifestPath(path)
	data, err := readManifestFile(mp)
	if err != nil {
		return Manifest{}, fault.Mark(fault.BadInput, fmt.Errorf("snapshot %s: read its manifest: %w (a snapshot is the .sql.gz and the .json beside it)", path, err))
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fault.Mark(fault.BadInput, fmt.Errorf("snapshot %s: manifest %s is not valid JSON: %w", path, mp, err))
	}
	if err := m.check(); err != nil {
		return Manifest{}, fault.Mark(fault.BadInput, fmt.Errorf("snapshot %s: manifest %s: %w", path, mp, err))
	}
	return m, nil
}

// check refuses a manifest that could not have been written by tarsup.
func (m Manifest) check() error {
	switch {
	case m.Format != ManifestFormat:
		return fmt.Errorf("format %d, this tarsup reads %d", m.Format, ManifestFormat)
	case m.Deployment == "" || m.DatabaseContainer == "":
		return fmt.Errorf("names no deployment")
	case len(m.Databases) == 0:
		return fmt.Errorf("names no database")
	case !sha256RE.MatchString(m.SHA256):
		return fmt.Errorf("sha256 %q is not a SHA-256", m.SHA256)
	}
	tars := tarsdb.AllDatabases(true)
	for _, d := range m.Databases {
		if !dbNameRE.MatchString(d) {
			return fmt.Errorf("database name %q", d)
		}
		// Why: a restore drops each database the manifest names.
		if !slices.Contains(tars, d) {
			return fmt.Errorf("database %q is none of the Tars databases (%s): a restore drops and loads only those", d, strings.Join(tars, ", "))
		}
	}
	return nil
}

// maxManifest bounds a manifest's size: tarsup's are a few hundred bytes.
const maxManifest = 1 << 20

// readManifestFile reads a manifest: a regular file (not a FIFO, whose
// read would wait for ever) of at most maxManifest bytes.
func readManifestFile(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifest {
		return nil, fmt.Errorf("%s is larger than %d bytes: no manifest is", path, maxManifest)
	}
	return data, nil
}

// write writes the manifest to path, mode 0600, synced.
func (m Manifest) write(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the manifest: %w", err)
	}
	return writeSynced(path, append(data, '\n'))
}

// writeSynced creates path (it must not exist), mode 0600, with data, and
// syncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
