package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/tarsdb"
)

// stopOrder is the order a restore stops a deployment's running framework
// containers in: web and the other framework hosts first, masters last.
// They start again in the reverse order, masters first.
func stopOrder(dep Deployment) []plan.Container {
	var first, last []plan.Container
	for _, c := range dep.Frameworks {
		switch {
		case !c.Running:
		case c.Master():
			last = append(last, c)
		default:
			first = append(first, c)
		}
	}
	return append(first, last...)
}

// stopped are a deployment's framework containers that are not running: a
// restore leaves them so.
func stopped(dep Deployment) []plan.Container {
	var out []plan.Container
	for _, c := range dep.Frameworks {
		if !c.Running {
			out = append(out, c)
		}
	}
	return out
}

// restoreInto loads a verified snapshot into a deployment's database: it
// stops the deployment's running framework containers (never the database
// container, never a node; none is recreated, so no address changes),
// drops the snapshot's databases and loads the dump, then starts the
// frameworks again, masters first, each gated (healthy; only running for
// one that was not healthy before). It reports whether the schema
// fingerprint after the load is the snapshot's. Once a container stopped,
// cancelling ctx does not interrupt it.
func restoreInto(ctx context.Context, x *orchestrator.Executor, dep Deployment, dump *os.File, m Manifest) (bool, error) {
	h := dep.Host
	order := stopOrder(dep)
	restore := map[string]string{}
	for _, c := range order {
		restore[c.ID] = plan.RestoreRunning
		if x.Opts.Gate.Prober != nil && x.Opts.Gate.Prober.Probe(ctx, h, c) == nil {
			restore[c.ID] = plan.RestoreHealthy
		}
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("restore into %s: %w (nothing was stopped)", dep.Name(), err)
	}
	ctx = context.WithoutCancel(ctx)
	var paused []plan.Container
	for _, c := range order {
		if err := x.Pause(ctx, h, c); err != nil {
			return false, errors.Join(fmt.Errorf("restore into %s: %w; nothing was loaded", dep.Name(), err), resume(ctx, x, dep, paused, restore))
		}
		paused = append(paused, c)
	}
	x.Emit(orchestrator.Event{Host: h.Name(), Container: dep.Target.DB, Action: "load snapshot", Result: "started", Detail: dump.Name()})
	if err := load(ctx, dep, dump, m); err != nil {
		n := strings.Join(names(paused), " ")
		// Why %v: the frameworks are stopped by now, so the kind of the
		// cause (a database that stopped answering is "unreachable", exit
		// 2: nothing changed) must not decide the exit code.
		return false, fmt.Errorf("restore into %s: load %s: %v\nthe database may be partly loaded, so the framework containers (%s) are left stopped: "+
			"run the same tarsup restore again (the snapshot is intact), or start them as they are with docker start %s", dep.Name(), dump.Name(), err, n, n)
	}
	x.Emit(orchestrator.Event{Host: h.Name(), Container: dep.Target.DB, Action: "load snapshot", Result: "done", Detail: strings.Join(m.Databases, ", ")})
	fp, err := tarsdb.NewClient(h.Engine).SchemaFingerprint(ctx, dep.Target, m.Databases)
	matches := err == nil && fp == m.SchemaFingerprint
	return matches, resume(ctx, x, dep, paused, restore)
}

// resume starts the paused containers again, last paused first, and gates
// each; one that fails does not keep the others stopped.
func resume(ctx context.Context, x *orchestrator.Executor, dep Deployment, paused []plan.Container, restore map[string]string) error {
	var errs []error
	for i := len(paused) - 1; i >= 0; i-- {
		if err := x.Resume(ctx, dep.Host, paused[i], restore[paused[i].ID]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// load streams the dump into the database: first DROP DATABASE of each of
// the snapshot's databases, so that what is there afterwards is exactly
// the snapshot (a table the newer framework added goes too), then the
// dump, decompressed on the way.
func load(ctx context.Context, dep Deployment, dump *os.File, m Manifest) error {
	zr, err := gzip.NewReader(bufio.NewReaderSize(dump, 256<<10))
	if err != nil {
		return fmt.Errorf("read %s: %w", dump.Name(), err)
	}
	var pre strings.Builder
	for _, d := range m.Databases {
		fmt.Fprintf(&pre, "DROP DATABASE IF EXISTS `%s`;\n", d) // names checked by ReadManifest
	}
	return tarsdb.NewClient(dep.Host.Engine).Load(ctx, dep.Target, io.MultiReader(strings.NewReader(pre.String()), zr))
}
