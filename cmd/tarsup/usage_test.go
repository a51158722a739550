package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// noEngine is a --host no engine answers at: a command that got past the
// command-line checks would fail to connect, with another message.
func noEngine(t *testing.T) string {
	return "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
}

// runCLI runs the CLI as main does and returns the exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	e, out, errb := testEnv()
	code = run(t.Context(), append([]string{"tarsup"}, args...), e)
	return code, out.String(), errb.String()
}

// requireUsageLine checks a usage error: exit 2, nothing on stdout, and on
// stderr exactly the one line want.
func requireUsageLine(t *testing.T, args []string, want string) {
	t.Helper()
	code, out, errb := runCLI(t, args...)
	if code != exitBadInput {
		t.Errorf("tarsup %s: exit %d, want 2; stderr %q", strings.Join(args, " "), code, errb)
	}
	if out != "" {
		t.Errorf("tarsup %s: stdout %q, want nothing (no help page on a usage error)", strings.Join(args, " "), out)
	}
	if errb != want+"\n" {
		t.Errorf("tarsup %s: stderr\n%q\nwant the one line\n%q", strings.Join(args, " "), errb, want+"\n")
	}
}

// TestUsageErrors: every command-line mistake is exit 2 with one line that
// names the flag or argument and the value and points to the command's own
// help, and nothing runs (the engine at --host would say otherwise).
func TestUsageErrors(t *testing.T) {
	h := noEngine(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"upgrade", "--host", h, "--health-timeout", "soon"}, `tarsup: bad --health-timeout "soon": not a duration (use e.g. 30s, 5m, 1h30m); see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--frobnicate"}, `tarsup: unknown flag --frobnicate; see 'tarsup upgrade --help'`},
		{[]string{"nosuchcommand"}, `tarsup: unknown command "nosuchcommand"; see 'tarsup --help'`},
		{[]string{"upgrade", "--host", h, "--no-backup", "--backup-dir", "/srv/b"}, `tarsup: --backup-dir does not go with --no-backup (TARSUP_NO_BACKUP): give one or the other; see 'tarsup upgrade --help'`},
		{[]string{"refresh", "--host", h, "--restore-on-rollback", "--no-backup"}, `tarsup: --restore-on-rollback does not go with --no-backup (TARSUP_NO_BACKUP): give one or the other; see 'tarsup refresh --help'`},
		{[]string{"restore", "--host", h}, `tarsup: restore takes one FILE (a snapshot's .sql.gz), got 0; see 'tarsup restore --help'`},
		{[]string{"restore", "a.sql.gz", "b.sql.gz", "--host", h}, `tarsup: restore takes one FILE (a snapshot's .sql.gz), got 2; see 'tarsup restore --help'`},
		{[]string{"backup", "--host", h, "--backup-keep", "many"}, `tarsup: bad --backup-keep "many": not a whole number; see 'tarsup backup --help'`},
		{[]string{"--frobnicate", "status"}, `tarsup: unknown flag --frobnicate; see 'tarsup --help'`},
		{[]string{"compose", "nosuch"}, `tarsup: unknown command "nosuch" for compose; see 'tarsup compose --help'`},
		{[]string{"node", "remove"}, `tarsup: unknown command "remove" for node; see 'tarsup node --help'`},
		{[]string{"upgrade", "--host", h, "--to", "v1", "--to", "v2"}, `tarsup: --to given twice ("v1", then "v2"): give it once; see 'tarsup upgrade --help'`},
		{[]string{"compose", "upgrade", "--host", h, "--to=v1", "--dry-run", "--to", "v2"}, `tarsup: --to given twice ("v1", then "v2"): give it once; see 'tarsup compose upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--stop-timeout", "-5s"}, `tarsup: bad --stop-timeout -5s: a duration must not be negative; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--to", ""}, `tarsup: bad --to "": an empty value means nothing here; give one, or drop the flag; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--framework-image="}, `tarsup: bad --framework-image "": an empty value means nothing here; give one, or drop the flag; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--only", ""}, `tarsup: bad --only "": an empty value (--only '' or a,,b) means nothing here; give one, or drop the flag; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--to"}, `tarsup: flag --to needs a value; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--parallel", "0"}, `tarsup: bad --parallel 0: must be at least 1; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--parallel", "two"}, `tarsup: bad --parallel "two": not a whole number; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--max-failures", "-1"}, `tarsup: bad --max-failures -1: must not be negative; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--health-timeout", "0s"}, `tarsup: bad --health-timeout 0s: must be more than 0s; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--stop-timeout", "0"}, `tarsup: bad --stop-timeout 0s: use whole seconds, at least 1s (the engine counts seconds; a container gets its stop signal and that long before it is killed); see 'tarsup upgrade --help'`},
		{[]string{"recover", "--host", h, "--stop-timeout", "500ms"}, `tarsup: bad --stop-timeout 500ms: use whole seconds, at least 1s (the engine counts seconds; a container gets its stop signal and that long before it is killed); see 'tarsup recover --help'`},
		{[]string{"upgrade", "--host", h, "--stop-timeout", "1500ms"}, `tarsup: bad --stop-timeout 1.5s: use whole seconds, at least 1s (the engine counts seconds; a container gets its stop signal and that long before it is killed); see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--dry-run=maybe"}, `tarsup: bad --dry-run "maybe": use true or false; see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "--host", h, "--format", "table"}, `tarsup: bad --format "table": use text or json; see 'tarsup upgrade --help'`},
		{[]string{"status", "--host", h, "--format", "text"}, `tarsup: bad --format "text": use table or json; see 'tarsup status --help'`},
		{[]string{"status", "--host", h, "--probe", "ping"}, `tarsup: bad --probe "ping": use auto or direct or sidecar; see 'tarsup status --help'`},
		{[]string{"status", "--host", h, "--log-format", "xml"}, `tarsup: bad --log-format "xml": use text or json; see 'tarsup status --help'`},
		{[]string{"recover", "--host", h, "--lock-wait", "-1m"}, `tarsup: bad --lock-wait -1m0s: a duration must not be negative; see 'tarsup recover --help'`},
		{[]string{"compose", "upgrade", "--host", h, "--monitor", "-1s"}, `tarsup: bad --monitor -1s: a duration must not be negative; see 'tarsup compose upgrade --help'`},
		{[]string{"compose", "upgrade", "--host", h, "--only", "x"}, `tarsup: unknown flag --only; see 'tarsup compose upgrade --help'`},
		{[]string{"framework", "add", "--host", h, "--mysql-host", "db", "--mysql-port", "70000"}, `tarsup: bad --mysql-port 70000: use 1 to 65535; see 'tarsup framework add --help'`},
		{[]string{"node", "add", "--host", h, "--web-host", "http://fw:3000", "--node-image", "x"}, `tarsup: unknown flag --node-image; see 'tarsup node add --help'`},
		{[]string{"refresh", "--host", h, "--parallel", "-2"}, `tarsup: bad --parallel -2: must not be negative; see 'tarsup refresh --help'`},
		{[]string{"watch", "--host", h, "--schedule", ""}, `tarsup: bad --schedule "": an empty value means nothing here; give one, or drop the flag; see 'tarsup watch --help'`},
		{[]string{"refresh", "--host", h, "--registry-retries", "-1"}, `tarsup: bad --registry-retries -1: must not be negative; see 'tarsup refresh --help'`},
		{[]string{"status", "--host", h, "--registry-retries", "11"}, `tarsup: bad --registry-retries 11: use 0 to 10; see 'tarsup status --help'`},
		{[]string{"upgrade", "--host", h, "--registry-retries", "3", "--registry-retries", "4"}, `tarsup: --registry-retries given twice ("3", then "4"): give it once; see 'tarsup upgrade --help'`},
		{[]string{"watch", "--host", h, "--schedule", "@daily", "--registry-mirror", "notaurl"}, `tarsup: bad --registry-mirror "notaurl" is not an http or https URL: use http(s)://HOST[:PORT], e.g. https://mirror.example.com or http://127.0.0.1:5000; see 'tarsup watch --help'`},
		{[]string{"status", "--host", h, "--registry-mirror", "https://m.example.com/v2/x"}, `tarsup: bad --registry-mirror "https://m.example.com/v2/x" has a path (/v2/x): a mirror answers at its host's root; use http(s)://HOST[:PORT], e.g. https://mirror.example.com or http://127.0.0.1:5000; see 'tarsup status --help'`},
		{[]string{"compose", "upgrade", "--host", h, "--registry-mirror", "ftp://m"}, `tarsup: bad --registry-mirror "ftp://m" is not an http or https URL: use http(s)://HOST[:PORT], e.g. https://mirror.example.com or http://127.0.0.1:5000; see 'tarsup compose upgrade --help'`},
		{[]string{"status", "--host", h, "--offline=maybe"}, `tarsup: bad --offline "maybe": use true or false; see 'tarsup status --help'`},
		// A stray argument: refused, and the flags after it are read.
		{[]string{"upgrade", "--host", h, "--to", "v3.0.2", "--only", "X", "oops", "--dry-run"}, `tarsup: unexpected argument "oops": upgrade takes no argument (a value goes with its flag: --flag VALUE); see 'tarsup upgrade --help'`},
		{[]string{"upgrade", "oops", "--host", h, "--stop-timeout", "-5s"}, `tarsup: unexpected argument "oops": upgrade takes no argument (a value goes with its flag: --flag VALUE); see 'tarsup upgrade --help'`},
		{[]string{"compose", "status", "--host", h, "oops"}, `tarsup: unexpected argument "oops": status takes no argument (a value goes with its flag: --flag VALUE); see 'tarsup compose status --help'`},
		// After --, a flag is an argument.
		{[]string{"upgrade", "--host", h, "--", "--dry-run"}, `tarsup: unexpected argument "--dry-run": upgrade takes no argument (a value goes with its flag: --flag VALUE); see 'tarsup upgrade --help'`},
		// A flag after NAME is a flag: checked, and refused when unknown.
		{[]string{"rollback", "--host", h, "tars-node", "--stop-timeout", "-1s"}, `tarsup: bad --stop-timeout -1s: a duration must not be negative; see 'tarsup rollback --help'`},
		{[]string{"rollback", "tars-node", "--host", h, "--dry-run"}, `tarsup: unknown flag --dry-run; see 'tarsup rollback --help'`},
		{[]string{"rollback", "--host", h}, `tarsup: rollback needs the NAME of at least one container; see 'tarsup rollback --help'`},
	} {
		t.Run(strings.ReplaceAll(strings.Join(tc.args, " "), h, "HOST"), func(t *testing.T) {
			requireUsageLine(t, tc.args, tc.want)
		})
	}
}

// TestFlagsAfterNamesAreRead: rollback reads a flag given after its NAMEs
// (here --host: the error names that engine, not the default one), and
// takes a NAME that looks like a flag after --.
func TestFlagsAfterNamesAreRead(t *testing.T) {
	h := noEngine(t)
	for _, args := range [][]string{
		{"rollback", "tars-node", "--host", h},
		{"rollback", "tars-node", "tars-framework", "-H", h, "--stop-timeout", "5s"},
		{"rollback", "--host", h, "--", "-tars-node"},
	} {
		t.Run(strings.ReplaceAll(strings.Join(args, " "), h, "HOST"), func(t *testing.T) {
			code, _, errb := runCLI(t, args...)
			if code != exitBadInput || !strings.Contains(errb, strings.TrimPrefix(h, "unix://")) || strings.Contains(errb, "--help") {
				t.Errorf("exit %d, stderr %q; want exit 2 from the engine at %s (the flag after NAME was read)", code, errb, h)
			}
		})
	}
}

// TestHelpStillWorks: --help and the parser's help command show the help
// page on stdout, exit 0.
func TestHelpStillWorks(t *testing.T) {
	for _, args := range [][]string{{}, {"--help"}, {"upgrade", "--help"}, {"upgrade", "help"}, {"rollback", "NAME", "--help"},
		{"compose"}, {"compose", "help", "upgrade"}, {"compose", "upgrade", "-h"}, {"node", "add", "help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errb := runCLI(t, args...)
			if code != exitOK || !strings.Contains(out, "USAGE:") || errb != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want the help page, exit 0", code, out, errb)
			}
		})
	}
}

// leaves lists every command that runs (not a group), with its path.
func leaves(prefix string, cmds []*cli.Command) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	for _, c := range cmds {
		p := prefix + " " + c.Name
		if len(c.Subcommands) > 0 {
			for k, v := range leaves(p, c.Subcommands) {
				out[k] = v
			}
			continue
		}
		out[p] = c
	}
	return out
}

// TestEveryCommandRefusesStrayArguments: a command without ArgsUsage takes
// no argument, whatever flags follow it; the rule comes from one place, so
// every command of the app is checked, including ones added later.
func TestEveryCommandRefusesStrayArguments(t *testing.T) {
	e, _, _ := testEnv()
	cmds := leaves("tarsup", newApp(e).Commands)
	if len(cmds) < 11 {
		t.Fatalf("found %d commands: %v", len(cmds), cmds)
	}
	h := noEngine(t)
	for path, c := range cmds {
		if c.ArgsUsage != "" {
			continue
		}
		t.Run(path, func(t *testing.T) {
			args := append(strings.Fields(path)[1:], "oops")
			if findFlag(c.Flags, "host") != nil {
				args = append(args, "--host", h)
			}
			if findFlag(c.Flags, "dry-run") != nil {
				args = append(args, "--dry-run")
			}
			name := c.Name
			requireUsageLine(t, args, `tarsup: unexpected argument "oops": `+name+` takes no argument (a value goes with its flag: --flag VALUE); see '`+path+` --help'`)
		})
	}
}

// TestEveryFlagValueIsChecked: for every command and each of its flags, a
// negative duration or number and an empty name are usage errors that name
// the flag, before anything runs.
func TestEveryFlagValueIsChecked(t *testing.T) {
	e, _, _ := testEnv()
	h := noEngine(t)
	for path, c := range leaves("tarsup", newApp(e).Commands) {
		for _, f := range c.Flags {
			name := f.Names()[0]
			var bad string
			switch f.(type) {
			case *cli.DurationFlag:
				bad = "-1s"
			case *cli.IntFlag:
				bad = "-1"
			case *cli.StringFlag, *cli.StringSliceFlag, *cli.GenericFlag:
				if emptyAllowed(name) {
					continue
				}
				bad = ""
			default:
				continue
			}
			t.Run(path+" --"+name, func(t *testing.T) {
				args := append(strings.Fields(path)[1:], "--"+name+"="+bad)
				if name != "host" && findFlag(c.Flags, "host") != nil {
					args = append(args, "--host", h)
				}
				code, out, errb := runCLI(t, args...)
				if code != exitBadInput || out != "" || strings.Count(errb, "\n") != 1 ||
					!strings.Contains(errb, "bad --"+name+" ") || !strings.HasSuffix(errb, "; see '"+path+" --help'\n") {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line naming --%s and pointing to %s --help", code, out, errb, name, path)
				}
			})
		}
	}
}

func TestResolveArgs(t *testing.T) {
	e, _, _ := testEnv()
	app := newApp(e)
	for _, tc := range []struct{ in, want string }{
		{"upgrade --to v3 --only X oops --dry-run", "upgrade --to v3 --only X --dry-run -- oops"},
		{"upgrade --only=X oops -H h", "upgrade --only=X -H h -- oops"},
		{"rollback a --host h b --no-rollback", "rollback --host h --no-rollback -- a b"},
		{"rollback --host h -- --dry-run a", "rollback --host h -- --dry-run a"},
		{"compose upgrade -f x.yaml --dry-run", "compose upgrade -f x.yaml --dry-run"},
		{"compose --frobnicate upgrade x", "compose --frobnicate upgrade -- x"},
		{"compose help upgrade", "compose help upgrade"},
		{"upgrade --dry-run help", "upgrade --dry-run help"},
		{"rollback NAME --help", "rollback --help"},
		{"upgrade --only --help oops", "upgrade --only --help -- oops"},
		{"nosuch --dry-run", "--dry-run -- nosuch"},
		{"upgrade --only --dry-run", "upgrade --only --dry-run"},
		{"status", "status"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := resolveArgs(app, append([]string{"tarsup"}, strings.Fields(tc.in)...))
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{"tarsup"}, strings.Fields(tc.want)...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("resolveArgs(%q) = %q, want %q", tc.in, got, want)
			}
		})
	}
}
