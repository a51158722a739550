package orchestrator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestUpgradeObservedHook: Upgrade hands the hook the engines' states (after
// recovery, under the locks), selects with the request it returns, and ends
// as a run that found no Tars container of Scope when it returns none.
func TestUpgradeObservedHook(t *testing.T) {
	fe := newFakeEngine(t)
	fe.add("tars-framework", "tarscloud/framework:v3.0.15", true)
	h := &engine.Host{Spec: engine.HostSpec{URL: "unix:///fake.sock"}, Engine: fe}
	x := NewExecutor([]*engine.Host{h}, ExecOptions{})
	hookErr := errors.New("the projects do not plan")
	for _, tc := range []struct {
		name string
		ret  *plan.Request
		err  error
		want string // in the error, or NothingToDo
	}{
		{name: "no request: nothing selected, the scope named", want: "no Tars container of compose project tars found on unix:///fake.sock"},
		{name: "the hook's error ends the upgrade", err: hookErr, want: hookErr.Error()},
		{name: "the hook's request is the one selected with", ret: &plan.Request{Only: []string{"tars-nosuch"}}, want: "tars-nosuch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			rep, err := Upgrade(context.Background(), []*engine.Host{h}, x, UpgradeOptions{
				DryRun: true, Scope: "compose project tars",
				// Why --only tars-framework here: the hook's request must replace it.
				Request: plan.Request{Only: []string{"tars-framework"}},
				Observed: func(_ context.Context, states []plan.HostState) (*plan.Request, error) {
					for _, s := range states {
						for _, c := range s.Containers {
							seen = append(seen, s.Host+" "+c.Name)
						}
					}
					return tc.ret, tc.err
				},
			})
			if got := strings.Join(seen, ","); got != "unix:///fake.sock tars-framework" {
				t.Errorf("hook saw %q", got)
			}
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = rep.NothingToDo()
			}
			if !strings.Contains(got, tc.want) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("got %q (err %v), want %q", got, err, tc.want)
			}
		})
	}
}
