//go:build e2e

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/tests/testbed"
)

// requireUsageError checks a usage error of the real binary: exit 2,
// nothing on stdout (no help page), and one line on stderr that holds each
// of want.
func requireUsageError(t *testing.T, r testbed.Result, want ...string) {
	t.Helper()
	if r.ExitCode != 2 {
		t.Fatalf("want exit 2, got %s", r)
	}
	if r.Stdout != "" {
		t.Errorf("stdout should be empty on a usage error (no help page):\n%s", r.Stdout)
	}
	if strings.Count(r.Stderr, "\n") != 1 || !strings.HasSuffix(r.Stderr, "\n") {
		t.Errorf("stderr should be one line:\n%s", r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
}

// TestUsageErrors: the command-line mistakes of issue 9 through the real
// binary, each against the real engine: exit 2 and one line naming the
// flag or command, the value and the command's own help.
func TestUsageErrors(t *testing.T) {
	ctx := t.Context()
	h := bed.Local.Host
	// Why --only a name no container has: the local engine is shared, and a
	// parser that dropped a flag must not upgrade anyone's containers.
	none := uniq("nobody")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"upgrade", "--host", h, "--only", none, "--health-timeout", "soon"}, []string{"--health-timeout", `"soon"`, "see 'tarsup upgrade --help'"}},
		{[]string{"upgrade", "--host", h, "--only", none, "--frobnicate"}, []string{"unknown flag --frobnicate", "see 'tarsup upgrade --help'"}},
		{[]string{"nosuchcommand"}, []string{`unknown command "nosuchcommand"`, "see 'tarsup --help'"}},
		{[]string{"upgrade", "--host", h, "--only", none, "--stop-timeout", "-5s"}, []string{"--stop-timeout -5s", "negative", "see 'tarsup upgrade --help'"}},
		{[]string{"upgrade", "--host", h, "--only", none, "--to", ""}, []string{`--to ""`, "see 'tarsup upgrade --help'"}},
		{[]string{"compose", "upgrade", "--host", h, "--parallel", "0"}, []string{"--parallel 0", "see 'tarsup compose upgrade --help'"}},
		// A flag of one value given twice is never silently the last one.
		{[]string{"upgrade", "--host", h, "--only", none, "--to", "v3.0.16", "--dry-run", "--to=v3.0.17"}, []string{`--to given twice ("v3.0.16", then "v3.0.17")`, "see 'tarsup upgrade --help'"}},
		{[]string{"status", "--host", h, "extra"}, []string{`unexpected argument "extra"`, "see 'tarsup status --help'"}},
		// A flag after NAME is read: the value is checked.
		{[]string{"rollback", none, "--host", h, "--stop-timeout", "-1s"}, []string{"--stop-timeout -1s", "see 'tarsup rollback --help'"}},
	} {
		t.Run(strings.ReplaceAll(strings.Join(tc.args, " "), none, "NOBODY"), func(t *testing.T) {
			requireUsageError(t, tarsup(t, ctx, tc.args...), tc.want...)
		})
	}
}

// TestUsageStrayArgumentChangesNothing: `upgrade --to v3.0.16 --only X oops
// --dry-run` once ran a real upgrade (the parser stopped at "oops" and
// dropped --dry-run). It is a usage error now, and the framework is as it
// was; so is rollback with an unknown flag after its NAME.
func TestUsageStrayArgumentChangesNothing(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("stray-")
	fw := d.Run(testbed.ContainerSpec{Name: p + "framework", Image: bed.Images.Framework3015,
		Env: []string{"MYSQL_HOST=10.9.9.9", "REBUILD=false"}})
	d.WaitTCP(fw.IP + ":17890")
	before := snapshot(t, ctx, bed.Local, p)

	args := append([]string{"upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--only", fw.Name}, gateFlags...)
	r := tarsup(t, ctx, append(args, "oops", "--dry-run")...)
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	requireUsageError(t, r, `unexpected argument "oops"`, "see 'tarsup upgrade --help'")

	// The value of --only looks like an argument and stays the flag's.
	// (--allow-ip-change: the framework is on the default bridge.)
	r = tarsup(t, ctx, "upgrade", "--host", bed.Local.Host, "--to", "v3.0.16", "--only", fw.Name, "--dry-run", "--format", "json", "--allow-ip-change")
	requireExit(t, r, 0, `"dry_run": true`, fw.Name)
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))

	r = tarsup(t, ctx, "rollback", fw.Name, "--host", bed.Local.Host, "--dry-run")
	requireUsageError(t, r, "unknown flag --dry-run", "see 'tarsup rollback --help'")
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
}

// TestUpgradeNoTarsContainer: on an engine with only the database, an
// unrelated container and a framework labelled tarsup.role=ignore, upgrade
// and refresh say that no Tars container was found on that engine and how
// roles are recognised, exit 0, and change nothing; so does compose
// upgrade of a project whose Tars service has no container there.
func TestUpgradeNoTarsContainer(t *testing.T) {
	ctx := t.Context()
	e, err := bed.Engine(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	d := bed.On(ctx, t, e)
	p := uniq("notars-")
	d.Run(testbed.ContainerSpec{Name: p + "mysql", Image: bed.Images.MySQL})
	d.Run(testbed.ContainerSpec{Name: p + "web-proxy", Image: bed.Images.Nginx})
	d.Run(testbed.ContainerSpec{Name: p + "lab-framework", Image: bed.Images.Framework3015,
		Env: []string{"MYSQL_HOST=10.9.9.9"}, Labels: map[string]string{"tarsup.role": "ignore"}})
	before := snapshot(t, ctx, e, p)
	conn := append([]string{"--host", e.Host}, tlsArgs(e)...)
	found := "no Tars container found on " + e.Host + ":"

	for _, extra := range [][]string{{"--to", "v3.0.16"}, {"--to", "v3.0.16", "--dry-run"}} {
		r := tarsup(t, ctx, append(append(append([]string{"upgrade"}, conn...), extra...), gateFlags...)...)
		requireExit(t, r, 0, found, "tarsup status", "tarsup.role=")
		if strings.Contains(r.Stdout, "nothing to do") {
			t.Errorf("upgrade %v says nothing to do where it found no Tars container:\n%s", extra, r)
		}
		requireUnchanged(t, before, snapshot(t, ctx, e, p))
	}

	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	r := tarsup(t, ctx, append(append([]string{"refresh", "--lock", lock}, conn...), gateFlags...)...)
	requireExit(t, r, 0, "refresh: "+found)
	if strings.Contains(r.Stdout, "0 containers checked") {
		t.Errorf("refresh counts containers where it found none:\n%s", r)
	}
	requireUnchanged(t, before, snapshot(t, ctx, e, p))

	// A compose project whose Tars service has no container on the engine.
	project := uniq("notars")
	file := filepath.Join(t.TempDir(), "compose.yaml")
	yaml := "name: " + project + "\nservices:\n  framework:\n    image: " + bed.Images.Framework3015 + "\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	r = tarsup(t, ctx, append(append([]string{"compose", "upgrade", "-f", file, "--to", "v3.0.16", "--dry-run"}, conn...), gateFlags...)...)
	requireExit(t, r, 0, "no Tars container of compose project "+project+" found on "+e.Host+":", "tarsup.role=")
	if strings.Contains(r.Stdout, "nothing to do") {
		t.Errorf("compose upgrade says nothing to do where it found no Tars container:\n%s", r)
	}
	requireUnchanged(t, before, snapshot(t, ctx, e, p))
}
