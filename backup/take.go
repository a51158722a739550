package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tarsdb"
)

// planOne plans the snapshot of one deployment into dir: the Tars
// databases it has (asked of the server: this also proves, before
// anything changes, that the database answers and lets the framework's
// user in) and the files' place. frameworks are the plan's framework
// containers on it.
func (o Options) planOne(ctx context.Context, dep Deployment, dir string, frameworks []plan.Container) (plan.Snapshot, error) {
	c := tarsdb.NewClient(dep.Host.Engine)
	dbs, err := c.Existing(ctx, dep.Target, o.databases())
	if err != nil {
		return plan.Snapshot{}, fmt.Errorf("snapshot of %s: %w", dep.Name(), err)
	}
	dd := filepath.Join(dir, DirName(dep.Host.Name(), dep.Target.DB))
	if why := private(dd); why != "" {
		return plan.Snapshot{}, badInput("snapshot of %s: %s", dep.Name(), why)
	}
	if len(dbs) == 0 {
		return plan.Snapshot{}, badInput("snapshot of %s: the server has none of the Tars databases (%s): nothing to snapshot; check MYSQL_HOST of %s", dep.Name(), strings.Join(o.databases(), ", "), dep.Via.Name)
	}
	return plan.Snapshot{
		Deployment: dep.Name(), Host: dep.Host.Name(), DB: dep.Target.DB, DBID: dep.Target.DBID,
		Frameworks: names(frameworks), FrameworkIDs: ids(frameworks), Via: dep.Via.Name, ViaID: dep.Via.ID,
		Databases: dbs, Dir: dd, Keep: o.Keep,
		FrameworkVersion: dep.Via.Version,
	}, nil
}

// takeOne dumps one deployment's databases into a temporary file of its
// directory, verifies it, and only then gives the dump and its manifest
// their names. On an error no file of it is left.
func (o Options) takeOne(ctx context.Context, x *orchestrator.Executor, dep Deployment, snap plan.Snapshot) (plan.Snapshot, error) {
	fail := func(err error) (plan.Snapshot, error) {
		return plan.Snapshot{}, kept(fmt.Errorf("snapshot of %s to %s: %w", dep.Name(), snap.Dir, hint(err)))
	}
	x.Emit(orchestrator.Event{Host: snap.Host, Container: snap.DB, Action: "snapshot", Result: "started", Detail: strings.Join(snap.Databases, ", ")})
	c := tarsdb.NewClient(dep.Host.Engine)
	fp, err := c.SchemaFingerprint(ctx, dep.Target, snap.Databases)
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(snap.Dir, 0o700); err != nil {
		return fail(err)
	}
	if why := private(snap.Dir); why != "" {
		return fail(errors.New(why))
	}
	sweepTemp(x, snap)
	df, err := createDump(snap.Dir)
	if err != nil {
		return fail(err)
	}
	info, err := c.Dump(ctx, dep.Target, snap.Databases, df)
	if err == nil {
		err = df.finish()
	}
	if err != nil {
		df.abort()
		return fail(err)
	}
	m := o.manifest(dep, snap, info, fp, df)
	if err := verify(ctx, df.path, m); err != nil {
		df.abort()
		return fail(err)
	}
	if err := publish(df.path, &m, snap.Dir); err != nil {
		df.abort()
		return fail(err)
	}
	snap.File, snap.Manifest = filepath.Join(snap.Dir, m.File), ManifestPath(filepath.Join(snap.Dir, m.File))
	snap.Size, snap.RawSize, snap.SHA256, snap.Fingerprint = m.Size, m.RawSize, m.SHA256, m.SchemaFingerprint
	x.Emit(orchestrator.Event{Host: snap.Host, Container: snap.DB, Action: "snapshot", Result: "verified", Detail: snap.File})
	return snap, nil
}

// manifest is the manifest of a dump just written.
func (o Options) manifest(dep Deployment, snap plan.Snapshot, info tarsdb.DumpInfo, fp string, df *dumpFile) Manifest {
	return Manifest{
		Format: ManifestFormat, Deployment: dep.Name(), Engine: dep.Host.Name(),
		DatabaseContainer: dep.Target.DB, DatabaseContainerID: dep.Target.DBID, DatabaseImage: dep.Target.DBImage,
		Framework: dep.Via.Name, FrameworkImage: dep.Via.Image, FrameworkVersion: dep.Via.Version,
		Databases: info.Databases, Size: df.size.n, RawSize: df.raw.n, SHA256: df.digest(),
		ServerVersion: info.ServerVersion, SchemaFingerprint: fp, TarsupVersion: TarsupVersion(), Time: o.now(),
	}
}

// publish names a verified temporary dump: <UTC time>-<version>.sql.gz,
// and its manifest beside it (written under a temporary name first). The
// dump is renamed first: a manifest always has its dump.
func publish(tmp string, m *Manifest, dir string) error {
	base := freeName(dir, m.Time.Format("20060102T150405Z")+"-"+slug(or(m.FrameworkVersion, "unknown")))
	m.File = base + DumpSuffix
	mtmp := tmp + ManifestSuffix
	if err := m.write(mtmp); err != nil {
		_ = os.Remove(mtmp)
		return err
	}
	dump := filepath.Join(dir, m.File)
	if err := os.Rename(tmp, dump); err != nil {
		_ = os.Remove(mtmp)
		return err
	}
	if err := os.Rename(mtmp, ManifestPath(dump)); err != nil {
		_ = os.Remove(mtmp)
		_ = os.Remove(dump)
		return err
	}
	return syncDir(dir)
}

// freeName is base, or base-2, base-3... : the first whose files do not exist.
func freeName(dir, base string) string {
	name := base
	for i := 2; ; i++ {
		_, err1 := os.Lstat(filepath.Join(dir, name+DumpSuffix))
		_, err2 := os.Lstat(filepath.Join(dir, name+ManifestSuffix))
		if errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// syncDir makes the directory's new entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// hint adds the fix to a full or read-only backup directory's error.
func hint(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: free space there or give another --backup-dir", err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: give a writable --backup-dir", err)
	}
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sweepTemp removes what a snapshot of this deployment killed before it
// ended left in its directory: its temporary dump and manifest files
// (never a named snapshot). Why it may: the engine lock is held, so no
// other tarsup is writing a snapshot of this deployment now.
func sweepTemp(x *orchestrator.Executor, snap plan.Snapshot) {
	left, _ := filepath.Glob(filepath.Join(snap.Dir, ".snapshot-*.tmp*"))
	for _, p := range left {
		if os.Remove(p) == nil {
			x.Emit(orchestrator.Event{Host: snap.Host, Container: snap.DB, Action: "snapshot", Result: "removed", Detail: "unfinished " + p})
		}
	}
}
