package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/urfave/cli/v2"
)

// TestHookUsageErrors: a bad hook flag is exit 2 with one line naming the
// flag, on every command that takes hooks, before any engine is contacted.
func TestHookUsageErrors(t *testing.T) {
	h := noEngine(t)
	for path, cmd := range map[string][]string{
		"tarsup upgrade": {"upgrade"}, "tarsup compose upgrade": {"compose", "upgrade"},
		"tarsup refresh": {"refresh"}, "tarsup watch": {"watch", "--schedule", "@daily"},
	} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--pre-upgrade", ""}, `bad --pre-upgrade "": an empty value means nothing here`},
			{[]string{"--post-upgrade", "   "}, `bad --post-upgrade "   ": an empty value means nothing here`},
			{[]string{"--on-rollback", "true", "--on-rollback", ""}, `bad --on-rollback "": an empty value means nothing here`},
			{[]string{"--hook-timeout", "0"}, "bad --hook-timeout 0s: must be more than 0s"},
			{[]string{"--hook-timeout", "-5s"}, "bad --hook-timeout -5s: a duration must not be negative"},
			{[]string{"--hook-timeout", "soon"}, `bad --hook-timeout "soon": not a duration`},
			{[]string{"--post-hook-failure", "ignore"}, `bad --post-hook-failure "ignore": use rollback or warn`},
			{[]string{"--post-hook-failure", "warn", "--post-hook-failure", "rollback"}, `--post-hook-failure given twice ("warn", then "rollback"): give it once`},
		} {
			args := append(append(append([]string{}, cmd...), "--host", h), tc.args...)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, out, errb := runCLI(t, args...)
				if code != exitBadInput || out != "" || strings.Count(errb, "\n") != 1 || !strings.Contains(errb, tc.want) || !strings.HasSuffix(errb, "; see '"+path+" --help'\n") {
					t.Errorf("exit %d, stdout %q, stderr\n%q\nwant exit 2 and one line with\n%q", code, out, errb, tc.want)
				}
			})
		}
	}
}

// TestHookNeedsShell: hooks run through sh -c; without sh on PATH a hook
// flag is refused, naming it.
func TestHookNeedsShell(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, out, errb := runCLI(t, "upgrade", "--host", noEngine(t), "--pre-upgrade", "backup")
	if code != exitBadInput || out != "" || !strings.Contains(errb, `bad --pre-upgrade "backup": hooks run through sh -c, and there is no sh on PATH`) {
		t.Errorf("exit %d, stderr %q", code, errb)
	}
}

// TestHookFlagsReachThePolicy: good hook flags pass the checks, repeat,
// keep their commas, and reach the executor's policy whole.
func TestHookFlagsReachThePolicy(t *testing.T) {
	h := noEngine(t)
	code, _, errb := runCLI(t, "upgrade", "--host", h, "--pre-upgrade", "tar czf /b.tgz --exclude=a,b /data", "--pre-upgrade", "sync",
		"--post-upgrade", "check", "--on-rollback", "page", "--hook-timeout", "2m", "--post-hook-failure", "warn")
	if code != exitBadInput || strings.Contains(errb, "bad --") || !strings.Contains(errb, "no-engine.sock") {
		t.Errorf("exit %d, stderr %q; want the engine's exit 2, no flag error", code, errb)
	}
	var got plan.HookPolicy
	app := &cli.App{Flags: hookFlags(), Action: func(c *cli.Context) error { got = hookPolicy(c); return nil }}
	if err := app.Run([]string{"x", "--pre-upgrade", "a,b", "--pre-upgrade", "c", "--post-upgrade", "d", "--on-rollback", "e", "--hook-timeout", "2m", "--post-hook-failure", "warn"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.PreUpgrade, []string{"a,b", "c"}) || !slices.Equal(got.PostUpgrade, []string{"d"}) || !slices.Equal(got.OnRollback, []string{"e"}) ||
		got.Timeout != 2*time.Minute || got.PostFailure != plan.PostHookWarn {
		t.Errorf("policy %+v", got)
	}
	// A new app: flags hold their values.
	app = &cli.App{Flags: hookFlags(), Action: func(c *cli.Context) error { got = hookPolicy(c); return nil }}
	if err := app.Run([]string{"x"}); err != nil || got.Timeout != plan.DefaultHookTimeout || got.PostFailure != plan.PostHookRollback || len(got.PreUpgrade) != 0 {
		t.Errorf("defaults %+v (%v)", got, err)
	}
}
