package main

import (
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/urfave/cli/v2"
)

// TestRegisterTimeoutFlag: --register-timeout defaults to 2m, 0 turns the
// check off, and only an explicit non-zero value asks for it (a database
// that cannot be read then fails the pre-flight); commands without the
// flag (rollback, recover, add) plan no check.
func TestRegisterTimeoutFlag(t *testing.T) {
	e, _, _ := testEnv()
	for _, tc := range []struct {
		flags    []cli.Flag
		args     []string
		timeout  time.Duration
		required bool
	}{
		{upgradeFlags(), nil, orchestrator.DefaultRegisterTimeout, false},
		{upgradeFlags(), []string{"--register-timeout", "30s"}, 30 * time.Second, true},
		{upgradeFlags(), []string{"--register-timeout", "0"}, 0, false},
		{execFlags(), nil, 0, false},
	} {
		var got orchestrator.ExecOptions
		app := &cli.App{Flags: tc.flags, Action: func(c *cli.Context) error {
			var err error
			got, err = execOptions(c, e, nil, nil)
			return err
		}}
		if err := app.Run(append([]string{"tarsup"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		if got.RegisterTimeout != tc.timeout || got.RegisterRequired != tc.required {
			t.Errorf("%v: timeout %s, required %t; want %s, %t", tc.args, got.RegisterTimeout, got.RegisterRequired, tc.timeout, tc.required)
		}
	}
}
