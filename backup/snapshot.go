package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Snapshotter takes an upgrade's snapshots (orchestrator.Snapshots): of
// every deployment a framework step of the plan belongs to.
type Snapshotter struct{ Opts Options }

// New returns a Snapshotter with opts.
func New(opts Options) *Snapshotter { return &Snapshotter{Opts: opts} }

// Why: a compile-time proof that the orchestrator's hook is satisfied.
var _ orchestrator.Snapshots = (*Snapshotter)(nil)

// noBackupFix ends the error of a snapshot that cannot be taken.
const noBackupFix = "nothing was changed; fix that, or run with --no-backup to upgrade without a snapshot"

// frameworkSteps are the plan's recreates of framework and web containers.
func frameworkSteps(p plan.Plan) []plan.Step {
	var out []plan.Step
	for _, st := range p.Steps() {
		if r := st.Container.Role; r == images.RoleFramework || r == images.RoleWeb {
			out = append(out, st)
		}
	}
	return out
}

// Plan plans one snapshot per deployment of the plan's framework steps. A
// framework whose database is not found (no MYSQL_HOST, no such container
// on its engine, stopped, a refused password) fails it: exit 2, nothing
// changed.
func (s *Snapshotter) Plan(ctx context.Context, x *orchestrator.Executor, p plan.Plan, states []plan.HostState) ([]plan.Snapshot, error) {
	steps := frameworkSteps(p)
	if len(steps) == 0 {
		return nil, nil
	}
	// Why only the engines of those steps: locating lists an engine's
	// containers once per framework.
	var mine []plan.HostState
	for _, st := range states {
		if slices.ContainsFunc(steps, func(s plan.Step) bool { return s.Host == st.Host }) {
			mine = append(mine, st)
		}
	}
	deps, errs := locateAll(ctx, x.Hosts, mine)
	inPlan := map[int][]plan.Container{}
	for _, st := range steps {
		err, ok := errs[st.Container.ID]
		if ok && st.Container.Role == images.RoleWeb {
			// Why: a separate tarsweb may name its database otherwise; it
			// never upgrades without a framework, whose snapshot covers it.
			continue
		}
		if ok {
			return nil, fmt.Errorf("%w\n%s (a framework host whose database runs on another engine: snapshot it there with tarsup backup first)", locateError(st.Container, err), noBackupFix)
		}
		i := slices.IndexFunc(deps, func(d Deployment) bool {
			return slices.ContainsFunc(d.Frameworks, func(c plan.Container) bool { return c.ID == st.Container.ID })
		})
		if i >= 0 {
			inPlan[i] = append(inPlan[i], st.Container)
		}
	}
	dir, err := s.Opts.resolveDir()
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, noBackupFix)
	}
	var out []plan.Snapshot
	for _, i := range sortedKeys(inPlan) {
		snap, err := s.Opts.planOne(ctx, deps[i], dir, inPlan[i])
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, noBackupFix)
		}
		out = append(out, snap)
	}
	return out, nil
}

func sortedKeys(m map[int][]plan.Container) []int {
	var k []int
	for i := range m {
		k = append(k, i)
	}
	sort.Ints(k)
	return k
}

// Take takes the planned snapshots (see takeAll); its error says that the
// upgrade changed nothing, and how to run it without a snapshot.
func (s *Snapshotter) Take(ctx context.Context, x *orchestrator.Executor, snaps []plan.Snapshot) ([]plan.Snapshot, error) {
	taken, err := takeAll(ctx, x, s.Opts, snaps)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, noBackupFix)
	}
	return taken, nil
}

// takeAll takes the planned snapshots one after the other, each verified;
// then, every one good, prunes each deployment's older ones. When one
// fails, those it took already are removed too: the run changed nothing.
func takeAll(ctx context.Context, x *orchestrator.Executor, opts Options, snaps []plan.Snapshot) ([]plan.Snapshot, error) {
	var taken []plan.Snapshot
	for _, sn := range snaps {
		dep, err := findDeployment(ctx, x, sn.Host, sn.DBID)
		if err == nil {
			sn, err = opts.takeOne(ctx, x, dep, sn)
		}
		if err != nil {
			removeTaken(taken)
			return nil, err
		}
		taken = append(taken, sn)
	}
	for i, sn := range taken {
		pruned, err := prune(sn.Dir, sn.Deployment, sn.Keep)
		taken[i].Pruned = pruned
		if err != nil {
			x.Emit(orchestrator.Event{Host: sn.Host, Container: sn.DB, Action: "prune snapshots", Result: "failed", Detail: err.Error()})
		}
	}
	return taken, nil
}

// removeTaken removes snapshots taken by a run that then failed.
func removeTaken(snaps []plan.Snapshot) {
	for _, sn := range snaps {
		_ = os.Remove(sn.File)
		_ = os.Remove(sn.Manifest)
	}
}

// findDeployment observes a host as it is now and returns the deployment
// of the database container dbID.
func findDeployment(ctx context.Context, x *orchestrator.Executor, host, dbID string) (Deployment, error) {
	h := x.Hosts[host]
	if h == nil {
		return Deployment{}, fmt.Errorf("no connection to %s", host)
	}
	cs, err := orchestrator.Observe(ctx, h)
	if err != nil {
		return Deployment{}, err
	}
	deps, errs := locateAll(ctx, x.Hosts, []plan.HostState{{Host: host, Containers: cs}})
	for _, d := range deps {
		if d.Target.DBID == dbID {
			return d, nil
		}
	}
	msg := fmt.Sprintf("no framework on %s leads to the database container %s any more", host, plan.Short(dbID))
	for _, id := range slices.Sorted(maps.Keys(errs)) {
		msg += "; " + errs[id].Error()
	}
	return Deployment{}, errors.New(msg)
}
