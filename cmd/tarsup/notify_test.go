package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotifyUsageErrors: a bad notification flag is exit 2 with one line
// naming the flag and the fix, on every command that notifies, before any
// engine is contacted; secrets in the URL are not repeated.
func TestNotifyUsageErrors(t *testing.T) {
	h := noEngine(t)
	dir := t.TempDir()
	badTmpl := filepath.Join(dir, "bad.tmpl")
	fieldTmpl := filepath.Join(dir, "field.tmpl")
	okTmpl := filepath.Join(dir, "ok.tmpl")
	for f, text := range map[string]string{badTmpl: "{{.Summary", fieldTmpl: "{{.Nope}}", okTmpl: "{{.Summary}}"} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.tmpl")
	for path, cmd := range map[string][]string{
		"tarsup upgrade": {"upgrade"}, "tarsup compose upgrade": {"compose", "upgrade"},
		"tarsup refresh": {"refresh"}, "tarsup watch": {"watch", "--schedule", "@daily"},
	} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--notify", "foo://t0ken"}, `bad --notify foo://***: unknown notification service "foo": use one of dingtalk, wecom, feishu, lark, bark,`},
			{[]string{"--notify", "::t0ken"}, "bad --notify ***: not a URL: write SCHEME://..."},
			{[]string{"--notify", "https://hooks.example.com/t0ken"}, "bad --notify https://hooks.example.com/***: unknown notification service \"https\": for a JSON POST of the report use --notify-url"},
			{[]string{"--notify", "dingtalk://t0ken?sekret=S3CRETVALUE"}, `bad --notify dingtalk://***?sekret=***: DingTalk takes no parameter "sekret": use secret=SEC, endpoint=URL`},
			{[]string{"--notify", "wecom://k", "--notify-template", missing}, "bad --notify-template " + missing + ": open " + missing + ": no such file or directory: give a readable Go text/template file"},
			{[]string{"--notify", "wecom://k", "--notify-template", badTmpl}, "bad --notify-template " + badTmpl + ": does not parse: template: message:1: unclosed action"},
			{[]string{"--notify", "wecom://k", "--notify-template", fieldTmpl}, "bad --notify-template " + fieldTmpl + ": does not run: text: template: message:1:2: executing \"message\" at <.Nope>: can't evaluate field Nope"},
			{[]string{"--notify", "wecom://k", "--notify-on", "sometimes"}, `bad --notify-on "sometimes": use changed, failed, always, or changed,failed (the default)`},
			{[]string{"--notify-on", "failed"}, `bad --notify-on "failed": it does nothing without --notify URL or --notify-url URL`},
			{[]string{"--notify-url", "http://127.0.0.1:1/x", "--notify-template", okTmpl}, "bad --notify-template " + okTmpl + ": it does nothing without --notify URL"},
			{[]string{"--notify-url", "ftp://x/t0ken"}, "bad --notify-url ftp://***/***: use an http:// or https:// URL"},
			{[]string{"--notify", "wecom://k", "--notify-on", "failed", "--notify-on", "always"}, `--notify-on given twice ("failed", then "always"): give it once`},
		} {
			args := append(append(append([]string{}, cmd...), "--host", h), tc.args...)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, out, errb := runCLI(t, args...)
				if code != exitBadInput || out != "" || strings.Count(errb, "\n") != 1 || !strings.Contains(errb, tc.want) || !strings.HasSuffix(errb, "; see '"+path+" --help'\n") {
					t.Errorf("exit %d, stdout %q, stderr\n%q\nwant exit 2 and one line with\n%q", code, out, errb, tc.want)
				}
				for _, secret := range []string{"t0ken", "S3CRETVALUE"} {
					if strings.Contains(errb, secret) {
						t.Errorf("the message repeats %q: %s", secret, errb)
					}
				}
			})
		}
	}
}

// TestNotifyFlagsPass: good notification flags pass the checks (the run
// goes on and fails on the engine, which does not exist); --notify
// repeats, and a URL's commas stay in it.
func TestNotifyFlagsPass(t *testing.T) {
	h := noEngine(t)
	tmpl := filepath.Join(t.TempDir(), "ok.tmpl")
	if err := os.WriteFile(tmpl, []byte(`{{define "title"}}{{.Status}}{{end}}{{.Summary}} exit {{.ExitCode}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errb := runCLI(t, "upgrade", "--host", h, "--notify", "smtp://u:p@smtp.example.com:587/?from=a@example.com&to=b@example.com,c@example.com",
		"--notify", "dingtalk://t?secret=s", "--notify-url", "http://127.0.0.1:1/x", "--notify-template", tmpl, "--notify-on", "failed")
	if code != exitBadInput || strings.Contains(errb, "bad --notify") || !strings.Contains(errb, "no-engine.sock") {
		t.Errorf("exit %d, stderr %q; want the engine's exit 2, no flag error", code, errb)
	}
}

func TestURLList(t *testing.T) {
	var l urlList
	for _, v := range []string{"a://x?to=1,2", "b://y  c://z\n", " "} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if len(l) != 4 || l[0] != "a://x?to=1,2" || l[2] != "c://z" || l[3] != " " {
		t.Errorf("%q, want the URLs whole, apart at white space, and an empty value kept", l)
	}
}

// TestNotifyFromEnvironment: $TARSUP_NOTIFY gives the URLs (so that no
// token shows in ps), checked as the flag's.
func TestNotifyFromEnvironment(t *testing.T) {
	t.Setenv("TARSUP_NOTIFY", "wecom://k foo://t0ken")
	code, _, errb := runCLI(t, "upgrade", "--host", noEngine(t))
	if code != exitBadInput || !strings.Contains(errb, `bad --notify foo://***: unknown notification service "foo"`) {
		t.Errorf("exit %d, stderr %q", code, errb)
	}
}
