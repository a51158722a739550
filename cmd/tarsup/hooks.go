package main

import (
	"os/exec"
	"strings"

	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/urfave/cli/v2"
)

// cmdList is a repeatable flag of commands, each taken whole. Why not a
// StringSliceFlag: it splits its values at commas, and a shell command
// holds commas (`tar czf /b.tgz --exclude=a,b /data`).
type cmdList []string

// Set adds one command.
func (l *cmdList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// String is the commands, for the help page's default (none).
func (l *cmdList) String() string { return strings.Join(*l, "; ") }

func (l *cmdList) values() []string { return *l }

// hookFlags are the hook flags of every command that recreates containers
// from a plan: upgrade, compose upgrade, refresh, watch.
func hookFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "pre-upgrade", Value: &cmdList{}, Usage: "run `CMD` (sh -c, on this machine) before each container's step, the step in TARSUP_* variables and as JSON on stdin; one that fails (non-zero exit, timeout) skips that step; repeatable (README: Hooks)"},
		&cli.GenericFlag{Name: "post-upgrade", Value: &cmdList{}, Usage: "run `CMD` (sh -c, on this machine) once each container's step is done, TARSUP_RESULT ok, rolled-back or failed; one that fails after an upgrade rolls it back (see --post-hook-failure); repeatable"},
		&cli.GenericFlag{Name: "on-rollback", Value: &cmdList{}, Usage: "run `CMD` (sh -c, on this machine) after each rollback; repeatable"},
		&cli.DurationFlag{Name: "hook-timeout", Value: plan.DefaultHookTimeout, Usage: "how long any hook may run, those of the labels tarsup.hook.pre-stop and tarsup.hook.post-start (exec'd in the old and the new container) too; a hook on this machine is then killed with its process group"},
		&cli.StringFlag{Name: "post-hook-failure", Value: plan.PostHookRollback, Usage: "what a failed post hook (post-start label, --post-upgrade) of an upgraded container does: rollback, or warn (keep the new container, exit 0)"},
	}
}

// hookPolicy reads the hook flags (checked before the command ran).
func hookPolicy(c *cli.Context) plan.HookPolicy {
	return plan.HookPolicy{
		PreUpgrade:  wholeValues(c, "pre-upgrade"),
		PostUpgrade: wholeValues(c, "post-upgrade"),
		OnRollback:  wholeValues(c, "on-rollback"),
		Timeout:     c.Duration("hook-timeout"),
		PostFailure: c.String("post-hook-failure"),
	}
}

// hookRule checks the commands of a hook flag: they run through sh -c,
// so sh must be there (an empty command is refused by checkFlags).
func hookRule(c *cli.Context, _ cli.Flag, name string) error {
	for _, v := range wholeValues(c, name) {
		if _, err := exec.LookPath("sh"); err != nil {
			return usagef("bad --%s %q: hooks run through sh -c, and there is no sh on PATH (%v)", name, v, err)
		}
	}
	return nil
}
