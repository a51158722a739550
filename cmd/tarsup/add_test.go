package main

import "testing"

// TestAddWiring: node add and framework add pass their flags to the add
// rules (orchestrator.AddRequest.Prepare), whose refusals of a missing
// input are usage errors: exit 2, one line, nothing contacted.
func TestAddWiring(t *testing.T) {
	h := noEngine(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "add", "--host", h}, `tarsup: --web-host http://FRAMEWORK:3000 is required: the node fetches its tarsnode from the framework's web; see 'tarsup node add --help'`},
		{[]string{"node", "add", "--host", h, "--web-host", "fw:3000"}, `tarsup: --web-host http://FRAMEWORK:3000 is required: the node fetches its tarsnode from the framework's web; see 'tarsup node add --help'`},
		{[]string{"framework", "add", "--host", h}, `tarsup: --mysql-host is required: a framework host shares the master's database; see 'tarsup framework add --help'`},
		{[]string{"framework", "add", "--host", h, "--mysql-password-file", "/nonexistent/pw"}, `tarsup: --mysql-host is required: a framework host shares the master's database; see 'tarsup framework add --help'`},
		{[]string{"node", "add", "--host", h, "--host", h, "--web-host", "http://fw:3000"}, `tarsup: add takes one --host: the engine to add the node to; see 'tarsup node add --help'`},
	} {
		t.Run(tc.want, func(t *testing.T) { requireUsageLine(t, tc.args, tc.want) })
	}
}
