package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/internal/wait"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// NodeLocator finds the database of a framework's deployment from the
// framework's MYSQL_* variables, on the framework's engine, and returns
// what reads its t_node_info.
type NodeLocator interface {
	Locate(ctx context.Context, h *engine.Host, framework plan.Container) (NodeSource, error)
}

// NodeSource reads one deployment's db_tars.t_node_info: one query a call.
type NodeSource interface {
	Nodes(ctx context.Context) ([]plan.NodeRow, error)
}

// DefaultRegisterTimeout is --register-timeout's default: how long a node
// may take to be registered again (and again after its restart).
const DefaultRegisterTimeout = 2 * time.Minute

// MinRegisterTimeout is the shortest --register-timeout other than 0 (off):
// the check must see two heartbeats of a node after it began, read every
// DefaultRegisterInterval, and a wait too short for that would find every
// node unregistered and restart it.
const MinRegisterTimeout = 10 * time.Second

// DefaultRegisterInterval is how often a registration check reads a
// deployment's t_node_info (one query for all of its nodes).
const DefaultRegisterInterval = 2 * time.Second

// nodeWatch shares the reads of one deployment's t_node_info between the
// checks that wait on it: one query per interval, whatever their number.
type nodeWatch struct {
	mu     sync.Mutex
	src    NodeSource
	before []plan.NodeRow // the pre-flight read
	last   plan.NodeRead
	err    error
}

// after returns a read that began after t: the last one if it did, else a
// new one.
func (w *nodeWatch) after(ctx context.Context, t time.Time) (plan.NodeRead, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last.At.After(t) {
		return w.last, w.err
	}
	at := time.Now()
	rows, err := w.src.Nodes(ctx)
	w.last, w.err = plan.NodeRead{Rows: rows, At: at}, err
	return w.last, err
}

// ReadRegistrations reads, in parallel, the t_node_info of every deployment
// the draft plan's steps belong to, before anything changes, and keeps
// what it read for the plan's reregister steps. A deployment whose database
// does not answer is off, with the reason; that fails the run (bad input,
// nothing changed) only when the operator asked for the check
// (Opts.RegisterRequired).
func (x *Executor) ReadRegistrations(ctx context.Context, draft plan.Plan, states []plan.HostState) (plan.Registrations, error) {
	sources := plan.RegistrationScope(draft, states)
	regs, watches := x.readSources(ctx, sources)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x.watches = watches
	if x.Opts.RegisterRequired {
		if notes := regs.Notes(); len(notes) > 0 {
			return nil, fault.Mark(fault.BadInput, fmt.Errorf("%s; nothing was changed. Make the database answer, or run with --register-timeout 0 to upgrade without the registration check", notes[0]))
		}
	}
	return regs, nil
}

// readSources locates and reads each source once, in parallel.
func (x *Executor) readSources(ctx context.Context, sources []plan.RegistrationSource) (plan.Registrations, map[string]*nodeWatch) {
	regs := plan.Registrations{}
	watches := map[string]*nodeWatch{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dn, w := x.readSource(ctx, src)
			mu.Lock()
			defer mu.Unlock()
			regs[src.Deployment] = dn
			if w != nil {
				watches[src.Deployment] = w
			}
		}()
	}
	wg.Wait()
	return regs, watches
}

// readSource reads one deployment's t_node_info through its framework.
func (x *Executor) readSource(ctx context.Context, src plan.RegistrationSource) (plan.DeploymentNodes, *nodeWatch) {
	dn := plan.DeploymentNodes{RegistrationSource: src}
	if src.Off != "" {
		return dn, nil
	}
	h := x.Hosts[src.Host]
	if x.Nodes == nil || h == nil {
		dn.Off = "no database client is configured"
		return dn, nil
	}
	srcDB, err := x.Nodes.Locate(ctx, h, src.Framework)
	if err != nil {
		dn.Off = "its database was not found: " + firstLine(err.Error())
		return dn, nil
	}
	w := &nodeWatch{src: srcDB}
	read, err := w.after(ctx, time.Time{})
	if err != nil {
		dn.Off = "db_tars.t_node_info could not be read: " + firstLine(err.Error())
		return dn, nil
	}
	dn.Read, w.before = read, read.Rows
	return dn, w
}

// reregister runs a reregister step: it waits until the node is registered
// again (plan.RegCheck.Judge) within the step's timeout; one that is not is
// restarted once, as the step plans, and waited for again. It does not run
// after a recreate of the node that failed, was left for inspection or
// waits for the next maintenance window.
func (x *Executor) reregister(ctx context.Context, h *engine.Host, st plan.Step, done map[string]string) StepResult {
	c := st.Container
	for _, id := range st.After {
		if r := done[id]; r == ResultFailed || r == ResultLeft || r == ResultWaiting || r == "" {
			return StepResult{Step: st, Result: ResultSkipped}
		}
	}
	w := x.watches[st.Reg.Deployment]
	if w == nil {
		err := fmt.Errorf("registration check of %s on %s: the pre-flight did not read deployment %s", c.Name, st.Host, st.Reg.Deployment)
		return StepResult{Step: st, Result: ResultFailed, Err: err}
	}
	v, rerr := x.awaitRegistration(ctx, w, st)
	if v.OK {
		x.report(Event{Host: st.Host, Container: c.Name, Action: "registration", Result: ResultOK, Detail: st.Cause})
		return StepResult{Step: st, Result: ResultOK, Reg: v}
	}
	if ctx.Err() != nil {
		return StepResult{Step: st, Result: ResultSkipped, Reg: v}
	}
	if v.Problem == "" {
		// Why no restart: nothing says the node is unregistered; the
		// database did not answer. Why %v: see below.
		err := fmt.Errorf("registration check of node %s on %s (node IP %s) %s: db_tars.t_node_info could not be read for %s (%v); the node was not restarted",
			c.Name, st.Host, st.Reg.EndpointIP, st.Cause, st.Reg.Timeout, rerr)
		x.report(Event{Host: st.Host, Container: c.Name, Action: "registration", Result: ResultFailed, Detail: err.Error()})
		return StepResult{Step: st, Result: ResultFailed, Err: err}
	}
	x.report(Event{Host: st.Host, Container: c.Name, Action: "registration", Result: "restarting", Detail: v.Problem + ": " + v.Detail})
	// Why without cancel: a restart begun is finished, and then judged.
	ctx = context.WithoutCancel(ctx)
	if err := restartContainer(ctx, h, c.Name, st.StopTimeout); err != nil {
		err = fmt.Errorf("%s; the restart failed: %w", st.Reg.Failure(st, v), err)
		return StepResult{Step: st, Result: ResultFailed, Err: err, Reg: v}
	}
	if v, rerr = x.awaitRegistration(ctx, w, st); v.OK {
		x.report(Event{Host: st.Host, Container: c.Name, Action: "registration", Result: ResultRestarted, Detail: st.Cause})
		return StepResult{Step: st, Result: ResultRestarted, Reg: v}
	}
	msg := st.Reg.Failure(st, v)
	if rerr != nil {
		// Why %v: a read error's kind (bad input) must not decide the exit
		// code of a run that has changed containers.
		msg += fmt.Sprintf("; the last read of db_tars.t_node_info failed: %v", rerr)
	}
	x.report(Event{Host: st.Host, Container: c.Name, Action: "registration", Result: ResultUnregistered, Detail: msg})
	return StepResult{Step: st, Result: ResultUnregistered, Err: fmt.Errorf("%s", msg), Reg: v}
}

// awaitRegistration reads the deployment until the node is registered
// again since now, or the step's timeout passes; it returns the last
// verdict (with no Problem when no read answered) and, if the last read
// failed, its error.
func (x *Executor) awaitRegistration(ctx context.Context, w *nodeWatch, st plan.Step) (plan.Verdict, error) {
	interval := x.Opts.RegisterInterval
	if interval <= 0 {
		interval = DefaultRegisterInterval
	}
	since := time.Now()
	deadline := since.Add(st.Reg.Timeout)
	var v plan.Verdict // Problem "": no read answered yet
	last := since
	for {
		read, err := w.after(ctx, last)
		last = read.At
		if err == nil {
			if v = st.Reg.Judge(w.before, read, since, v.Fresh); v.OK {
				return v, nil
			}
		}
		if time.Now().After(deadline) || wait.Sleep(ctx, interval) != nil {
			return v, err
		}
	}
}

// firstLine keeps a note to one line: the report says it once, briefly.
func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
