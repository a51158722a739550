package engine

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// TraceReport is a trace as TARSUP_TRACE writes it: the raw stages, steps
// and calls, and their summary. Times are seconds; starts count from the
// trace's beginning (the command's).
type TraceReport struct {
	// Began is when the trace began; Wall how long it ran, in seconds.
	Began  time.Time   `json:"began"`
	Wall   float64     `json:"wall"`
	Stages []Stage     `json:"stages"`
	Steps  []StepTrace `json:"steps"`
	// Parts sums the steps' parts over every step that has them (see
	// StepParts), plus "queued" (the wait for a worker slot) and "step"
	// (the whole step).
	Parts []Sum `json:"parts"`
	// Methods sums the engine calls by method; a probe sidecar's calls
	// count apart, as "sidecar METHOD".
	Methods []Sum `json:"methods"`
	// Scopes sums the engine calls' time by stage; every step's calls
	// count as "steps".
	Scopes []Sum `json:"scopes"`
	// PerStep is the engine calls of an average step, by method: N is the
	// calls per step, Mean the time of one, Total the time per step.
	PerStep []Sum `json:"per_step"`
	// MaxSteps is the most steps under way at once; MaxStepsPerHost the
	// most on one engine.
	MaxSteps        int            `json:"max_steps"`
	MaxStepsPerHost map[string]int `json:"max_steps_per_host"`
	Calls           []Call         `json:"calls"`
}

// Sum is a count of things that take time, and their total, mean and longest.
type Sum struct {
	Name  string  `json:"name"`
	N     float64 `json:"n"`
	Total float64 `json:"total"`
	Mean  float64 `json:"mean"`
	Max   float64 `json:"max"`
}

// The parts of a recreate step, between its events: "create" from its
// start to "stop old" (the pre hooks, the create, the network connects, the
// probe made ready, the renames: the old container still serves),
// "stop-start" from "stop old" to "health gate" (the stop and the start:
// the downtime's engine part), "gate" from "health gate" to its end (the
// gate, the post hooks, the removal of the old container). A step without
// those events (a re-check, a skipped step) has no parts.
const (
	PartCreate    = "create"
	PartStopStart = "stop-start"
	PartGate      = "gate"
)

// StepParts are the step's parts, in seconds, by name.
func StepParts(s StepTrace) map[string]float64 {
	stop, gate := s.mark("stop old"), s.mark("health gate")
	if stop < 0 || gate < stop {
		return nil
	}
	return map[string]float64{PartCreate: stop - s.Start, PartStopStart: gate - stop, PartGate: s.Start + s.Took - gate}
}

// mark is the time of the step's first event of that action, or -1.
func (s StepTrace) mark(action string) float64 {
	for _, m := range s.Marks {
		if m.Action == action {
			return m.At
		}
	}
	return -1
}

// sums adds values to named sums, in the order names first appear.
type sums struct {
	order []string
	by    map[string]*Sum
}

func (s *sums) add(name string, v float64) {
	if s.by == nil {
		s.by = map[string]*Sum{}
	}
	x, ok := s.by[name]
	if !ok {
		x = &Sum{Name: name}
		s.by[name] = x
		s.order = append(s.order, name)
	}
	x.N++
	x.Total += v
	x.Max = math.Max(x.Max, v)
}

// list returns the sums with their means, the largest total first.
func (s *sums) list() []Sum {
	out := make([]Sum, 0, len(s.order))
	for _, n := range s.order {
		x := *s.by[n]
		x.Mean = x.Total / x.N
		out = append(out, x)
	}
	slices.SortStableFunc(out, func(a, b Sum) int { return cmp.Compare(b.Total, a.Total) })
	return out
}

func (r *TraceReport) summarize() {
	var parts, methods, scopes, perStep sums
	steps := map[string]bool{}
	for _, s := range r.Steps {
		steps[s.Scope()] = true
		parts.add("step", s.Took)
		parts.add("queued", s.Queued)
		for _, p := range []string{PartCreate, PartStopStart, PartGate} {
			if v, ok := StepParts(s)[p]; ok {
				parts.add(p, v)
			}
		}
	}
	for _, c := range r.Calls {
		name := c.Method
		if c.Sidecar {
			name = "sidecar " + name
		}
		methods.add(name, c.Took)
		scope := c.Scope
		if steps[scope] {
			scope = "steps"
			perStep.add(name, c.Took)
		}
		scopes.add(cmp.Or(scope, "(none)"), c.Took)
	}
	r.Parts, r.Methods, r.Scopes = parts.list(), methods.list(), scopes.list()
	r.PerStep = perStep.list()
	if n := float64(len(r.Steps)); n > 0 {
		for i := range r.PerStep {
			p := &r.PerStep[i]
			p.Mean = p.Total / p.N
			p.N /= n
			p.Total /= n
		}
	}
	r.MaxSteps, r.MaxStepsPerHost = concurrency(r.Steps)
}

// concurrency is the most steps under way at once, overall and per host.
func concurrency(steps []StepTrace) (int, map[string]int) {
	type edge struct {
		at   float64
		d    int
		host string
	}
	var edges []edge
	for _, s := range steps {
		edges = append(edges, edge{s.Start, 1, s.Host}, edge{s.Start + s.Took, -1, s.Host})
	}
	// Ends before starts at the same time: a slot handed on is not two.
	slices.SortFunc(edges, func(a, b edge) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.d, b.d), strings.Compare(a.host, b.host))
	})
	most, now := 0, 0
	per, perNow := map[string]int{}, map[string]int{}
	for _, e := range edges {
		now += e.d
		perNow[e.host] += e.d
		most = max(most, now)
		per[e.host] = max(per[e.host], perNow[e.host])
	}
	return most, per
}
