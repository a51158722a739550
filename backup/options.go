package backup

import (
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tarsup/tarsup/tarsdb"
)

// Options say what a snapshot is: where it goes, which databases it holds,
// how many of a deployment's stay, and what a rollback does with it.
type Options struct {
	// Dir is --backup-dir; "" is the first usable of DefaultDirs.
	Dir string
	// All adds tars_stat and tars_property (--backup-all): monitoring data,
	// which can be large.
	All bool
	// Keep is --backup-keep: how many snapshots of a deployment stay after
	// a good new one (the new one included); 0 keeps every one.
	Keep int
	// RestoreOnRollback restores a deployment's snapshot by itself when a
	// framework step rolled back and the schema had changed since it
	// (--restore-on-rollback); the writes since the snapshot are lost.
	RestoreOnRollback bool
	// Getenv reads XDG_STATE_HOME and HOME for the default directory
	// (os.Getenv when nil).
	Getenv func(string) string
	// Now is the clock of the file names and manifests (time.Now when nil).
	Now func() time.Time
}

func (o Options) getenv() func(string) string {
	if o.Getenv == nil {
		return os.Getenv
	}
	return o.Getenv
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC()
	}
	return o.Now().UTC()
}

// databases are the databases a snapshot asks for.
func (o Options) databases() []string { return tarsdb.AllDatabases(o.All) }

// TarsupVersion is this binary's version, for the manifest: the module's
// version and the VCS revision it was built from, as far as the build
// recorded them.
func TarsupVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	parts := []string{bi.Main.Version}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			parts = append(parts, s.Value[:12])
		case s.Key == "vcs.modified" && s.Value == "true":
			parts = append(parts, "modified")
		}
	}
	return strings.Join(parts, " ")
}
