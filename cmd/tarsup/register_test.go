package main

import (
	"strings"
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

// TestRegisterTimeoutOddValues: 0 is off; a positive value shorter than
// orchestrator.MinRegisterTimeout (which could never see a node heartbeat
// twice, and would restart every node) is a usage error naming the flag and
// the minimum, as are a negative one, a bare number and the flag twice; a
// huge one is a long wait, not an error.
func TestRegisterTimeoutOddValues(t *testing.T) {
	h := noEngine(t)
	for _, tc := range []struct {
		args []string
		want string // "" when accepted by the usage checks
	}{
		{[]string{"--register-timeout", "1ns"}, "use 0 or at least 10s"},
		{[]string{"--register-timeout", "9.999s"}, "use 0 or at least 10s"},
		{[]string{"--register-timeout=-1s"}, "must not be negative"},
		{[]string{"--register-timeout", "2"}, "not a duration"},
		{[]string{"--register-timeout", "1m", "--register-timeout", "2m"}, "given twice"},
		{[]string{"--register-timeout", "10s"}, ""},
		{[]string{"--register-timeout", "100000h"}, ""},
		{[]string{"--register-timeout", "0"}, ""},
	} {
		code, _, errb := runCLI(t, append([]string{"upgrade", "--dry-run", "--host", h}, tc.args...)...)
		if tc.want == "" {
			if strings.Contains(errb, "--register-timeout") {
				t.Errorf("%v: refused: %s", tc.args, errb)
			}
			continue
		}
		if code != exitBadInput || !strings.Contains(errb, "--register-timeout") || !strings.Contains(errb, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming the flag and %q", tc.args, code, errb, tc.want)
		}
	}
}
