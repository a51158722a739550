package plan

import (
	"fmt"
	"strings"
)

// Snapshot is a verified dump of one deployment's databases that an upgrade
// takes before its first container stops (package backup plans and takes
// it). A deployment is one database: the database container on one engine.
// Its JSON keys are a promise (`upgrade --format json`, `backup --format json`).
type Snapshot struct {
	// Deployment names the deployment stably: "DB on HOST" (the database
	// container's name and the engine's).
	Deployment string `json:"deployment"`
	Host       string `json:"host"`
	// DB and DBID are the database container.
	DB   string `json:"database_container"`
	DBID string `json:"database_container_id"`
	// Frameworks are the framework (and web) containers of the plan on that
	// database; FrameworkIDs their IDs.
	Frameworks   []string `json:"frameworks,omitempty"`
	FrameworkIDs []string `json:"-"`
	// Via is the framework whose MYSQL_* variables lead to the database
	// (ViaID its ID).
	Via   string `json:"framework"`
	ViaID string `json:"-"`
	// Databases are what the dump holds (those of the asked ones that exist).
	Databases []string `json:"databases"`
	// Dir is the deployment's directory of snapshots; Keep how many of them
	// stay after a good new one (0: all).
	Dir  string `json:"dir"`
	Keep int    `json:"keep"`
	// FrameworkVersion is the version of the framework image the snapshot
	// is taken under.
	FrameworkVersion string `json:"framework_version,omitempty"`

	// What a snapshot that was taken holds: the dump file and its manifest,
	// their sizes (compressed, and the dump's own), its SHA-256, the schema
	// fingerprint, and the older snapshots it pruned.
	File        string   `json:"file,omitempty"`
	Manifest    string   `json:"manifest,omitempty"`
	Size        int64    `json:"size,omitempty"`
	RawSize     int64    `json:"raw_size,omitempty"`
	SHA256      string   `json:"sha256,omitempty"`
	Fingerprint string   `json:"schema_fingerprint,omitempty"`
	Pruned      []string `json:"pruned,omitempty"`
}

// SnapshotPhaseLine is the dry run's line above the snapshots: when they
// are taken and what a failure does.
const SnapshotPhaseLine = "# snapshot: before the first container stops, each dump verified (checksum, gzip, completion marker); a failure ends the run with nothing changed (exit 2)"

// Line renders a snapshot: planned ("tars-mysql: snapshot db_tars, ... of
// tars-framework's database to DIR, keep 10") or taken (the file and its
// sizes).
func (s Snapshot) Line(withHost bool) string {
	var b strings.Builder
	if withHost {
		b.WriteString(s.Host + " ")
	}
	if s.File != "" {
		fmt.Fprintf(&b, "%s: snapshot %s: %s (%s, %s of SQL), verified", s.DB, strings.Join(s.Databases, ", "), s.File, Bytes(s.Size), Bytes(s.RawSize))
		if len(s.Pruned) > 0 {
			fmt.Fprintf(&b, "; pruned %d older", len(s.Pruned))
		}
		return b.String()
	}
	keep := "keep every snapshot"
	if s.Keep > 0 {
		keep = fmt.Sprintf("keep the newest %d", s.Keep)
	}
	fmt.Fprintf(&b, "%s: snapshot %s (database of %s) to %s/, %s", s.DB, strings.Join(s.Databases, ", "), strings.Join(s.Frameworks, ", "), s.Dir, keep)
	return b.String()
}

// Bytes renders a size for people: 812 B, 1.2 kB, 34.5 MB.
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// SnapshotNote is what an upgrade says of a snapshot after a framework step
// rolled back: the schema changed since the snapshot (the new framework
// altered tables the old one now runs on), the command that restores it,
// and whether --restore-on-rollback did. Its JSON keys are a promise.
type SnapshotNote struct {
	Deployment string `json:"deployment"`
	Host       string `json:"host"`
	File       string `json:"file"`
	// SchemaChanged: the fingerprint now differs from the snapshot's.
	SchemaChanged  bool   `json:"schema_changed"`
	RestoreCommand string `json:"restore_command,omitempty"`
	// Restored: --restore-on-rollback loaded the snapshot back.
	Restored bool   `json:"restored"`
	Error    string `json:"error,omitempty"`
	Message  string `json:"message"`
}
