package main

import (
	"strings"
	"testing"
)

// TestComposeUsageErrors: the mistakes composefleet finds in what the
// project flags ask for are usage errors as the CLI gives them (exit 2, one
// line pointing to the command's help), before any engine is contacted.
func TestComposeUsageErrors(t *testing.T) {
	h := noEngine(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compose", "upgrade", "--host", h, "-f", "a.yaml", "--project-dir", "x", "--project-dir", "y"},
			`tarsup: -f names one project, and --project-dir is given 2 times; give one --project-dir with -f, or list the projects with --project-dir or --project-list alone; see 'tarsup compose upgrade --help'`},
		{[]string{"compose", "status", "--host", h, "-p", "tars", "--project-dir", "x", "--project-dir", "y"},
			`tarsup: -p and --env-file apply to one project, and 2 are named; set name: in each compose file, or .env in each project directory; see 'tarsup compose status --help'`},
		{[]string{"compose", "status", "--inventory", "hosts.yaml"},
			`tarsup: --inventory does not apply to compose projects: each project names its engine with x-tarsup.host (README: Compose), or --host/DOCKER_HOST serves those that do not; see 'tarsup compose status --help'`},
	} {
		t.Run(strings.ReplaceAll(strings.Join(tc.args, " "), h, "HOST"), func(t *testing.T) {
			requireUsageLine(t, tc.args, tc.want)
		})
	}
}
