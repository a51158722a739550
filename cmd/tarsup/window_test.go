package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestWindowFlagErrors: a --window that does not parse, an empty one, an
// unknown zone, a negative --min-age: exit 2, one line naming the flag,
// the value and the fix, and no engine contacted (refresh and watch).
func TestWindowFlagErrors(t *testing.T) {
	h := noEngine(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"refresh", "--host", h, "--window", "Sat 25:00-26:00"},
			`tarsup: bad --window "Sat 25:00-26:00": "25:00" is not a time of day (use HH:MM, 00:00 to 23:59; 24:00 may end a window); see 'tarsup refresh --help'`},
		{[]string{"refresh", "--host", h, "--window", ""},
			`tarsup: bad --window "": empty window: give one, e.g. "Sat 02:00-05:00", or drop the flag; see 'tarsup refresh --help'`},
		{[]string{"refresh", "--host", h, "--window", "Funday 01:00-02:00"},
			`tarsup: bad --window "Funday 01:00-02:00": "Funday" is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun, or daily); see 'tarsup refresh --help'`},
		{[]string{"refresh", "--host", h, "--window", "daily 01:00-02:00", "--window", "CRON_TZ=Nowhere/Land daily 01:00-02:00"},
			`tarsup: bad --window "CRON_TZ=Nowhere/Land daily 01:00-02:00": unknown time zone "Nowhere/Land" (use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC); see 'tarsup refresh --help'`},
		{[]string{"watch", "--host", h, "--schedule", "@daily", "--window", "TZ= daily 01:00-02:00"},
			`tarsup: bad --window "TZ= daily 01:00-02:00": empty time zone after CRON_TZ= (name one, e.g. CRON_TZ=Asia/Shanghai, or drop it for the local zone); see 'tarsup watch --help'`},
		{[]string{"refresh", "--host", h, "--min-age", "-1h"},
			`tarsup: bad --min-age -1h0m0s: a duration must not be negative; see 'tarsup refresh --help'`},
		{[]string{"watch", "--host", h, "--schedule", "@daily", "--min-age", "soon"},
			`tarsup: bad --min-age "soon": not a duration (use e.g. 30s, 5m, 1h30m); see 'tarsup watch --help'`},
		{[]string{"refresh", "--host", h, "--min-age", "1h", "--min-age", "2h"},
			`tarsup: --min-age given twice ("1h", then "2h"): give it once; see 'tarsup refresh --help'`},
		{[]string{"upgrade", "--host", h, "--window", "daily 01:00-02:00"},
			`tarsup: unknown flag --window; see 'tarsup upgrade --help'`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			requireUsageLine(t, tc.args, tc.want)
		})
	}
}

// TestWindowFlagValues: --window repeats, keeps a comma list of days as
// one window, and reaches the refresh's options with --min-age.
func TestWindowFlagValues(t *testing.T) {
	run := func(args ...string) []string {
		t.Helper()
		var got []string
		// Why a new app per run: urfave/cli flags hold their values.
		app := &cli.App{Name: "t", Flags: refreshFlags(), Action: func(c *cli.Context) error {
			s, err := windowsOf(c, func(string) string { return "" })
			got = s.Strings()
			return err
		}}
		if err := app.Run(append([]string{"t"}, args...)); err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := run("--window", "Sat,Sun 02:00-05:00", "--window=CRON_TZ=Asia/Shanghai daily 23:00-01:00")
	if want := "Sat,Sun 02:00-05:00|CRON_TZ=Asia/Shanghai daily 23:00-01:00"; strings.Join(got, "|") != want {
		t.Errorf("windows %q, want %q", strings.Join(got, "|"), want)
	}
	if got := run(); len(got) != 0 {
		t.Errorf("no --window: %v", got)
	}
}
