package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/window"
	"github.com/urfave/cli/v2"
)

// This file is the command line's one gate, applied to every command:
// flags are read wherever they stand (urfave/cli v2 stops at the first
// argument, so `upgrade --only X oops --dry-run` would drop --dry-run),
// arguments a command does not take are refused, and every flag value is
// checked against one table of rules before any command runs. Every mistake
// is a usageError: exit 2, one line, nothing contacted.

// resolveArgs finds the command a command line runs and moves the flags
// given after an argument ahead of the arguments, so that the parser reads
// every flag: at each command level its flags come first and, at the last
// level, the arguments follow "--". A flag that takes a value keeps the
// word after it (`--only X` with X that looks like an argument), and
// everything after "--" stays an argument. Unknown flags stay at their
// command's level, where the parser reports them.
func resolveArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	out := []string{args[0]}
	depth := 0
	flags, subs := app.Flags, app.Commands
	var pending, positional []string
	help := false // -h or --help at the last command level
	path := []string{"tarsup"}
	seen := map[string]string{} // value of each single-value flag at this level
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if isFlagWord(a) {
			help = help || a == "-h" || a == "--help"
			pending = append(pending, a)
			value, hasValue, next := flagValue(flags, args, i)
			if next {
				i++
				pending = append(pending, value)
			}
			if err := once(flags, seen, a, value, hasValue, path); err != nil {
				return nil, err
			}
			continue
		}
		if len(positional) == 0 {
			if sub := findCommand(subs, a); sub != nil {
				out = append(append(out, pending...), a)
				pending, help = nil, false
				path, seen = append(path, a), map[string]string{}
				depth++
				flags, subs = sub.Flags, sub.Subcommands
				continue
			}
			if a == "help" && depth > 0 {
				// `tarsup compose help upgrade`, `tarsup upgrade help`: the
				// parser's own help command, which every command has.
				return append(append(out, pending...), args[i:]...), nil
			}
		}
		positional = append(positional, a)
	}
	out = append(out, pending...)
	if help {
		// Why drop the arguments: the parser would read the first as the
		// name of a subcommand to show the help of.
		return out, nil
	}
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out, nil
}

// flagValue is the value of the flag word args[i]: after its "=", or the
// next word (next) when the flag takes a value.
func flagValue(flags []cli.Flag, args []string, i int) (value string, hasValue, next bool) {
	a, name := args[i], flagName(args[i])
	for _, dash := range []string{"--", "-"} {
		if v, ok := strings.CutPrefix(a, dash+name+"="); ok {
			return v, true, false
		}
	}
	if takesValue(flags, name) && i+1 < len(args) {
		return args[i+1], true, true
	}
	return "", false, false
}

// once refuses a flag that holds one value given twice at one command
// level (`--to v1 --to v2`): the parser would keep the last one silently.
// Flags that collect values (--host, --only...) may repeat, and so may a
// switch, unless it says two things (`--dry-run --dry-run=false` would be
// a real run, silently).
func once(flags []cli.Flag, seen map[string]string, word, value string, hasValue bool, path []string) error {
	f := findFlag(flags, flagName(word))
	if f == nil {
		return nil
	}
	switch f.(type) {
	case *cli.StringSliceFlag, *cli.IntSliceFlag, *cli.Int64SliceFlag, *cli.Float64SliceFlag, *cli.UintSliceFlag, *cli.Uint64SliceFlag:
		return nil
	case *cli.BoolFlag:
		if !hasValue {
			value = "true"
		}
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil // the parser's value check names it
		}
		value, hasValue = strconv.FormatBool(b), true
		if prev, ok := seen[f.Names()[0]]; ok && prev == value {
			return nil
		}
	}
	if !hasValue {
		return nil
	}
	if g, ok := f.(*cli.GenericFlag); ok {
		switch g.Value.(type) {
		case multiValue, *windowSpecs:
			return nil
		}
	}
	name := f.Names()[0]
	if prev, ok := seen[name]; ok {
		return helpError{err: usagef("--%s given twice (%q, then %q): give it once", name, prev, value), help: strings.Join(path, " ")}
	}
	seen[name] = value
	return nil
}

// isFlagWord reports whether a command-line word is a flag ("-" alone is
// an argument: standard input, by convention).
func isFlagWord(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagName is the name in "--name=value", "-n".
func flagName(a string) string {
	n := strings.TrimLeft(a, "-")
	n, _, _ = strings.Cut(n, "=")
	return n
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(flags []cli.Flag, name string) bool {
	f, ok := findFlag(flags, name).(cli.DocGenerationFlag)
	return ok && f.TakesValue()
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// guard applies the command-line rules to the app and every command below
// it: parse errors become one-line usage errors, a group refuses an unknown
// subcommand, and a command checks its arguments and flag values before it
// runs. Commands that take arguments say so in ArgsUsage ("NAME..."); the
// others take none.
func guard(app *cli.App) {
	app.OnUsageError = onUsageError
	app.Action = withHelpPath(func(c *cli.Context) error {
		if c.NArg() == 0 {
			return cli.ShowAppHelp(c)
		}
		return usagef("unknown command %q", c.Args().First())
	})
	guardCommands(app.Commands)
}

func guardCommands(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		if len(c.Subcommands) > 0 {
			if c.Action == nil {
				c.Action = withHelpPath(groupAction)
			}
			guardCommands(c.Subcommands)
			continue
		}
		before := c.Before
		c.Before = cli.BeforeFunc(withHelpPath(func(ctx *cli.Context) error {
			if err := checkArgs(ctx); err != nil {
				return err
			}
			if err := checkFlags(ctx); err != nil {
				return err
			}
			if before != nil {
				return before(ctx)
			}
			return nil
		}))
		c.Action = withHelpPath(c.Action)
	}
}

// withHelpPath marks the usage errors of f with the command whose help
// they point to ("tarsup compose upgrade").
func withHelpPath(f cli.ActionFunc) cli.ActionFunc {
	if f == nil {
		return nil
	}
	return func(c *cli.Context) error { return helpPath(c, f(c)) }
}

func helpPath(c *cli.Context, err error) error {
	var u usageError
	var h helpError
	if !errors.As(err, &u) || errors.As(err, &h) || c == nil || c.Command == nil {
		return err
	}
	return helpError{err: err, help: c.Command.HelpName}
}

// helpError names the command whose help a usage error points to.
type helpError struct {
	err  error
	help string
}

func (h helpError) Error() string { return h.err.Error() }
func (h helpError) Unwrap() error { return h.err }

// groupAction runs for a command that only groups others: its help
// without an argument, else an unknown command.
func groupAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	return usagef("unknown command %q for %s", c.Args().First(), c.Command.Name)
}

// checkArgs refuses arguments to a command that takes none. Why name the
// argument: it is often a flag's value that lost its flag, or a typo.
func checkArgs(c *cli.Context) error {
	if c.Command.ArgsUsage != "" || c.NArg() == 0 {
		return nil
	}
	if c.Args().First() == "help" && c.Command.Command("help") != nil {
		// The parser's help command runs next.
		return nil
	}
	return usagef("unexpected argument %q: %s takes no argument (a value goes with its flag: --flag VALUE)", c.Args().First(), c.Command.Name)
}

// onUsageError turns a parse error into a one-line usage error that names
// the flag, as the user writes it, and the value.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return helpPath(c, parseError(c, err))
}

// parseError rewrites the messages of Go's flag package, which urfave/cli
// passes on.
func parseError(c *cli.Context, err error) error {
	var (
		reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
		reInvalid   = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]+): (.*)$`)
		reNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
	)
	msg := err.Error()
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		return usagef("unknown flag %s", dashed(m[1]))
	}
	if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		return usagef("flag %s needs a value", dashed(m[1]))
	}
	if m := reInvalid.FindStringSubmatch(msg); m != nil {
		value, name := m[1], m[2]
		var want string
		var flags []cli.Flag
		if c != nil && c.Command != nil {
			flags = c.Command.Flags
		} else if c != nil && c.App != nil {
			flags = c.App.Flags
		}
		switch findFlag(flags, name).(type) {
		case *cli.DurationFlag:
			want = "not a duration (use e.g. 30s, 5m, 1h30m)"
		case *cli.IntFlag:
			want = "not a whole number"
		case *cli.BoolFlag:
			want = "use true or false"
		default:
			want = m[3]
		}
		return usagef("bad %s %q: %s", dashed(name), value, want)
	}
	return usageError{err}
}

// dashed writes a flag's name as on the command line: -H, --host.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagRule checks one flag's value; nil means anything goes.
type flagRule func(c *cli.Context, f cli.Flag, name string) error

// rule is the rule of a flag, by name: the one table of what each value
// must be. Why by name: the same flag (--format, --parallel...) appears in
// several commands, with one meaning.
func rule(name string) flagRule {
	switch name {
	case "health-timeout":
		return durationAbove(0)
	case "stop-timeout":
		return stopTimeoutRule
	case "register-timeout":
		return zeroOrAtLeast(orchestrator.MinRegisterTimeout, "0 turns the check off; a shorter wait cannot see a node heartbeat twice, and would restart every node")
	case "parallel":
		return intAtLeast(1)
	case "mysql-port":
		return intBetween(1, 65535)
	case "format":
		// The command's own format (table or text) or json.
		return func(c *cli.Context, f cli.Flag, name string) error {
			def := "text"
			if sf, ok := f.(*cli.StringFlag); ok && sf.Value != "" {
				def = sf.Value
			}
			return oneOf(name, c.String(name), def, "json")
		}
	case "probe":
		return oneOfRule("auto", "direct", "sidecar")
	case "announce":
		return oneOfRule(plan.AnnounceAuto, plan.AnnounceOn, plan.AnnounceOff)
	case "window":
		return windowRule
	case "log-format":
		return oneOfRule("text", "json")
	case "notify", "notify-url", "notify-template", "notify-on":
		return notifyRule(name)
	case "pre-upgrade", "post-upgrade", "on-rollback":
		return hookRule
	case "hook-timeout":
		return durationAbove(0)
	case "post-hook-failure":
		return oneOfRule(plan.PostHookRollback, plan.PostHookWarn)
	case "registry-retries", "registry-mirror":
		return registryRule(name)
	case "log-level":
		return func(c *cli.Context, _ cli.Flag, name string) error {
			if _, err := logrus.ParseLevel(c.String(name)); err != nil {
				return usagef("bad --log-level %q: use debug, info, warn or error", c.String(name))
			}
			return nil
		}
	}
	return nil
}

// emptyAllowed lists the string flags whose empty value means something:
// a database password can be empty, watch's --http-addr and --notify-url
// are off when empty (a container's template may leave them so), and
// watch explains an empty token itself.
func emptyAllowed(name string) bool {
	switch name {
	case "mysql-password", "http-token", "http-addr", "notify-url":
		return true
	}
	return false
}

// checkFlags checks every flag the command line sets (or its environment
// variable sets) against its rule, and the rules every flag of a kind
// follows: no negative duration or number, no empty value for a flag that
// names something (an empty --to or --only would be silently dropped).
func checkFlags(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		switch f.(type) {
		case *cli.DurationFlag:
			if d := c.Duration(name); d < 0 {
				return usagef("bad --%s %s: a duration must not be negative", name, d)
			}
		case *cli.IntFlag:
			if n := c.Int(name); n < 0 {
				return usagef("bad --%s %d: must not be negative", name, n)
			}
		case *cli.StringFlag:
			if c.String(name) == "" && !emptyAllowed(name) {
				return usagef("bad --%s \"\": an empty value means nothing here; give one, or drop the flag", name)
			}
		case *cli.StringSliceFlag:
			for _, v := range c.StringSlice(name) {
				if strings.TrimSpace(v) == "" {
					return usagef("bad --%s %q: an empty value (--%s '' or a,,b) means nothing here; give one, or drop the flag", name, v, name)
				}
			}
		case *cli.GenericFlag:
			for _, v := range wholeValues(c, name) {
				if strings.TrimSpace(v) == "" {
					return usagef("bad --%s %q: an empty value means nothing here; give one, or drop the flag", name, v)
				}
			}
		}
		if r := rule(name); r != nil {
			if err := r(c, f, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// windowRule checks each --window spec: one that does not parse, or an
// empty one, is a usage error naming it and the forms a spec takes.
func windowRule(c *cli.Context, _ cli.Flag, name string) error {
	specs, _ := c.Generic(name).(*windowSpecs)
	if specs == nil {
		return nil
	}
	for _, spec := range *specs {
		if _, err := window.Parse(spec); err != nil {
			return usagef("bad --%s %q: %v", name, spec, err)
		}
	}
	return nil
}

func durationAbove(min time.Duration) flagRule {
	return func(c *cli.Context, _ cli.Flag, name string) error {
		if d := c.Duration(name); d <= min {
			return usagef("bad --%s %s: must be more than %s", name, d, min)
		}
		return nil
	}
}

// stopTimeoutRule: whole seconds, at least one. Why: the engine counts a
// stop timeout in whole seconds, so 1500ms would silently be 1s and 500ms
// a kill without any stop signal; and 0 is the library's "unset" (30s),
// so it would silently be the default.
func stopTimeoutRule(c *cli.Context, _ cli.Flag, name string) error {
	if d := c.Duration(name); d < time.Second || d%time.Second != 0 {
		return usagef("bad --%s %s: use whole seconds, at least 1s (the engine counts seconds; a container gets its stop signal and that long before it is killed)", name, d)
	}
	return nil
}

// zeroOrAtLeast is a duration that is 0 (off) or at least min; why says
// what 0 does and what a shorter value would do.
func zeroOrAtLeast(min time.Duration, why string) flagRule {
	return func(c *cli.Context, _ cli.Flag, name string) error {
		if d := c.Duration(name); d != 0 && d < min {
			return usagef("bad --%s %s: use 0 or at least %s (%s)", name, d, min, why)
		}
		return nil
	}
}

func intAtLeast(min int) flagRule {
	return func(c *cli.Context, _ cli.Flag, name string) error {
		if n := c.Int(name); n < min {
			return usagef("bad --%s %d: must be at least %d", name, n, min)
		}
		return nil
	}
}

func intBetween(min, max int) flagRule {
	return func(c *cli.Context, _ cli.Flag, name string) error {
		if n := c.Int(name); n < min || n > max {
			return usagef("bad --%s %d: use %d to %d", name, n, min, max)
		}
		return nil
	}
}

func oneOfRule(allowed ...string) flagRule {
	return func(c *cli.Context, _ cli.Flag, name string) error {
		return oneOf(name, c.String(name), allowed...)
	}
}

// usageLine is the one line a usage error prints, as the docker CLI's:
// the message, on one line, and where the command's help is; ok is false
// when err is no usage error.
func usageLine(err error) (line string, ok bool) {
	var u usageError
	if !errors.As(err, &u) {
		return "", false
	}
	help := "tarsup"
	var h helpError
	if errors.As(err, &h) {
		help = h.help
	}
	return fmt.Sprintf("tarsup: %s; see '%s --help'", strings.ReplaceAll(err.Error(), "\n", "; "), help), true
}
