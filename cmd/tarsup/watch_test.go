package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator/lock"
)

func testEnv() (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	e.log = logrus.New()
	e.log.SetOutput(&errb)
	return e, &out, &errb
}

func TestParseSchedule(t *testing.T) {
	for _, spec := range []string{"0 3 * * *", "*/15 * * * 1-5", "@daily", "@hourly", "@every 1h", "@every 90s", "CRON_TZ=Asia/Shanghai 0 3 * * *"} {
		if _, err := parseSchedule(spec); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
	for _, spec := range []string{"", "  ", "0 3 * *", "0 0 3 * * *", "61 * * * *", "@sometimes", "@every", "@every soon", "CRON_TZ=Nowhere/City 0 3 * * *"} {
		_, err := parseSchedule(spec)
		var u usageError
		if !errors.As(err, &u) || exitCode(err) != exitBadInput || !strings.Contains(err.Error(), "--schedule") {
			t.Errorf("%q: %v, want a usage error (exit 2) naming --schedule", spec, err)
		}
	}
	// The schedule is what cron says: @every 1h is an hour after now.
	s, err := parseSchedule("@every 1h")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	if got := s.Next(now); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("@every 1h after %s is %s", now, got)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := readToken("", file, false); err != nil || string(tok) != "from-file" {
		t.Errorf("file: %q %v", tok, err)
	}
	if tok, err := readToken("flag", "", true); err != nil || string(tok) != "flag" {
		t.Errorf("flag: %q %v", tok, err)
	}
	if tok, err := readToken("", "", false); err != nil || tok != nil {
		t.Errorf("none: %q %v, want nil (endpoint off)", tok, err)
	}
	for name, err := range map[string]error{
		"both":       func() error { _, err := readToken("flag", file, true); return err }(),
		"empty file": func() error { _, err := readToken("", empty, false); return err }(),
		"no file":    func() error { _, err := readToken("", filepath.Join(dir, "nope"), false); return err }(),
		"empty flag": func() error { _, err := readToken("", "", true); return err }(),
	} {
		if exitCode(err) != exitBadInput {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}

func TestRefreshAndWatchInput(t *testing.T) {
	lockFile := filepath.Join(t.TempDir(), "tarsup.lock")
	held, err := lock.AcquireLock(lockFile, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	// No engine answers at this socket: a run that got past its checks
	// would fail to connect, with another message.
	host := "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"refresh", "--host", host, "--to", "v3.0.16"}, "--to does not go with refresh"},
		{[]string{"refresh", "--host", host, "--node-image", "x"}, "--node-image does not go with refresh"},
		{[]string{"refresh", "--host", host, "--any-major"}, "--any-major needs --to-latest"},
		{[]string{"refresh", "--host", host, "--format", "yaml"}, "bad --format"},
		{[]string{"refresh", "--host", host, "--lock", lockFile}, fmt.Sprintf("holds the lock %s (PID %d)", lockFile, os.Getpid())},
		{[]string{"watch", "--host", host}, "watch needs --schedule"},
		{[]string{"watch", "--host", host, "--schedule", "every day"}, "bad --schedule"},
		{[]string{"watch", "--host", host, "--schedule", "@daily", "--http-addr", taken.Addr().String()}, "--http-addr " + taken.Addr().String() + ": "},
		{[]string{"watch", "--host", host, "--schedule", "@daily", "--notify-url", "ftp://x"}, "bad --notify-url"},
		{[]string{"watch", "--host", host, "--schedule", "@daily", "--http-token", "a", "--http-token-file", "b"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e, out, errb := testEnv()
			code := run(t.Context(), append([]string{"tarsup"}, tt.args...), e)
			if code != exitBadInput || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errb, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout should be empty: %q", out)
			}
		})
	}
}
