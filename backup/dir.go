package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tarsup/tarsup/fault"
	"golang.org/x/sys/unix"
)

// DefaultKeep is --backup-keep's default: how many snapshots of a
// deployment stay after a good new one.
const DefaultKeep = 10

// DefaultDirs are the places a snapshot goes without --backup-dir, in the
// order tried: /var/lib/tarsup/backups (root), else
// $XDG_STATE_HOME/tarsup/backups, else ~/.local/state/tarsup/backups.
func DefaultDirs(getenv func(string) string) []string {
	dirs := []string{"/var/lib/tarsup/backups"}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		dirs = append(dirs, filepath.Join(d, "tarsup", "backups"))
	}
	if h := getenv("HOME"); h != "" {
		dirs = append(dirs, filepath.Join(h, ".local", "state", "tarsup", "backups"))
	}
	return dirs
}

// usable says why a snapshot cannot go to dir ("" when it can): dir is a
// writable directory, or does not exist and its nearest existing parent
// is a writable directory (it is created, mode 0700, on the first
// snapshot). It creates nothing.
func usable(dir string) string {
	p := dir
	for {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			return p + " is not a directory"
		case err == nil:
			if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Sprintf("%s is not writable (%v)", p, err)
			}
			if m := st.Mode(); m.Perm()&0o002 != 0 && m&os.ModeSticky == 0 {
				return fmt.Sprintf("%s is writable by every user (mode %s) and not sticky: anyone could replace a snapshot's directory with one of theirs; "+
					"chmod o-w (or +t) it, or give another directory", p, m.Perm())
			}
			return ""
		case !errors.Is(err, os.ErrNotExist):
			return err.Error()
		}
		parent := filepath.Dir(p)
		if parent == p {
			return dir + " cannot be created"
		}
		p = parent
	}
}

// resolveDir returns where the snapshots go: o.Dir (made absolute), or the first
// of DefaultDirs that is usable. An unusable directory is bad input
// (exit 2), before anything changed.
func (o Options) resolveDir() (string, error) {
	if o.Dir != "" {
		abs, err := filepath.Abs(o.Dir)
		if err != nil {
			return "", fault.Mark(fault.BadInput, fmt.Errorf("--backup-dir %s: %w", o.Dir, err))
		}
		if why := usable(abs); why != "" {
			return "", fault.Mark(fault.BadInput, fmt.Errorf("--backup-dir %s cannot hold snapshots: %s; give a writable directory", abs, why))
		}
		return abs, nil
	}
	var whys []string
	for _, d := range DefaultDirs(o.getenv()) {
		why := usable(d)
		if why == "" {
			return d, nil
		}
		whys = append(whys, why)
	}
	return "", fault.Mark(fault.BadInput, fmt.Errorf("no place for snapshots (%s): give a writable directory with --backup-dir", strings.Join(whys, "; ")))
}

// DeploymentName names a deployment: its database container on its engine.
func DeploymentName(host, db string) string { return db + " on " + host }

// DirName is a deployment's directory under the backup directory:
// <host>--<db>, the host's URL or name with every character but letters,
// digits, '.' and '-' made '-'.
func DirName(host, db string) string { return slug(host) + "--" + slug(db) }

// slug keeps letters, digits, '.', '_' and '-' and turns runs of anything
// else into one '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "unnamed"
	}
	return out
}

// private says why a deployment's directory must not hold its snapshots
// ("" when it may, or when it does not exist yet: it is created mode
// 0700): it must be a directory (not a link to one) of this user that no
// other user can write to. Why: whoever can write to it can put a dump
// and a manifest of their own there, and a restore loads them.
func private(dir string) string {
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ""
	case err != nil:
		return err.Error()
	case !st.IsDir():
		return fmt.Sprintf("%s is not a directory (%s)", dir, st.Mode().Type())
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Sprintf("%s can be written by other users (mode %s): chmod go-w it", dir, st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Sprintf("%s belongs to user %d, not to this one (%d): remove it, or give another --backup-dir", dir, sys.Uid, os.Geteuid())
	}
	return ""
}
