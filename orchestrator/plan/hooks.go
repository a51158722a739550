package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/tarsup/tarsup/fault"
)

// Hook moments, in the order a recreate meets them.
const (
	// HookPreUpgrade runs on the machine running tarsup before the step
	// changes anything (--pre-upgrade).
	HookPreUpgrade = "pre-upgrade"
	// HookPreStop is exec'd in the old container just before it stops
	// (label tarsup.hook.pre-stop); the new one exists by then, stopped.
	HookPreStop = "pre-stop"
	// HookPostStart is exec'd in the new container once it passed its
	// health gate (label tarsup.hook.post-start).
	HookPostStart = "post-start"
	// HookPostUpgrade runs on the machine running tarsup once the step's
	// outcome is known, with that outcome (--post-upgrade).
	HookPostUpgrade = "post-upgrade"
	// HookOnRollback runs on the machine running tarsup after a rollback
	// (--on-rollback).
	HookOnRollback = "on-rollback"
)

// The labels that name hooks exec'd inside a container: a JSON array of
// strings is exec'd as it is (as a Dockerfile's exec form), anything else
// through the container's own `sh -c`.
const (
	LabelHookPreStop   = "tarsup.hook.pre-stop"
	LabelHookPostStart = "tarsup.hook.post-start"
)

// What a failed post hook (post-start, post-upgrade of an upgraded step)
// does: --post-hook-failure.
const (
	PostHookRollback = "rollback"
	PostHookWarn     = "warn"
)

// The TARSUP_RESULT a post-upgrade or on-rollback hook is given; a pre hook
// gets "".
const (
	HookResultOK         = "ok"
	HookResultRolledBack = "rolled-back"
	HookResultFailed     = "failed"
)

// DefaultHookTimeout bounds every hook unless --hook-timeout says otherwise.
const DefaultHookTimeout = time.Minute

// HookPolicy is what the operator asked of hooks: the commands run on the
// machine running tarsup (each through `sh -c`), how long any hook may
// take, and what a failed post hook does.
type HookPolicy struct {
	PreUpgrade, PostUpgrade, OnRollback []string
	// Timeout bounds each hook (DefaultHookTimeout when zero).
	Timeout time.Duration
	// PostFailure is PostHookRollback (when empty) or PostHookWarn.
	PostFailure string
}

// Hook is one hook of a step, as the planner found it.
type Hook struct {
	// When is the moment (HookPreUpgrade, ...).
	When string `json:"when"`
	// Name is how logs and reports name it: "--pre-upgrade" ("--pre-upgrade #2"
	// when the flag is given several times) or "label tarsup.hook.pre-stop".
	Name string `json:"name"`
	// Command is what the operator wrote: the flag's or the label's value.
	Command string `json:"command"`
	// Argv is what runs: ["sh", "-c", Command], or a label's exec form.
	Argv []string `json:"argv"`
	// InContainer: exec'd through the engine in the old (pre-stop) or new
	// (post-start) container; otherwise run on the machine running tarsup.
	InContainer bool `json:"in_container"`
}

// Display is the hook's command as the dry run shows it.
func (h Hook) Display() string {
	if len(h.Argv) == 3 && h.Argv[0] == "sh" && h.Argv[1] == "-c" {
		return "sh -c " + strconv.Quote(h.Argv[2])
	}
	b, _ := json.Marshal(h.Argv)
	return string(b)
}

// HooksAt returns the step's hooks of one moment, in order.
func (s Step) HooksAt(when string) []Hook {
	var out []Hook
	for _, h := range s.Hooks {
		if h.When == when {
			out = append(out, h)
		}
	}
	return out
}

// Apply gives a recreate step its hooks and their policy: the
// commands of the flags for every step, and the label hooks of a running
// container (a stopped one is neither stopped nor started: its label hooks
// have no moment). A label that names no command is bad input.
func (hp HookPolicy) Apply(st *Step) error {
	st.HookTimeout = hp.Timeout
	if st.HookTimeout <= 0 {
		st.HookTimeout = DefaultHookTimeout
	}
	st.PostHookFailure = hp.PostFailure
	if st.PostHookFailure == "" {
		st.PostHookFailure = PostHookRollback
	}
	st.Hooks = hostHooks(HookPreUpgrade, hp.PreUpgrade)
	if st.Kind == StepRecreate {
		var newLabels map[string]string
		if st.Target.Config != nil {
			newLabels = maps.Clone(st.Target.Config.Labels)
		}
		if st.Spec.Config != nil {
			newLabels = mergeLabels(newLabels, st.Spec.Config.Labels)
		}
		for _, l := range []struct {
			when, label string
			labels      map[string]string
		}{{HookPreStop, LabelHookPreStop, st.Container.Labels}, {HookPostStart, LabelHookPostStart, newLabels}} {
			v, ok := l.labels[l.label]
			if !ok {
				continue
			}
			h, err := labelHook(l.when, l.label, v)
			if err != nil {
				return fault.Mark(fault.BadInput, fmt.Errorf("%s on %s: %w; nothing was changed", st.Container.Name, st.Host, err))
			}
			st.Hooks = append(st.Hooks, h)
		}
	}
	st.Hooks = append(st.Hooks, hostHooks(HookPostUpgrade, hp.PostUpgrade)...)
	st.Hooks = append(st.Hooks, hostHooks(HookOnRollback, hp.OnRollback)...)
	return nil
}

func mergeLabels(base, over map[string]string) map[string]string {
	if base == nil {
		base = map[string]string{}
	}
	maps.Copy(base, over)
	return base
}

// hostHooks are the hooks of one flag, run through `sh -c` on the machine
// running tarsup.
func hostHooks(when string, cmds []string) []Hook {
	var out []Hook
	for i, c := range cmds {
		name := "--" + when
		if len(cmds) > 1 {
			name += fmt.Sprintf(" #%d", i+1)
		}
		out = append(out, Hook{When: when, Name: name, Command: c, Argv: []string{"sh", "-c", c}})
	}
	return out
}

// labelHook reads a hook label: a JSON array of strings is the exec form,
// anything else the shell form.
func labelHook(when, label, v string) (Hook, error) {
	h := Hook{When: when, Name: "label " + label, Command: v, InContainer: true}
	s := strings.TrimSpace(v)
	switch {
	case s == "":
		return h, fmt.Errorf("label %s is empty: give it a command (a JSON array such as [\"/usr/local/bin/drain\",\"--wait\"], or a shell command), or remove it", label)
	case strings.HasPrefix(s, "["):
		if err := json.Unmarshal([]byte(s), &h.Argv); err != nil {
			return h, fmt.Errorf("label %s %q is not a JSON array of strings (%v): write it as [\"/path/cmd\",\"arg\"], or as a shell command without the brackets", label, v, err)
		}
		if len(h.Argv) == 0 || strings.TrimSpace(h.Argv[0]) == "" {
			return h, fmt.Errorf("label %s %q names no program: its first element is the program to exec", label, v)
		}
	default:
		h.Argv = []string{"sh", "-c", v}
	}
	return h, nil
}

// HookLines renders the step's hooks for the dry run, one line each.
func (s Step) HookLines(withHost bool) []string {
	var out []string
	for _, h := range s.Hooks {
		where := "on this machine"
		switch h.When {
		case HookPreStop:
			where = "in the old container, before it stops (" + h.Name + ")"
		case HookPostStart:
			where = "in the new container, once it passed its gate (" + h.Name + ")"
		}
		out = append(out, fmt.Sprintf("%s%s: hook %s %s: %s (timeout %s; %s)", s.hostPrefix(withHost), s.Container.Name,
			h.When, where, h.Display(), s.HookTimeout, s.hookFailure(h.When)))
	}
	return out
}

// hookFailure says what a failure of a hook of that moment does.
func (s Step) hookFailure(when string) string {
	post := "a failure rolls back"
	if s.PostHookFailure == PostHookWarn {
		post = "a failure is a warning (--post-hook-failure warn)"
	}
	switch when {
	case HookPreUpgrade, HookPreStop:
		return "a failure skips the step, changing nothing"
	case HookPostStart:
		return post
	case HookPostUpgrade:
		return "once the step is done, with its result; after an upgrade, " + post
	}
	return "after a rollback; a failure is reported"
}

// HookInput is what a hook is told of its step: in its environment (Env)
// and, as JSON, on its standard input (hooks on the machine running
// tarsup). It holds no environment value of the containers.
type HookInput struct {
	Hook       string `json:"hook"`
	Name       string `json:"name"`
	Host       string `json:"host"`
	Container  string `json:"container"`
	ID         string `json:"id"`
	NewID      string `json:"new_id,omitempty"`
	Role       string `json:"role"`
	From       string `json:"from"`
	To         string `json:"to"`
	FromDigest string `json:"from_digest"`
	ToDigest   string `json:"to_digest"`
	Cause      string `json:"cause"`
	// Result is "" for a pre hook, else HookResultOK, HookResultRolledBack
	// or HookResultFailed.
	Result string `json:"result"`
}

// HookInput describes the step to its hook h; result and newID are what
// the step came to so far.
func (s Step) HookInput(h Hook, result, newID string) HookInput {
	return HookInput{Hook: h.When, Name: h.Name, Host: s.Host, Container: s.Container.Name, ID: s.Container.ID, NewID: newID,
		Role: string(s.Container.Role), From: s.From, To: s.To, FromDigest: s.FromDigest, ToDigest: s.ToDigest,
		Cause: s.Cause, Result: result}
}

// Env is the hook's environment beside the one it inherits.
func (in HookInput) Env() []string {
	return []string{
		"TARSUP_HOOK=" + in.Hook,
		"TARSUP_HOST=" + in.Host,
		"TARSUP_CONTAINER=" + in.Container,
		"TARSUP_CONTAINER_ID=" + in.ID,
		"TARSUP_NEW_ID=" + in.NewID,
		"TARSUP_ROLE=" + in.Role,
		"TARSUP_FROM=" + in.From,
		"TARSUP_TO=" + in.To,
		"TARSUP_RESULT=" + in.Result,
	}
}

// JSON is the hook's standard input: the input on one line.
func (in HookInput) JSON() []byte {
	b, _ := json.Marshal(in)
	return append(b, '\n')
}

// refusalError is the error of the candidates BuildPlan refused: bad input
// first (a hook label that names no command: exit 2), else the safety
// rules' refusals (exit 3). Either way nothing was changed.
func refusalError(errs []error) error {
	var bad []error
	for _, err := range errs {
		if fault.Of(err) == fault.BadInput {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 {
		return fault.Mark(fault.BadInput, errors.Join(bad...))
	}
	return fault.Mark(fault.Refused, fmt.Errorf("refused: %w", errors.Join(errs...)))
}
