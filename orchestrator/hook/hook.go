// Package hook runs the hooks a plan gives a recreate: commands on the
// machine running tarsup (`sh -c`, in a process group of their own, the
// step in their environment and as JSON on their standard input), and
// commands exec'd in a container through the engine. Each is bounded by
// its timeout; its output goes to the log a line at a time, with the
// values of secret environment variables replaced by ***. The planner
// decides which hooks run when (plan.HookPolicy); this package only runs
// one and says how it went.
package hook

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// Runner runs hooks.
type Runner struct {
	// Log receives each output line of a hook (nil: dropped).
	Log logrus.FieldLogger
	// Environ is the environment a hook on this machine inherits, and the
	// source of secrets to redact (os.Environ when nil).
	Environ func() []string
}

// Job is one run of one hook.
type Job struct {
	Hook  plan.Hook
	Input plan.HookInput
	// Timeout bounds the run (plan.DefaultHookTimeout when zero).
	Timeout time.Duration
	// Env are more environments whose secret values must never be echoed:
	// the containers' (a framework's MYSQL_ROOT_PASSWORD).
	Env [][]string
}

func (j Job) timeout() time.Duration {
	if j.Timeout <= 0 {
		return plan.DefaultHookTimeout
	}
	return j.Timeout
}

// Failure is a hook that did not succeed: why, and its last output lines
// (redacted).
type Failure struct {
	Hook   plan.Hook
	Reason string
	Last   []string
	// display is the hook's command, redacted.
	display string
}

// Error names the hook, says why it failed and quotes its last lines.
func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s hook %s (%s) failed: %s", f.Hook.When, f.Hook.Name, f.display, f.Reason)
	if len(f.Last) == 0 {
		b.WriteString("; it printed nothing")
		return b.String()
	}
	b.WriteString("; its last output lines:")
	for _, l := range f.Last {
		b.WriteString("\n  | " + l)
	}
	return b.String()
}

func (r Runner) environ() []string {
	if r.Environ != nil {
		return r.Environ()
	}
	return os.Environ()
}

// lastLines is how many output lines a failure quotes.
const lastLines = 10

// maxLine is the longest output line logged whole; longer ones are cut.
const maxLine = 4096

// Secrets returns the values of the variables in envs ("NAME=value")
// whose names contain PASSWORD, SECRET, TOKEN or KEY (in any case),
// longest first, so that a value that holds another is replaced whole.
func Secrets(envs ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, env := range envs {
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || v == "" || seen[v] || !secretName(k) {
				continue
			}
			seen[v] = true
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

func secretName(k string) bool {
	k = strings.ToUpper(k)
	for _, w := range []string{"PASSWORD", "SECRET", "TOKEN", "KEY"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Redact replaces each secret in s by ***.
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

// sink splits a hook's output into lines, redacts and logs each, and keeps
// the last ones.
type sink struct {
	mu      sync.Mutex
	buf     []byte
	cut     bool // the line under way was too long: the rest is dropped
	secrets []string
	log     func(line string)
	last    []string
}

func (r Runner) sink(j Job) *sink {
	log := r.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	entry := log.WithFields(logrus.Fields{"host": j.Input.Host, "container": j.Input.Container, "hook": j.Hook.When})
	prefix := fmt.Sprintf("%s (%s): ", j.Hook.Name, j.Input.Container)
	return &sink{
		secrets: Secrets(append([][]string{r.environ()}, j.Env...)...),
		log:     func(line string) { entry.Info(prefix + line) },
	}
}

// Write takes output as it comes; a line is logged once it is complete.
func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range p {
		switch {
		case c == '\n':
			if !s.cut {
				s.emit()
			}
			s.cut = false
		case s.cut:
		case len(s.buf) >= maxLine:
			s.buf = append(s.buf, " [cut]"...)
			s.emit()
			s.cut = true
		default:
			s.buf = append(s.buf, c)
		}
	}
	return len(p), nil
}

// flush logs a last line that did not end in a newline.
func (s *sink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		s.emit()
	}
}

func (s *sink) emit() {
	l := Redact(strings.TrimRight(string(s.buf), "\r"), s.secrets)
	if strings.HasSuffix(l, " [cut]") {
		l = strings.TrimSuffix(l, " [cut]")
		l = trimSecretPrefix(l, s.secrets) + " [cut]"
	}
	s.buf = s.buf[:0]
	s.log(l)
	s.last = append(s.last, l)
	if len(s.last) > lastLines {
		s.last = s.last[1:]
	}
}

// trimSecretPrefix drops the end of a cut line when it is the start of a
// secret: the rest of that secret was cut off, so Redact did not see it.
func trimSecretPrefix(l string, secrets []string) string {
	for _, v := range secrets {
		for k := len(v) - 1; k > 0; k-- {
			if strings.HasSuffix(l, v[:k]) {
				return strings.TrimSuffix(l, v[:k]) + "***"
			}
		}
	}
	return l
}

// lines returns the last lines kept.
func (s *sink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.last)
}

// fail is the failure of j, quoting its output so far.
func (r Runner) fail(j Job, s *sink, reason string) error {
	return &Failure{Hook: j.Hook, Reason: Redact(reason, s.secrets), Last: s.lines(), display: Redact(j.Hook.Display(), s.secrets)}
}
