package main

import (
	"strings"
	"testing"
)

// TestRecoverUsage: `recover` (and its dry run) refuses what it cannot
// read as one thing: a stray argument, a format it has no printer for, and
// a switch given twice saying two things (`--dry-run --dry-run=false` was a
// real recover, the last one winning silently). A switch repeated with the
// same meaning is fine: the engine at --host is then what fails.
func TestRecoverUsage(t *testing.T) {
	h := noEngine(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"recover", "--host", h, "--dry-run", "extra"}, `tarsup: unexpected argument "extra": recover takes no argument (a value goes with its flag: --flag VALUE); see 'tarsup recover --help'`},
		{[]string{"recover", "--host", h, "--dry-run", "--format", "yaml"}, `tarsup: bad --format "yaml": use text or json; see 'tarsup recover --help'`},
		{[]string{"recover", "--host", h, "--dry-run", "--dry-run=false"}, `tarsup: --dry-run given twice ("true", then "false"): give it once; see 'tarsup recover --help'`},
		{[]string{"recover", "--host", h, "--dry-run=false", "--dry-run"}, `tarsup: --dry-run given twice ("false", then "true"): give it once; see 'tarsup recover --help'`},
		{[]string{"upgrade", "--host", h, "--cleanup=true", "--dry-run", "--cleanup=0"}, `tarsup: --cleanup given twice ("true", then "false"): give it once; see 'tarsup upgrade --help'`},
	} {
		t.Run(strings.ReplaceAll(strings.Join(tc.args, " "), h, "HOST"), func(t *testing.T) {
			requireUsageLine(t, tc.args, tc.want)
		})
	}
	for _, args := range [][]string{
		{"recover", "--host", h, "--dry-run", "--dry-run"},
		{"recover", "--host", h, "--dry-run=1", "--dry-run=true"},
	} {
		code, _, errb := runCLI(t, args...)
		if code != exitBadInput || !strings.Contains(errb, strings.TrimPrefix(h, "unix://")) {
			t.Errorf("%v: exit %d, stderr %q; want the engine at %s to be what fails", args, code, errb, h)
		}
	}
}
