package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tarsdb"
)

// afterTimeout bounds the schema check after a rollback: the run was
// perhaps cancelled, and the check still says what to do.
const afterTimeout = 2 * time.Minute

// AfterRun looks at each snapshot whose deployment had a framework step
// rolled back: when the schema fingerprint changed since the snapshot (the
// new framework altered tables before it was rolled back), the note says
// so and gives the restore command; with RestoreOnRollback (and a run that
// was not cancelled) it restores the snapshot itself. Its error is a
// restore that failed.
func (s *Snapshotter) AfterRun(ctx context.Context, x *orchestrator.Executor, snaps []plan.Snapshot, results []orchestrator.StepResult) ([]plan.SnapshotNote, error) {
	var notes []plan.SnapshotNote
	var errs []error
	for _, sn := range snaps {
		if !rolledBack(sn, results) {
			continue
		}
		note, err := s.afterRollback(ctx, x, sn)
		notes = append(notes, note)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return notes, errors.Join(errs...)
}

// rolledBack reports whether a framework step of the snapshot's rolled back.
func rolledBack(sn plan.Snapshot, results []orchestrator.StepResult) bool {
	for _, r := range results {
		if r.Result == orchestrator.ResultRolledBack && slices.Contains(sn.FrameworkIDs, r.Step.Container.ID) {
			return true
		}
	}
	return false
}

// afterRollback checks one deployment's schema against its snapshot's.
func (s *Snapshotter) afterRollback(ctx context.Context, x *orchestrator.Executor, sn plan.Snapshot) (plan.SnapshotNote, error) {
	note := plan.SnapshotNote{Deployment: sn.Deployment, Host: sn.Host, File: sn.File}
	if h := x.Hosts[sn.Host]; h != nil {
		note.RestoreCommand = RestoreCommand(h.Spec, sn.File)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterTimeout)
	defer cancel()
	dep, err := findDeployment(cctx, x, sn.Host, sn.DBID)
	var fp string
	if err == nil {
		fp, err = tarsdb.NewClient(dep.Host.Engine).SchemaFingerprint(cctx, dep.Target, sn.Databases)
	}
	if err != nil {
		note.Error = err.Error()
		note.Message = fmt.Sprintf("%s: a framework step rolled back, and the schema could not be read to compare it with the snapshot's (%v); "+
			"if the new framework altered its tables, put the databases back as they were before the upgrade (the writes since the snapshot are lost): %s", sn.Deployment, err, note.RestoreCommand)
		return note, nil
	}
	if fp == sn.Fingerprint {
		note.Message = fmt.Sprintf("%s: a framework step rolled back; the schema is the snapshot's, so the old framework runs on the tables it knew: no restore is needed (snapshot %s)", sn.Deployment, sn.File)
		return note, nil
	}
	note.SchemaChanged = true
	if !s.Opts.RestoreOnRollback || ctx.Err() != nil {
		note.Message = fmt.Sprintf("%s: a framework step rolled back after the new framework altered the schema (its fingerprint changed since the snapshot), and the old framework now runs on it; "+
			"to put the databases back as they were before the upgrade (the writes since the snapshot are lost), run: %s", sn.Deployment, note.RestoreCommand)
		return note, nil
	}
	m, dump, err := verifyOpen(ctx, sn.File)
	if err == nil {
		_, err = restoreInto(ctx, x, dep, dump, m)
		dump.Close()
	}
	if err != nil {
		note.Error = err.Error()
		note.Message = fmt.Sprintf("%s: the schema changed since the snapshot and --restore-on-rollback failed to restore it: %v", sn.Deployment, err)
		return note, fmt.Errorf("restore %s into %s: %w", sn.File, sn.Deployment, err)
	}
	note.Restored = true
	note.Message = fmt.Sprintf("%s: the schema changed since the snapshot, so --restore-on-rollback restored %s (the writes since %s are lost)", sn.Deployment, sn.File, m.Time.Format(time.RFC3339))
	return note, nil
}

// RestoreCommand is the command that restores the snapshot file into the
// deployment on the engine spec names, with its connection flags.
func RestoreCommand(spec engine.HostSpec, file string) string {
	args := []string{"tarsup", "restore", quote(file), "--host", quote(spec.URL)}
	t := spec.TLS
	switch {
	case t.Verify:
		args = append(args, "--tlsverify")
	case t.Enabled:
		args = append(args, "--tls")
	}
	for _, f := range []struct{ flag, v string }{{"--tlscacert", t.CACert}, {"--tlscert", t.Cert}, {"--tlskey", t.Key}} {
		if t.On() && f.v != "" {
			args = append(args, f.flag, quote(f.v))
		}
	}
	if spec.Insecure {
		args = append(args, "--insecure")
	}
	return strings.Join(args, " ")
}

// quote quotes a word for a POSIX shell when it needs it.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=+@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
