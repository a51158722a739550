package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Trace records where one command's time goes: every engine call (host,
// method, how long, in which stage or step it was made, whether it was
// about a probe sidecar), the workflow's stages (connect, lock, pull,
// pre-flight, ...) and each step of a plan (how long it waited for a worker
// slot, and the moments its events mark). tarsup writes it as JSON when
// TARSUP_TRACE names a file (README: Performance figures); the fleet bench
// prints its breakdown. A nil *Trace records nothing, so call sites need no
// check.
//
// Why the scope travels in the context: the calls of a step are made deep
// inside the swap, the gate and the probes, which know nothing of tracing;
// every one of them passes the step's context (or one derived from it with
// context.WithoutCancel, which keeps its values) to the engine.
type Trace struct {
	mu       sync.Mutex
	begun    time.Time
	calls    []Call
	stages   []Stage
	steps    []*StepTrace
	sidecars map[string]bool // container and exec IDs of probe sidecars
}

// Call is one engine call.
type Call struct {
	Host   string `json:"host"`
	Method string `json:"method"`
	// Scope is the step ("HOST CONTAINER") or the stage ("pull") the call
	// was made in; empty outside both.
	Scope string `json:"scope,omitempty"`
	// Sidecar marks a call about a probe sidecar: a container created in
	// another container's network namespace, or an exec in one.
	Sidecar bool    `json:"sidecar,omitempty"`
	Start   float64 `json:"start"` // seconds since the trace began
	Took    float64 `json:"took"`  // seconds
	Failed  bool    `json:"failed,omitempty"`
}

// Stage is one stage of a workflow (connect, lock, recover, observe, pull,
// preflight, registration, snapshots, run, a phase).
type Stage struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"`
	Took  float64 `json:"took"`
}

// StepTrace is one step of a plan as it ran.
type StepTrace struct {
	Phase     string `json:"phase"`
	Host      string `json:"host"`
	Container string `json:"container"`
	Kind      string `json:"kind"`
	// Queued is how long the step waited for a worker slot (--parallel)
	// after its phase began.
	Queued float64 `json:"queued"`
	Start  float64 `json:"start"`
	Took   float64 `json:"took"`
	Result string  `json:"result,omitempty"`
	// Marks are the step's events ("stop old", "health gate") with their
	// time, seconds since the trace began, in order.
	Marks []Mark `json:"marks,omitempty"`

	t    *Trace
	open bool // not done yet
}

// Mark is one event of a step.
type Mark struct {
	Action string  `json:"action"`
	At     float64 `json:"at"`
}

// NewTrace starts a trace now.
func NewTrace() *Trace {
	return &Trace{begun: time.Now(), sidecars: map[string]bool{}}
}

type scopeKey struct{}

// WithScope names the stage or step the engine calls made with ctx belong to.
func WithScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey{}, scope)
}

// ScopeOf is the scope WithScope put into ctx, or "".
func ScopeOf(ctx context.Context) string {
	s, _ := ctx.Value(scopeKey{}).(string)
	return s
}

func (t *Trace) since(at time.Time) float64 { return at.Sub(t.begun).Seconds() }

// Stage begins a stage: its calls are made with the returned context, and
// end records it.
func (t *Trace) Stage(ctx context.Context, name string) (_ context.Context, end func()) {
	if t == nil {
		return ctx, func() {}
	}
	start := time.Now()
	return WithScope(ctx, name), func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stages = append(t.stages, Stage{Name: name, Start: t.since(start), Took: time.Since(start).Seconds()})
	}
}

// Step begins a step of phase that became ready to run at ready (its
// phase began) and got its worker slot now: its calls are made with the
// returned context, and done records how it ended. Step on a nil *Trace
// returns ctx and a nil *StepTrace, whose methods do nothing.
func (t *Trace) Step(ctx context.Context, phase, host, container, kind string, ready time.Time) (context.Context, *StepTrace) {
	if t == nil {
		return ctx, nil
	}
	now := time.Now()
	s := &StepTrace{Phase: phase, Host: host, Container: container, Kind: kind, Queued: now.Sub(ready).Seconds(), Start: t.since(now), t: t, open: true}
	t.mu.Lock()
	t.steps = append(t.steps, s)
	t.mu.Unlock()
	return WithScope(ctx, s.Scope()), s
}

// Scope is the step's scope: "HOST CONTAINER".
func (s *StepTrace) Scope() string { return s.Host + " " + s.Container }

// Event marks an event (its action) of the step under way for that
// container on that host, if there is one: the executor reports its events
// by host and container, not by step.
func (t *Trace) Event(host, container, action string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.steps) - 1; i >= 0; i-- {
		if s := t.steps[i]; s.open && s.Host == host && s.Container == container {
			s.Marks = append(s.Marks, Mark{Action: action, At: t.since(time.Now())})
			return
		}
	}
}

// Done records the step's end and result.
func (s *StepTrace) Done(result string) {
	if s == nil {
		return
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.Took = s.t.since(time.Now()) - s.Start
	s.Result = result
	s.open = false
}

// record adds one call that began at start.
func (t *Trace) record(ctx context.Context, host, method string, sidecar bool, start time.Time, err error) {
	took := time.Since(start).Seconds()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, Call{Host: host, Method: method, Scope: ScopeOf(ctx), Sidecar: sidecar, Start: t.since(start), Took: took, Failed: err != nil})
}

// markSidecar notes a container or exec ID as a probe sidecar's.
func (t *Trace) markSidecar(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sidecars[id] = true
}

func (t *Trace) isSidecar(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sidecars[id]
}

// Report is the trace so far, with its summary.
func (t *Trace) Report() TraceReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := TraceReport{Began: t.begun, Wall: t.since(time.Now()), Stages: append([]Stage(nil), t.stages...), Calls: append([]Call(nil), t.calls...)}
	for _, s := range t.steps {
		c := *s
		c.Marks = append([]Mark(nil), s.Marks...)
		r.Steps = append(r.Steps, c)
	}
	r.summarize()
	return r
}

// WriteFile writes the report as JSON to path.
func (t *Trace) WriteFile(path string) error {
	b, err := json.MarshalIndent(t.Report(), "", "  ")
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}
