package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/report"
)

// receiver records the requests it gets.
type receiver struct {
	mu   sync.Mutex
	reqs []recorded
	code int
}

type recorded struct {
	path, query, contentType string
	body                     []byte
}

func (rc *receiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), body})
	code := rc.code
	rc.mu.Unlock()
	if code != 0 {
		rw.WriteHeader(code)
	}
}

func (rc *receiver) got() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

func testLog() (*logrus.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetLevel(logrus.DebugLevel)
	return l, &buf
}

func testUpgrade() report.Upgrade {
	step := report.Step{Host: "unix:///var/run/docker.sock", Container: "tars-node", Role: "node",
		From: "reg.example.com/tarscloud/tars-node:v3.0.15", To: "reg.example.com/tarscloud/tars-node:v3.0.16",
		FromDigest: "sha256:aaaaaaaaaaaaaaaaaaaa", ToDigest: "sha256:bbbbbbbbbbbbbbbbbbbb"}
	return report.Upgrade{Plan: []report.Step{step}, Results: []report.Result{{Step: step, Result: "upgraded", NewID: "abc"}}}
}

func TestParseOn(t *testing.T) {
	changed, failed, nothing := Event{Changed: true}, Event{Failed: true}, Event{}
	for _, tc := range []struct {
		in   string
		want [3]bool // changed, failed, nothing
	}{
		{"changed,failed", [3]bool{true, true, false}},
		{"changed", [3]bool{true, false, false}},
		{"failed", [3]bool{false, true, false}},
		{"always", [3]bool{true, true, true}},
		{"failed, changed", [3]bool{true, true, false}},
	} {
		on, err := ParseOn(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := [3]bool{on.Wants(changed), on.Wants(failed), on.Wants(nothing)}; got != tc.want {
			t.Errorf("%q wants %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "sometimes", "always,failed", "changed,,failed", "Changed"} {
		if _, err := ParseOn(bad); !errors.Is(err, ErrBadOn) {
			t.Errorf("%q: %v, want ErrBadOn", bad, err)
		}
	}
}

// TestUpgradeEvent: what an upgrade's event says, run by run.
func TestUpgradeEvent(t *testing.T) {
	ev := UpgradeEvent("upgrade", testUpgrade(), nil)
	if ev.Status != StatusChanged || !ev.Changed || ev.Failed || ev.ExitCode != 0 || ev.Upgraded != 1 || ev.Summary != "1 upgraded" {
		t.Errorf("a good upgrade: %+v", ev)
	}
	s := ev.Steps[0]
	if s.From != "v3.0.15" || s.To != "v3.0.16" || s.FromDigest != "sha256:aaaa…" || s.Result != "upgraded" {
		t.Errorf("step %+v", s)
	}
	if ev.Report["results"] == nil || ev.Report["dry_run"] != false {
		t.Errorf("report %v", ev.Report)
	}

	rb := testUpgrade()
	rb.Results[0].Result, rb.Results[0].Error = "rolled back", "health gate: not healthy after 6s\nlast log lines:\n..."
	err := fault.Mark(fault.RolledBack, errors.New("tars-node: not healthy after 6s"))
	ev = UpgradeEvent("upgrade", rb, err)
	if ev.Status != StatusFailed || ev.ExitCode != 1 || ev.RolledBack != 1 || ev.Summary != "1 rolled back; failed: tars-node: not healthy after 6s" {
		t.Errorf("a rolled-back upgrade: %+v", ev)
	}
	if ev.Report["error"] != err.Error() {
		t.Errorf("the report's error: %v", ev.Report["error"])
	}

	dry := testUpgrade()
	dry.DryRun, dry.Results = true, nil
	ev = UpgradeEvent("upgrade", dry, nil)
	if ev.Status != StatusWouldChange || ev.Steps[0].Result != ResultPlanned || ev.Summary != "dry run: 1 planned, nothing was changed" {
		t.Errorf("a dry run: %+v", ev)
	}
	ev = UpgradeEvent("upgrade", report.Upgrade{Plan: []report.Step{}}, nil)
	if ev.Status != StatusUnchanged || ev.Changed || ev.Summary != "nothing to do" {
		t.Errorf("nothing to do: %+v", ev)
	}
	ev = UpgradeEvent("upgrade", report.Upgrade{}, fault.Mark(fault.Refused, errors.New("REBUILD=true on tars-framework")))
	if ev.ExitCode != 3 || ev.Summary != "failed: REBUILD=true on tars-framework" {
		t.Errorf("a refusal: %+v", ev)
	}
}

// TestDefaultMessage: the default title and text say where, what changed
// or failed, and the exit code.
func TestDefaultMessage(t *testing.T) {
	rb := testUpgrade()
	rb.Results[0].Result, rb.Results[0].Error = "rolled back", "health gate: not healthy after 6s\nlast log lines: x"
	ev := UpgradeEvent("upgrade", rb, fault.Mark(fault.RolledBack, errors.New("tars-node: not healthy after 6s")))
	ev.Machine = "build-7"
	m, err := Render(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	want := "1 rolled back; failed: tars-node: not healthy after 6s\n\n" +
		"- tars-node on unix:///var/run/docker.sock: v3.0.15 -> v3.0.16: rolled back (health gate: not healthy after 6s)\n\n" +
		"exit 1"
	if m.Title != "tarsup upgrade on build-7: failed (exit 1)" || m.Text != want {
		t.Errorf("title %q\ntext\n%s\nwant\n%s", m.Title, m.Text, want)
	}
	ev = UpgradeEvent("refresh", report.Upgrade{}, nil)
	ev.Machine, ev.Summary = "cron-1", "refresh: 4 containers checked, 3 tags, nothing moved"
	if m, _ := Render(nil, ev); m.Title != "tarsup refresh on cron-1: unchanged" || m.Text != "refresh: 4 containers checked, 3 tags, nothing moved\n\nexit 0" {
		t.Errorf("nothing moved: %q\n%s", m.Title, m.Text)
	}
	latest := testUpgrade()
	latest.DryRun = true
	latest.Results = nil
	latest.Plan[0].From, latest.Plan[0].To = "r/tarscloud/tars-node:latest", "r/tarscloud/tars-node:latest"
	m, _ = Render(nil, UpgradeEvent("refresh", latest, nil))
	if !strings.Contains(m.Text, "latest -> latest (sha256:aaaa… -> sha256:bbbb…): planned") || !strings.HasSuffix(m.Text, "exit 0: a dry run, nothing was changed") {
		t.Errorf("a moved tag in a dry run:\n%s", m.Text)
	}
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTemplateFile: a template file gives the text (and the title, when
// it defines one); one that does not parse, does not run, or does not
// exist is refused before any run.
func TestTemplateFile(t *testing.T) {
	ev := UpgradeEvent("upgrade", testUpgrade(), nil)
	ev.Machine = "m1"
	file := writeFile(t, "t.tmpl", `{{define "title"}}[{{.Status}}] {{.Machine}}{{end}}{{.Command}}: {{range .Steps}}{{.Container}}={{.Result}} {{end}}exit={{.ExitCode}} upgraded={{len .Report.results}}`)
	tm, err := LoadTemplate(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Render(tm, ev)
	if err != nil || m.Title != "[changed] m1" || m.Text != "upgrade: tars-node=upgraded exit=0 upgraded=1" {
		t.Errorf("%v: title %q text %q", err, m.Title, m.Text)
	}
	// Only a title: the default text stays.
	tm, err = LoadTemplate(writeFile(t, "title.tmpl", "{{define \"title\"}}T {{.Command}}{{end}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := Render(tm, ev); m.Title != "T upgrade" || !strings.HasPrefix(m.Text, "1 upgraded") {
		t.Errorf("title only: %q %q", m.Title, m.Text)
	}
	for name, tc := range map[string]struct{ file, want string }{
		"does not parse": {writeFile(t, "bad.tmpl", "{{.Summary"), "does not parse: template: message:1: unclosed action"},
		"no such field":  {writeFile(t, "field.tmpl", "{{.Containers}}"), "does not run: text: template: message:1:2: executing \"message\" at <.Containers>: can't evaluate field Containers"},
		"no such file":   {filepath.Join(t.TempDir(), "nope.tmpl"), "no such file or directory: give a readable Go text/template file"},
	} {
		if _, err := LoadTemplate(tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestTemplateFailsAtRunTime: a template that fails on a real event (here
// index out of range) gives the default message, and says why.
func TestTemplateFailsAtRunTime(t *testing.T) {
	tm, err := LoadTemplate(writeFile(t, "idx.tmpl", `{{(index .Steps 0).Container}}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Render(tm, UpgradeEvent("upgrade", report.Upgrade{}, nil))
	if err == nil || m.Text != "nothing to do\n\nexit 0" {
		t.Errorf("%v %q, want the default text and the error", err, m.Text)
	}
}

// TestNotifierSends: one run's notifications reach a robot, a library
// service (generic webhook) and the JSON receiver, each in its format.
func TestNotifierSends(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	log, logs := testLog()
	n, err := New(Config{
		URLs:    []string{"wecom://k3y-1?endpoint=" + srv.URL, "generic+" + srv.URL + "/generic?template=json"},
		JSONURL: srv.URL + "/json", Machine: "m1", Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := UpgradeEvent("upgrade", testUpgrade(), nil)
	if err := n.Notify(t.Context(), ev); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	by := map[string]recorded{}
	for _, r := range rc.got() {
		by[r.path] = r
	}
	if r := by["/cgi-bin/webhook/send"]; r.query != "key=k3y-1" || !strings.Contains(string(r.body), `"content":"**tarsup upgrade on m1: changed**\n1 upgraded`) {
		t.Errorf("wecom: %+v %s", r, r.body)
	}
	var generic map[string]string
	if r := by["/generic"]; json.Unmarshal(r.body, &generic) != nil || generic["title"] != "tarsup upgrade on m1: changed" || !strings.HasPrefix(generic["message"], "1 upgraded\n") {
		t.Errorf("generic: %+v %s", r, r.body)
	}
	if r := by["/json"]; r.contentType != "application/json" || !bytes.Equal(r.body, ev.ReportJSON()) {
		t.Errorf("--notify-url: %+v %s, want the report %s", r, r.body, ev.ReportJSON())
	}
	if len(rc.got()) != 3 {
		t.Errorf("%d requests, want 3", len(rc.got()))
	}
}

// TestNotifyOn: --notify-on picks the runs; the default is the runs that
// changed something or failed.
func TestNotifyOn(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	for on, want := range map[string]int{"": 2, "failed": 1, "changed": 1, "always": 3} {
		rc.reqs = nil
		n, err := New(Config{JSONURL: srv.URL, On: on})
		if err != nil {
			t.Fatal(err)
		}
		_ = n.Notify(t.Context(), UpgradeEvent("upgrade", testUpgrade(), nil))
		_ = n.Notify(t.Context(), UpgradeEvent("upgrade", report.Upgrade{}, errors.New("engine unreachable")))
		_ = n.Notify(t.Context(), UpgradeEvent("upgrade", report.Upgrade{}, nil))
		if got := len(rc.got()); got != want {
			t.Errorf("--notify-on %q: %d notifications, want %d", on, got, want)
		}
	}
}

// TestNotifyFailureIsLogged: a receiver that fails is logged at error
// level, named with its secrets redacted; the others are still notified.
func TestNotifyFailureIsLogged(t *testing.T) {
	good, bad := &receiver{}, &receiver{code: http.StatusBadGateway}
	gs, bs := httptest.NewServer(good), httptest.NewServer(bad)
	defer gs.Close()
	defer bs.Close()
	log, logs := testLog()
	n, err := New(Config{URLs: []string{"dingtalk://t0ken-abc?secret=SECsecret&endpoint=" + bs.URL, "wecom://k3y?endpoint=" + gs.URL}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(t.Context(), UpgradeEvent("upgrade", testUpgrade(), nil))
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("Notify: %v, want the 502", err)
	}
	if len(good.got()) != 1 {
		t.Errorf("the good receiver got %d", len(good.got()))
	}
	l := logs.String()
	if !strings.Contains(l, "level=error") || !strings.Contains(l, "dingtalk://***?endpoint=") || !strings.Contains(l, "exit code is not changed") {
		t.Errorf("log:\n%s", l)
	}
	for _, secret := range []string{"t0ken-abc", "SECsecret", "k3y"} {
		if strings.Contains(l, secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("%q in the log or error:\n%s\n%v", secret, l, err)
		}
	}
}

// TestNotifyTimeoutAndShutdown: a notification gets Timeout (10 s), and it
// is sent even when the process is shutting down (the run happened).
func TestNotifyTimeoutAndShutdown(t *testing.T) {
	if Timeout != 10*time.Second {
		t.Errorf("Timeout %s, want 10s (README)", Timeout)
	}
	rt := &recordingTransport{}
	n, err := New(Config{JSONURL: "http://receiver.invalid/hook", URLs: []string{"feishu://h?endpoint=http://receiver.invalid"}, Client: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := n.Notify(ctx, UpgradeEvent("upgrade", testUpgrade(), nil)); err != nil {
		t.Fatalf("Notify on a cancelled context: %v, want it sent", err)
	}
	if len(rt.deadlines) != 2 {
		t.Fatalf("%d requests, want 2", len(rt.deadlines))
	}
	for i, d := range rt.deadlines {
		if d > Timeout || d < Timeout-2*time.Second || rt.agents[i] != "tarsup" {
			t.Errorf("request %d: deadline in %s, User-Agent %q; want about %s and tarsup", i, d, rt.agents[i], Timeout)
		}
	}
}

type recordingTransport struct {
	mu        sync.Mutex
	deadlines []time.Duration
	agents    []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	d, _ := r.Context().Deadline()
	rt.mu.Lock()
	rt.deadlines = append(rt.deadlines, time.Until(d))
	rt.agents = append(rt.agents, r.Header.Get("User-Agent"))
	rt.mu.Unlock()
	return &http.Response{StatusCode: http.StatusNoContent, Status: "204 No Content", Body: http.NoBody, Request: r}, nil
}

// TestLibraryTimeout: a library service whose receiver does not answer
// is given up after the timeout (by its HTTP client, ours, or by Send).
func TestLibraryTimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	n, err := New(Config{URLs: []string{"generic+" + srv.URL + "/x"}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(t.Context(), UpgradeEvent("upgrade", testUpgrade(), nil))
	if err == nil || !strings.Contains(err.Error(), "notify generic+http://127.0.0.1:") || !strings.Contains(err.Error(), "deadline exceeded") && !strings.Contains(err.Error(), "Timeout exceeded") {
		t.Errorf("%v, want the receiver given up", err)
	}
}

// TestCheckURL: what --notify refuses, with errors that say what to write.
func TestCheckURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"foo://x", `unknown notification service "foo": use one of dingtalk, wecom, feishu, lark, bark,`},
		{"https://hooks.example.com/x", "use --notify-url https://"},
		{"::", "not a URL"},
		{"slack://%zz", "not a URL"},
		{"dingtalk://t?secret=%zz", "not a URL"},
		{"ntfy://", "ntfy:// names no receiver"},
		{"ntfy://ntfy.sh", "ntfy: topic is required (the library's documentation"},
		// The library takes these and fails only at the send, after the run.
		{"generic+https://", "generic+https:// names no receiver"},
		{"generic+http:///path", "generic+http:// names no receiver"},
		{"gotify://", "gotify:// names no receiver"},
		{"teams://", "teams:// names no receiver"},
		{"telegram://x@telegram", "telegram: invalid telegram token"},
		{"smtp+http://h", "custom URLs are not supported by service: 'smtp' service"},
	} {
		if err := CheckURL(tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
	for _, ok := range []string{"slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook", "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@ch,-1001",
		"smtp://u:p@smtp.example.com:587/?from=a@example.com&to=b@example.com,c@example.com", "discord://token@123456", "gotify://gotify.example.com/AbCdEf123",
		"ntfy://ntfy.sh/topic", "generic+https://hooks.example.com/x", "dingtalk://t?secret=s", "wecom://k", "feishu://h?secret=s", "lark://open.feishu.cn/h"} {
		if err := CheckURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"dingtalk://t0ken?secret=SEC1":                          "dingtalk://***?secret=***",
		"dingtalk://t0ken?endpoint=http://127.0.0.1:8080":       "dingtalk://***?endpoint=http://127.0.0.1:8080",
		"slack://hook:T0-B0-X@webhook":                          "slack://***@***",
		"smtp://u:p4ss@smtp.example.com:587/?from=a@b.c&to=d@e": "smtp://***@smtp.example.com:587?from=***&to=***",
		"http://user:pw@127.0.0.1:9/hook?token=abc":             "http://***@127.0.0.1:9/***?token=***",
		"::":                "***",
		"foo://%zz/secret1": "foo://***",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	raw := "telegram://110201543:AAHdq+TcvCH1vGWJ@telegram?chats=@ch&password=pw1"
	msg := `Post "https://api.telegram.org/bot110201543:AAHdq+TcvCH1vGWJ/sendMessage": x; ` + url2(raw) + " pw1"
	got := scrub(msg, secretsOf(raw))
	for _, s := range []string{"110201543", "AAHdq", "pw1"} {
		if strings.Contains(got, s) {
			t.Errorf("%q left in %q", s, got)
		}
	}
}

func url2(raw string) string { return strings.ReplaceAll(raw, "+", "%2B") }

// TestScrubSlackTokenReshaped: shoutrrr sends slack://hook:T-B-X@webhook to
// https://hooks.slack.com/services/T/B/X and quotes that URL in its
// errors; neither the token nor its parts may be left in the message.
func TestScrubSlackTokenReshaped(t *testing.T) {
	raw := "slack://hook:T00000000-B00000000-XXXXXXXXXXSECRETXXXXXXXXX@webhook"
	msg := `failed to invoke webhook: Post "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXSECRETXXXXXXXXX": dial tcp: no such host`
	got := scrub(msg, secretsOf(raw))
	for _, s := range []string{"SECRET", "T00000000", "B00000000"} {
		if strings.Contains(got, s) {
			t.Errorf("%q left in %q", s, got)
		}
	}
	if !strings.Contains(got, "hooks.slack.com") {
		t.Errorf("the receiver's host should stay, for the operator: %q", got)
	}
}

// TestLoadTemplateNotRegular: a FIFO (which would block the open forever,
// deaf to SIGTERM), a directory or a device is refused at once.
func TestLoadTemplateNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fifo, dir, "/dev/zero"} {
		if _, err := LoadTemplate(f); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("LoadTemplate(%s): %v, want not a regular file", f, err)
		}
	}
	big := filepath.Join(dir, "big.tmpl")
	if err := os.WriteFile(big, make([]byte, maxTemplateBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplate(big); err == nil || !strings.Contains(err.Error(), "more than a message template's") {
		t.Errorf("LoadTemplate(big): %v", err)
	}
}
