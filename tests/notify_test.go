//go:build e2e

package tests

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// The notification tests run real upgrades and refreshes on the main
// engine (subnets 180..184) whose notifications reach a receiver in this
// process on 127.0.0.1: each robot format (DingTalk and Feishu signed,
// WeCom), a generic webhook through the library, the JSON report, a
// template file, --notify-on; and the bad input that is refused before
// anything changes.

// ntRequest is one request the receiver got.
type ntRequest struct {
	Path, Query, ContentType string
	Body                     []byte
	At                       time.Time
}

// ntReceiver answers as the vendors do (errcode 0, code 0) and fails on
// /broken with 500.
type ntReceiver struct {
	mu   sync.Mutex
	reqs []ntRequest
}

func (rc *ntReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, ntRequest{r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), body, time.Now()})
	rc.mu.Unlock()
	switch {
	case r.URL.Path == "/broken":
		rw.WriteHeader(http.StatusInternalServerError)
	case strings.HasPrefix(r.URL.Path, "/open-apis/"):
		_, _ = io.WriteString(rw, `{"code":0,"msg":"success","data":{}}`)
	default:
		_, _ = io.WriteString(rw, `{"errcode":0,"errmsg":"ok"}`)
	}
}

// at returns the requests to path.
func (rc *ntReceiver) at(path string) []ntRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []ntRequest
	for _, r := range rc.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (rc *ntReceiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func (rc *ntReceiver) reset() {
	rc.mu.Lock()
	rc.reqs = nil
	rc.mu.Unlock()
}

func ntServe(t *testing.T) (*ntReceiver, string) {
	rc := &ntReceiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

// ntOne is the one request to path, decoded into v.
func ntOne(t *testing.T, rc *ntReceiver, path string, v any) ntRequest {
	t.Helper()
	got := rc.at(path)
	if len(got) != 1 {
		t.Fatalf("%d requests to %s, want 1", len(got), path)
	}
	if err := json.Unmarshal(got[0].Body, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, got[0].Body)
	}
	return got[0]
}

// ntHMAC is HMAC-SHA256 in base64, as the vendors' docs compute it.
func ntHMAC(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ntNoSecrets fails when the output of tarsup shows one of the secrets.
func ntNoSecrets(t *testing.T, r testbed.Result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("tarsup printed the secret %q:\n%s", s, r)
		}
	}
}

type ntDingTalk struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title, Text string
	} `json:"markdown"`
}

type ntWeCom struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

type ntFeishu struct {
	Timestamp string `json:"timestamp"`
	Sign      string `json:"sign"`
	MsgType   string `json:"msg_type"`
	Card      struct {
		Header struct {
			Title struct {
				Content string `json:"content"`
			} `json:"title"`
			Template string `json:"template"`
		} `json:"header"`
		Elements []struct {
			Tag, Content string
		} `json:"elements"`
	} `json:"card"`
}

// TestNotifyUpgradeFormats: one real upgrade notifies DingTalk (signed),
// WeCom, Feishu (signed), a generic webhook through the library and the
// JSON receiver, each in its format; a receiver that fails is logged and
// the exit code stays 0; no token or secret shows in the output.
func TestNotifyUpgradeFormats(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("ntf-"), Subnet: bed.Local.Subnet(180)})
	fw := dep.Framework.Name
	before := inspect(t, ctx, bed.Local, fw)
	rc, base := ntServe(t)
	const dtToken, dtSecret, wcKey, fsHook, fsSecret = "d7t0ken9", "SECd7s3cret", "wc-k3y-42", "fs-h00k-7", "fss3cret"
	ep := url.QueryEscape(base)
	start := time.Now()
	r := tarsup(t, ctx, slices.Concat([]string{"upgrade", "--host", bed.Local.Host, "--framework-image", bed.Images.Framework3016}, only(fw), gateFlags, []string{
		"--notify", "dingtalk://" + dtToken + "?secret=" + dtSecret + "&endpoint=" + ep,
		"--notify", "wecom://" + wcKey + "?endpoint=" + ep,
		"--notify", "feishu://" + fsHook + "?secret=" + fsSecret + "&endpoint=" + ep,
		"--notify", "generic+" + base + "/generic?template=json",
		"--notify", "generic+" + base + "/broken",
		"--notify-url", base + "/json",
	})...)
	end := time.Now()
	requireExit(t, r, 0, "upgraded")
	if after := inspect(t, ctx, bed.Local, fw); after.ID == before.ID {
		t.Fatalf("%s was not recreated", fw)
	}
	ntNoSecrets(t, r, dtToken, dtSecret, wcKey, fsHook, fsSecret)
	host, _ := os.Hostname()
	title := "tarsup upgrade on " + host + ": changed"
	line := "- " + fw + " on " + bed.Local.Host + ": v3.0.15 -> v3.0.16: upgraded"

	var dt ntDingTalk
	req := ntOne(t, rc, "/robot/send", &dt)
	q, _ := url.ParseQuery(req.Query)
	ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if q.Get("access_token") != dtToken || ts < start.UnixMilli() || ts > end.UnixMilli() || q.Get("sign") != ntHMAC(dtSecret, q.Get("timestamp")+"\n"+dtSecret) {
		t.Errorf("DingTalk query %q: want access_token, a timestamp of the run (ms) and its signature", req.Query)
	}
	if dt.MsgType != "markdown" || dt.Markdown.Title != title || !strings.HasPrefix(dt.Markdown.Text, "#### "+title+"\n\n1 upgraded\n") ||
		!strings.Contains(dt.Markdown.Text, line) || !strings.HasSuffix(dt.Markdown.Text, "exit 0") || !strings.HasPrefix(req.ContentType, "application/json") {
		t.Errorf("DingTalk message %+v (%s)\nwant title %q and the line %q", dt, req.ContentType, title, line)
	}

	var wc ntWeCom
	req = ntOne(t, rc, "/cgi-bin/webhook/send", &wc)
	if req.Query != "key="+wcKey || wc.MsgType != "markdown" || !strings.HasPrefix(wc.Markdown.Content, "**"+title+"**\n1 upgraded\n") || !strings.Contains(wc.Markdown.Content, line) {
		t.Errorf("WeCom %q %+v", req.Query, wc)
	}

	var fs ntFeishu
	ntOne(t, rc, "/open-apis/bot/v2/hook/"+fsHook, &fs)
	fts, _ := strconv.ParseInt(fs.Timestamp, 10, 64)
	if fts < start.Unix() || fts > end.Unix() || fs.Sign != ntHMAC(fs.Timestamp+"\n"+fsSecret, "") {
		t.Errorf("Feishu timestamp %q sign %q: want a time of the run (s) and its signature", fs.Timestamp, fs.Sign)
	}
	if fs.MsgType != "interactive" || fs.Card.Header.Title.Content != title || fs.Card.Header.Template != "green" ||
		len(fs.Card.Elements) != 1 || fs.Card.Elements[0].Tag != "markdown" || !strings.Contains(fs.Card.Elements[0].Content, line) {
		t.Errorf("Feishu card %+v", fs)
	}

	var gen map[string]string
	ntOne(t, rc, "/generic", &gen)
	if gen["title"] != title || !strings.Contains(gen["message"], line) {
		t.Errorf("generic webhook (shoutrrr): %v", gen)
	}

	var rep struct {
		Results []struct{ Container, Result string } `json:"results"`
	}
	ntOne(t, rc, "/json", &rep)
	if len(rep.Results) != 1 || rep.Results[0].Container != fw || rep.Results[0].Result != "upgraded" {
		t.Errorf("--notify-url: the upgrade's JSON report %+v", rep)
	}

	// The failing receiver: tried once, logged at error level, redacted.
	if n := len(rc.at("/broken")); n != 1 {
		t.Errorf("%d requests to the failing receiver, want 1", n)
	}
	if !strings.Contains(r.Stderr, "level=error") || !strings.Contains(r.Stderr, "generic+"+base+"/***") || !strings.Contains(r.Stderr, "exit code is not changed") {
		t.Errorf("the failed notification is not logged loudly:\n%s", r.Stderr)
	}
}

// TestNotifyRefreshTemplate: a refresh that recreates a node whose tag
// moved sends the --notify-template text; with --notify-on always, one that
// found nothing sends too; with the default, it does not. Then watch: the
// turn that upgrades notifies (DingTalk and --notify-url), the others not.
func TestNotifyRefreshTemplate(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	mirror := "e2e-notify-" + bed.RunID
	node := rfNodeRepo(t, ctx, mirror, "v3.0.15", "latest")[0]
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("ntr-"), Subnet: bed.Local.Subnet(181), Nodes: 1, NodeImage: node})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name
	rc, base := ntServe(t)
	tmpl := filepath.Join(t.TempDir(), "message.tmpl")
	writeText(t, tmpl, `{{define "title"}}{{.Command}} {{.Status}}{{end}}{{.Command}} on {{.Machine}}:{{range .Steps}} {{.Container}} {{.Result}};{{end}} moved={{len .Report.moved}} exit={{.ExitCode}}`+"\n")
	args := slices.Concat([]string{"refresh", "--host", bed.Local.Host, "--lock", filepath.Join(t.TempDir(), "tarsup.lock")}, only(fw, n1), gateFlags,
		[]string{"--notify", "wecom://k3y?endpoint=" + url.QueryEscape(base), "--notify-template", tmpl})
	host, _ := os.Hostname()

	if _, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: mirror + "/" + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.16"}); err != nil {
		t.Fatal(err)
	}
	before := inspect(t, ctx, bed.Local, n1)
	r := tarsup(t, ctx, append(args, "--notify-on", "always")...)
	requireExit(t, r, 0, "1 moved")
	if inspect(t, ctx, bed.Local, n1).ID == before.ID {
		t.Fatalf("%s was not recreated:\n%s", n1, r)
	}
	var wc ntWeCom
	ntOne(t, rc, "/cgi-bin/webhook/send", &wc)
	if want := "**refresh changed**\nrefresh on " + host + ": " + n1 + " upgraded; moved=1 exit=0"; wc.Markdown.Content != want {
		t.Errorf("template message\n%q\nwant\n%q", wc.Markdown.Content, want)
	}

	rc.reset()
	r = tarsup(t, ctx, append(args, "--notify-on", "always")...)
	requireExit(t, r, 0, "nothing moved")
	ntOne(t, rc, "/cgi-bin/webhook/send", &wc)
	if want := "**refresh unchanged**\nrefresh on " + host + ": moved=0 exit=0"; wc.Markdown.Content != want {
		t.Errorf("nothing moved, --notify-on always:\n%q\nwant\n%q", wc.Markdown.Content, want)
	}
	rc.reset()
	r = tarsup(t, ctx, args...)
	requireExit(t, r, 0, "nothing moved")
	if rc.count() != 0 {
		t.Errorf("nothing moved, default --notify-on: %d notifications, want none", rc.count())
	}

	// watch: each turn notifies as a refresh does; turns that find nothing
	// send nothing; --notify-url gets the refresh report as before.
	w := rfStart(t, ctx, slices.Concat([]string{"watch", "--schedule", "@every 1s", "--host", bed.Local.Host, "--lock", filepath.Join(t.TempDir(), "tarsup.lock")},
		only(fw, n1), gateFlags, []string{"--notify", "dingtalk://t0k?secret=SECw&endpoint=" + url.QueryEscape(base), "--notify-url", base + "/json"})...)
	w.waitOutput(t, "watching", 30*time.Second)
	w.waitOutput(t, "nothing moved", 30*time.Second)
	if _, _, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: mirror + "/" + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.17"}); err != nil {
		t.Fatal(err)
	}
	wtEventually(t, "watch's notifications", 90*time.Second, func() bool { return len(rc.at("/robot/send")) == 1 && len(rc.at("/json")) == 1 }, w)
	turns := strings.Count(w.stderr.String(), "nothing moved")
	wtEventually(t, "two more turns", 30*time.Second, func() bool { return strings.Count(w.stderr.String(), "nothing moved") >= turns+2 }, w)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("watch exited %d after SIGTERM\n%s", code, w.stderr)
	}
	var dt ntDingTalk
	ntOne(t, rc, "/robot/send", &dt)
	if dt.Markdown.Title != "tarsup watch on "+host+": changed" || !strings.Contains(dt.Markdown.Text, "- "+n1+" on "+bed.Local.Host+": latest -> latest (") {
		t.Errorf("watch's message: %+v", dt)
	}
	var rep wtReport
	ntOne(t, rc, "/json", &rep)
	if !rep.Success || !rep.Changed || rep.Upgraded != 1 || !strings.Contains(rep.Summary, "1 moved") {
		t.Errorf("watch's --notify-url report: %+v", rep)
	}
	ntNoSecrets(t, testbed.Result{Stdout: w.stdout.String(), Stderr: w.stderr.String()}, "t0k", "SECw")
}

// TestNotifyOnFailed: with --notify-on failed, an upgrade that succeeds
// sends nothing, and one whose gate fails (rolled back, exit 1) sends its
// message (signed DingTalk), naming the container and the exit code.
func TestNotifyOnFailed(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("ntfail-"), Subnet: bed.Local.Subnet(182)})
	fw := dep.Framework.Name
	rc, base := ntServe(t)
	notify := []string{"--notify", "dingtalk://t0k?secret=SECx&endpoint=" + url.QueryEscape(base), "--notify-on", "failed"}
	// A short health timeout: the broken image's gate fails in 6 s.
	gate := []string{"--health-timeout", "6s", "--monitor", "2s", "--stop-timeout", "5s", "--lock-wait", "10m"}
	up := func(image string) testbed.Result {
		return tarsup(t, ctx, slices.Concat([]string{"upgrade", "--host", bed.Local.Host, "--framework-image", image}, only(fw), gate, notify)...)
	}

	requireExit(t, up(bed.Images.Framework3016), 0, "upgraded")
	if rc.count() != 0 {
		t.Fatalf("a good upgrade with --notify-on failed sent %d notifications", rc.count())
	}

	before := inspect(t, ctx, bed.Local, fw)
	r := up(bed.Images.FrameworkNeverHealthy)
	requireExit(t, r, 1, "rolled back")
	if after := inspect(t, ctx, bed.Local, fw); after.ID != before.ID || !after.State.Running {
		t.Fatalf("the old container is not back: %s running=%v", after.ID, after.State.Running)
	}
	var dt ntDingTalk
	ntOne(t, rc, "/robot/send", &dt)
	host, _ := os.Hostname()
	if title := "tarsup upgrade on " + host + ": failed (exit 1)"; dt.Markdown.Title != title ||
		!strings.Contains(dt.Markdown.Text, "- "+fw+" on "+bed.Local.Host+": v3.0.16 -> v3.0.16-neverhealthy: rolled back (") ||
		!strings.Contains(dt.Markdown.Text, "1 rolled back; failed: ") || !strings.HasSuffix(dt.Markdown.Text, "exit 1") {
		t.Errorf("the failed upgrade's message: %+v", dt)
	}
}

// TestNotifyComposeUpgrade: compose upgrade notifies too, with the compose
// report (files, upgrade, config hashes) as the JSON report.
func TestNotifyComposeUpgrade(t *testing.T) {
	ctx := t.Context()
	subnet := bed.Local.Subnet(184)
	ip := func(n int) string { return testbed.HostIP(subnet, n) }
	nodeTag := "notify-" + bed.RunID
	floatingNode(t, ctx, nodeTag, "v3.0.16")
	prefix := uniq("ntc-")
	p := newComposeProject(t, bed.Local, t.TempDir(), "e2e-"+bed.RunID+"-ntc", "tarsdocs.yaml", map[string]string{
		"PREFIX": prefix, "SUBNET": subnet, "IP2": ip(2), "IP3": ip(3), "IP5": ip(5), "NODE_TAG": nodeTag,
	})
	p.up(ctx, net.JoinHostPort(ip(3), "17890"), net.JoinHostPort(ip(5), "19385"))
	fw := prefix + "framework"
	rc, base := ntServe(t)
	r := tarsup(t, ctx, slices.Concat([]string{"compose", "upgrade", "-f", p.File, "-p", p.Name, "--host", bed.Local.Host, "--to", "v3.0.16"}, gateFlags,
		[]string{"--notify", "feishu://h00k?secret=s3c&endpoint=" + url.QueryEscape(base), "--notify-url", base + "/json"})...)
	requireExit(t, r, 0, "upgraded")
	var fs ntFeishu
	ntOne(t, rc, "/open-apis/bot/v2/hook/h00k", &fs)
	host, _ := os.Hostname()
	if fs.Card.Header.Title.Content != "tarsup compose upgrade on "+host+": changed" || !strings.Contains(fs.Card.Elements[0].Content, "- "+fw+" on "+bed.Local.Host+": v3.0.15 -> v3.0.16: upgraded") {
		t.Errorf("compose upgrade's card: %+v", fs)
	}
	var rep struct {
		Files   []struct{ Path, State string } `json:"files"`
		Upgrade struct {
			Results []struct{ Container, Result string } `json:"results"`
		} `json:"upgrade"`
		ConfigHashes []struct{ Container string } `json:"config_hashes"`
	}
	ntOne(t, rc, "/json", &rep)
	upgraded := false
	for _, res := range rep.Upgrade.Results {
		upgraded = upgraded || (res.Container == fw && res.Result == "upgraded")
	}
	if len(rep.Files) != 1 || rep.Files[0].Path != p.File || !upgraded || len(rep.ConfigHashes) != 1 || rep.ConfigHashes[0].Container != fw {
		t.Errorf("--notify-url: the compose report %+v", rep)
	}
	ntNoSecrets(t, r, "h00k", "s3c")
}

// TestNotifyBadInput: a notify URL of an unknown scheme or that does not
// parse, a template that does not exist or parse, a bad --notify-on: exit
// 2 before anything changes, one line naming the flag, on every command
// that notifies; no container changed, nothing was sent.
func TestNotifyBadInput(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	p := uniq("ntbad-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: bed.Local.Subnet(183), Nodes: 1})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name
	rc, base := ntServe(t)
	dir := t.TempDir()
	badTmpl := filepath.Join(dir, "bad.tmpl")
	writeText(t, badTmpl, "{{range .Steps}}")
	good := "wecom://k?endpoint=" + url.QueryEscape(base)
	before := snapshot(t, ctx, bed.Local, p)
	lock := filepath.Join(dir, "tarsup.lock")
	commands := map[string][]string{
		"upgrade":         slices.Concat([]string{"upgrade", "--framework-image", bed.Images.Framework3016}, only(fw, n1)),
		"compose upgrade": {"compose", "upgrade", "-f", filepath.Join(dir, "compose.yaml"), "--to", "v3.0.16"},
		"refresh":         slices.Concat([]string{"refresh", "--lock", lock}, only(fw, n1)),
		"watch":           slices.Concat([]string{"watch", "--schedule", "@every 1s", "--lock", lock}, only(fw, n1)),
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--notify", "mattermoss://t0ken@chat.example.com/x"}, `bad --notify mattermoss://***@chat.example.com/***: unknown notification service "mattermoss"`},
		{[]string{"--notify", "dingtalk://t0ken?secret=%zz"}, "bad --notify dingtalk://***: not a URL"},
		{[]string{"--notify", good, "--notify-template", filepath.Join(dir, "missing.tmpl")}, "bad --notify-template " + filepath.Join(dir, "missing.tmpl") + ": open "},
		{[]string{"--notify", good, "--notify-template", badTmpl}, "bad --notify-template " + badTmpl + ": does not parse"},
		{[]string{"--notify", good, "--notify-on", "success"}, `bad --notify-on "success": use changed, failed, always, or changed,failed`},
	} {
		for name, cmd := range commands {
			t.Run(name+" "+strings.Join(tc.args[len(tc.args)-2:], " "), func(t *testing.T) {
				r := tarsup(t, ctx, slices.Concat(cmd, []string{"--host", bed.Local.Host}, tc.args)...)
				if r.ExitCode != 2 || r.Stdout != "" || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "see 'tarsup "+name+" --help'") {
					t.Errorf("want exit 2 and one line with %q, got %s", tc.want, r)
				}
				ntNoSecrets(t, r, "t0ken")
			})
		}
	}
	requireUnchanged(t, before, snapshot(t, ctx, bed.Local, p))
	if rc.count() != 0 {
		t.Errorf("%d notifications sent by refused runs", rc.count())
	}
}
