package backup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/fleet"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Config is what `tarsup backup` and `tarsup restore` share: the engines
// and how to work on them, and the deployments --only names (a framework
// or database container each; none means every one, for backup).
type Config struct {
	Fleet fleet.Config
	Only  []string
}

// Backup takes `tarsup backup`'s snapshots, under the engine locks: one of
// every deployment found on the engines (or those --only names), each
// verified, then each deployment's older ones pruned.
func Backup(ctx context.Context, cfg Config, opts Options) ([]plan.Snapshot, error) {
	s, err := fleet.Open(ctx, cfg.Fleet, true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	deps, err := deployments(ctx, s, cfg.Only)
	if err != nil {
		return nil, err
	}
	dir, err := opts.resolveDir()
	if err != nil {
		return nil, fmt.Errorf("%w\nnothing was written", err)
	}
	var snaps []plan.Snapshot
	for _, d := range deps {
		sn, err := opts.planOne(ctx, d, dir, d.Frameworks)
		if err != nil {
			return nil, fmt.Errorf("%w\nnothing was written", err)
		}
		snaps = append(snaps, sn)
	}
	return takeAll(ctx, s.X, opts, snaps)
}

// deployments observes the engines and locates every deployment (those
// --only names). A framework whose database is not found is an error
// unless --only leaves its deployment out.
func deployments(ctx context.Context, s *fleet.Session, only []string) ([]Deployment, error) {
	states, err := orchestrator.ObserveAll(ctx, s.Hosts)
	if err != nil {
		return nil, err
	}
	deps, errs := locateAll(ctx, s.X.Hosts, states)
	for _, st := range states {
		for _, c := range st.Containers {
			err, ok := errs[c.ID]
			// A separate tarsweb that names its database otherwise is
			// no deployment of its own (its framework's is).
			if ok && c.Role != images.RoleWeb && (len(only) == 0 || slices.Contains(only, c.Name)) {
				return nil, fmt.Errorf("%w\nnothing was written; leave its deployment out with --only NAME (the framework or database containers to snapshot)", locateError(c, err))
			}
		}
	}
	if len(deps) == 0 {
		return nil, badInput("no Tars deployment on %s: no framework container whose MYSQL_HOST names a running database container on its engine", engineNames(s.Hosts))
	}
	return selectDeployments(deps, only)
}

// RestoreOptions are `tarsup restore`'s own inputs.
type RestoreOptions struct {
	// File is the snapshot: its dump or its manifest.
	File string
	// DryRun prints the plan and changes nothing; Force restores a
	// snapshot of another deployment.
	DryRun, Force bool
}

// RestoreReport is what a restore did, or would do. Its JSON keys are a promise.
type RestoreReport struct {
	DryRun   bool     `json:"dry_run"`
	File     string   `json:"file"`
	Manifest Manifest `json:"manifest"`
	// Deployment is the one restored into; Forced is true when it is not
	// the snapshot's (--force).
	Deployment string `json:"deployment"`
	Host       string `json:"host"`
	DB         string `json:"database_container"`
	Forced     bool   `json:"forced"`
	// Stop are the framework containers stopped and started again (in
	// that order); LeftStopped those that were not running.
	Stop        []string `json:"stop"`
	LeftStopped []string `json:"left_stopped,omitempty"`
	Databases   []string `json:"databases"`
	// Restored: the dump was loaded and the frameworks started again.
	Restored bool `json:"restored"`
	// SchemaMatches: after the load, the schema fingerprint is the snapshot's.
	SchemaMatches bool            `json:"schema_matches"`
	Recovered     []plan.Recovery `json:"recovered,omitempty"`
	Error         string          `json:"error,omitempty"`
}

// Restore verifies the snapshot before anything else (a corrupt, truncated
// or unfinished one is exit 2 and nothing is contacted), then, under the
// engine locks (none in a dry run), finds the deployment it belongs to
// (another one only with --force: exit 3 otherwise) and restores it.
func Restore(ctx context.Context, cfg Config, o RestoreOptions) (RestoreReport, error) {
	rep := RestoreReport{DryRun: o.DryRun, File: o.File}
	m, dump, err := verifyOpen(ctx, o.File)
	if err != nil && ctx.Err() != nil {
		// Why %v: a signal, not the file, ended it (exit 1, not 2).
		return rep, fault.Mark(fault.Interrupted, fmt.Errorf("interrupted (SIGINT/SIGTERM) while verifying %s: nothing was changed (%v)", o.File, err))
	}
	if err != nil {
		return rep, err
	}
	defer dump.Close()
	rep.File, rep.Manifest, rep.Databases = dump.Name(), m, m.Databases
	s, err := fleet.Open(ctx, cfg.Fleet, !o.DryRun)
	if err != nil {
		return rep, err
	}
	defer s.Close()
	if rep.Recovered, _, err = s.X.RecoverPending(ctx, s.Hosts, o.DryRun); err != nil {
		return rep, err
	}
	states, err := orchestrator.ObserveAll(ctx, s.Hosts)
	if err != nil {
		return rep, err
	}
	all, errs := locateAll(ctx, s.X.Hosts, states)
	deps, err := selectDeployments(all, cfg.Only)
	if err != nil {
		return rep, err
	}
	dep, forced, err := pick(deps, m, o.Force, errs, s.Hosts)
	if err != nil {
		return rep, err
	}
	rep.Deployment, rep.Host, rep.DB, rep.Forced = dep.Name(), dep.Host.Name(), dep.Target.DB, forced
	rep.Stop, rep.LeftStopped = names(stopOrder(dep)), names(stopped(dep))
	if o.DryRun {
		return rep, nil
	}
	rep.SchemaMatches, err = restoreInto(ctx, s.X, dep, dump, m)
	rep.Restored = err == nil
	return rep, err
}

// pick is the deployment a snapshot goes back into: its own (the same
// name, or the same database container), else, with force, the one
// deployment there is.
func pick(deps []Deployment, m Manifest, force bool, errs map[string]error, hosts []*engine.Host) (Deployment, bool, error) {
	var same []Deployment
	var found []string
	for _, d := range deps {
		found = append(found, d.Name())
		if d.Name() == m.Deployment || d.Target.DBID == m.DatabaseContainerID {
			same = append(same, d)
		}
	}
	switch {
	case len(same) == 1:
		return same[0], false, nil
	case len(deps) == 0:
		msg := fmt.Sprintf("no Tars deployment on %s: no framework container whose MYSQL_HOST names a running database container on its engine", engineNames(hosts))
		var whys []string
		for _, e := range errs {
			whys = append(whys, e.Error())
		}
		sort.Strings(whys)
		if len(whys) > 0 {
			msg += " (" + strings.Join(whys, "; ") + ")"
		}
		return Deployment{}, false, badInput("%s; nothing was changed", msg)
	case !force:
		return Deployment{}, false, refused("snapshot %s is of deployment %s, and the engines run no such deployment (found: %s): nothing was changed; "+
			"to restore it into another deployment, give --force (and --only NAME to pick one)", m.File, m.Deployment, strings.Join(found, ", "))
	case len(deps) > 1:
		return Deployment{}, false, badInput("--force: there are several deployments (%s): pick the one to restore into with --only NAME (a framework or database container)", strings.Join(found, ", "))
	}
	return deps[0], true, nil
}

// String is the restore's plan (a dry run) or what it did, in text.
func (r RestoreReport) String() string {
	var b strings.Builder
	m := r.Manifest
	fmt.Fprintf(&b, "snapshot %s: deployment %s, taken %s under framework %s, %s (%s, %s of SQL): verified (SHA-256, gzip, %q last)\n",
		r.File, m.Deployment, m.Time.Format(time.RFC3339), or(m.FrameworkVersion, "unknown"), strings.Join(m.Databases, ", "), plan.Bytes(m.Size), plan.Bytes(m.RawSize), CompletionMarker)
	into := r.Deployment
	if r.Forced {
		into += " (--force: another deployment than the snapshot's)"
	}
	verb := func(dry, done string) string {
		if r.DryRun || !r.Restored {
			return dry
		}
		return done
	}
	fmt.Fprintf(&b, "%s into %s:\n", verb("restore", "restored"), into)
	stop := "no framework container runs: none to stop"
	if len(r.Stop) > 0 {
		stop = verb("stop ", "stopped ") + strings.Join(r.Stop, ", ") + " (never the database container " + r.DB + ", never a node; none is recreated)"
	}
	fmt.Fprintf(&b, "  %s\n", stop)
	fmt.Fprintf(&b, "  %s %s from the snapshot: every write since %s is lost\n", verb("drop and load", "dropped and loaded"), strings.Join(r.Databases, ", "), m.Time.Format(time.RFC3339))
	if len(r.Stop) > 0 {
		fmt.Fprintf(&b, "  %s %s, masters first, each through the health gate (healthy; only running for one that was not healthy before)\n", verb("start", "started"), strings.Join(reversed(r.Stop), ", "))
	}
	if len(r.LeftStopped) > 0 {
		fmt.Fprintf(&b, "  left stopped (they were): %s\n", strings.Join(r.LeftStopped, ", "))
	}
	if r.Restored && !r.SchemaMatches {
		b.WriteString("  warning: the schema fingerprint after the load is not the snapshot's\n")
	}
	return b.String()
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
