//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The attacks on issue 12's update column, registry manners and
// notifications, with the real binary: the ones that found a bug (a Slack
// token leaked by the library's error, a --notify URL without a host taken,
// a FIFO template that hung tarsup deaf to SIGTERM) and a representative
// few. Deployments go on extra engine 11.

// a12ClosedAddr is a loopback address nothing listens on.
func a12ClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// a12Receiver answers every request 500, but /close, whose connection it
// closes without an answer.
func a12Receiver(t *testing.T) (addr string, hits func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		if r.URL.Path == "/close" {
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestAttack12aNotifySecretsOnFailure: a refresh whose engine does not
// answer (exit 2) notifies, at --log-level debug, receivers that answer
// 500, close the connection, or cannot be resolved (Slack: the library
// quotes the URL it posted to, the token re-shaped into its path); no
// token, password or secret shows on stdout or stderr, the exit code is
// the run's.
func TestAttack12aNotifySecretsOnFailure(t *testing.T) {
	ctx := t.Context()
	rcv, hits := a12Receiver(t)
	urls := []string{
		"slack://hook:T0A12SECR9-B0A12SECR9-A12SLACKSECRETTOKENXXXXX@webhook",
		"generic+http://a12user:A12PASSWORD@" + rcv + "/A12HOOKPATH?token=A12QUERYTOKEN",
		"dingtalk://A12DINGTOKEN?secret=A12DINGSECRET&endpoint=http://" + rcv,
	}
	res := rfRun(t, ctx, "refresh", "--host", "tcp://"+a12ClosedAddr(t), "--lock", filepath.Join(t.TempDir(), "l"),
		"--notify", strings.Join(urls, " "), "--notify-url", "http://a12:A12JSONPASS@"+rcv+"/close?key=A12JSONKEY",
		"--notify-on", "always", "--log-level", "debug", "--format", "json")
	rfExit(t, res, 2, "does not answer", "failed notification")
	ntNoSecrets(t, res, "A12SLACKSECRETTOKEN", "T0A12SECR9", "B0A12SECR9", "A12PASSWORD", "A12HOOKPATH", "A12QUERYTOKEN",
		"A12DINGTOKEN", "A12DINGSECRET", "A12JSONPASS", "A12JSONKEY")
	if !strings.Contains(res.Stderr, "hooks.slack.com") {
		t.Errorf("the Slack failure should still name the receiver's host: %s", res)
	}
	if hits() != 3 {
		t.Errorf("the receiver got %d requests, want 3 (generic, DingTalk, the JSON report)", hits())
	}
}

// TestAttack12aNotifyBadInput: input refused before anything runs (exit
// 2, naming the flag): a --notify URL without a host (the library took
// generic+https:// and failed only after the run), DingTalk without a
// token, an empty --notify, a template that is a FIFO (opening it blocked
// tarsup forever, deaf to SIGTERM) or a directory, a stray argument, a
// flag given twice.
func TestAttack12aNotifyBadInput(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.tmpl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	host := []string{"--host", "tcp://" + a12ClosedAddr(t), "--lock", filepath.Join(dir, "l")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--notify", "generic+https://"}, "bad --notify generic+https://: generic+https:// names no receiver"},
		{[]string{"--notify", "gotify://"}, "bad --notify gotify://"},
		{[]string{"--notify", "dingtalk://"}, "bad --notify dingtalk://: DingTalk's token"},
		{[]string{"--notify", ""}, "bad --notify"},
		{[]string{"--notify", "dingtalk://tok", "--notify-template", fifo}, "is not a regular file"},
		{[]string{"--notify", "dingtalk://tok", "--notify-template", dir}, "is not a regular file"},
		{[]string{"--notify", "dingtalk://tok", "stray"}, `unexpected argument "stray"`},
		{[]string{"--notify", "dingtalk://tok", "--notify-on", "always", "--notify-on", "failed"}, "--notify-on given twice"},
		{[]string{"--registry-retries", "1", "--registry-retries", "2"}, "--registry-retries given twice"},
	} {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		res := rfRun(t, cctx, append(append([]string{"refresh"}, host...), tc.args...)...)
		cancel()
		if res.ExitCode != 2 || !strings.Contains(res.Stderr, tc.want) || strings.Contains(res.Stderr, "does not answer") {
			t.Errorf("refresh %v: want exit 2 saying %q before the engine is asked: %s", tc.args, tc.want, res)
		}
	}
}

// a12Registry is a proxy in front of the bed's registry whose manifest
// HEADs answer as mode says: "429" with Retry-After: 99999, "garbage" 429
// with an unreadable Retry-After, "nodigest" 200 without a digest header,
// "" as the registry does.
type a12Registry struct {
	mu    sync.Mutex
	mode  string
	heads int
	proxy http.Handler
}

func (g *a12Registry) set(mode string) {
	g.mu.Lock()
	g.mode, g.heads = mode, 0
	g.mu.Unlock()
}

func (g *a12Registry) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heads
}

func (g *a12Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	head := r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/")
	mode := g.mode
	if head {
		g.heads++
	}
	g.mu.Unlock()
	switch {
	case !head || mode == "":
		g.proxy.ServeHTTP(w, r)
	case mode == "429":
		w.Header().Set("Retry-After", "99999")
		w.WriteHeader(http.StatusTooManyRequests)
	case mode == "garbage":
		w.Header().Set("Retry-After", "soon, maybe")
		w.WriteHeader(http.StatusTooManyRequests)
	case mode == "nodigest":
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
	}
}

// TestAttack12aStatusRegistryManners: status of a node whose registry
// answers 429 with Retry-After: 99999 (not waited for: unknown at once,
// exit 0), 429 with a Retry-After it cannot read (retried with its own
// backoff, then unknown), 200 without a digest (unknown, never "none");
// --offline sends no request; an unreachable registry is unknown too.
func TestAttack12aStatusRegistryManners(t *testing.T) {
	bed.Parallel(t, 11)
	ctx := t.Context()
	e, conn := extraEngine(t, ctx, 11)
	target, err := url.Parse("http://" + bed.Registry.Addr)
	if err != nil {
		t.Fatal(err)
	}
	reg := &a12Registry{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	proxied := strings.TrimPrefix(srv.URL, "http://")
	repo := upRepo("a12", testbed.NodeRepo)
	upPush(t, ctx, repo, "latest", testbed.RoleNode, "v3.0.15")
	d := bed.On(ctx, t, e)
	n := d.Run(testbed.ContainerSpec{Name: uniq("a12-node"), Image: proxied + "/" + repo + ":latest", NoStart: true}).Name
	only := append(upOnly(n), conn...)

	for _, tc := range []struct {
		mode, retries, detail string
		minHeads, maxHeads    int
	}{
		{"", "3", "", 1, 1},
		{"429", "3", "429", 1, 1},
		{"garbage", "1", "429", 2, 2},
		{"nodigest", "0", "", 1, 1},
	} {
		reg.set(tc.mode)
		rows := upStatus(t, ctx, append(only, "--registry-retries", tc.retries)...)
		r := rows[n]
		want := "unknown"
		if tc.mode == "" {
			want = "none"
		}
		if r.Update != want || !strings.Contains(r.UpdateDetail, tc.detail) {
			t.Errorf("registry %q: update %q (%s), want %q saying %q", tc.mode, r.Update, r.UpdateDetail, want, tc.detail)
		}
		if h := reg.count(); h < tc.minHeads || h > tc.maxHeads {
			t.Errorf("registry %q: %d manifest HEADs, want %d..%d", tc.mode, h, tc.minHeads, tc.maxHeads)
		}
	}

	reg.set("")
	rows := upStatus(t, ctx, append(only, "--offline")...)
	if r := rows[n]; r.Update != "" || reg.count() != 0 {
		t.Errorf("--offline: update %q, %d HEADs; want none asked", r.Update, reg.count())
	}
	srv.Close()
	rows = upStatus(t, ctx, only...)
	if r := rows[n]; r.Update != "unknown" {
		t.Errorf("an unreachable registry: update %q (%s), want unknown", r.Update, r.UpdateDetail)
	}
}

// a12Metrics checks that body is Prometheus text exposition: every line a
// comment (# HELP / # TYPE name ...) or `name{labels} value` with a
// float value and well-formed labels, every sample's family typed before.
func a12Metrics(t *testing.T, body string) map[string]int {
	t.Helper()
	typed := map[string]bool{}
	families := map[string]int{}
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		if strings.HasPrefix(l, "# ") {
			f := strings.Fields(l)
			if len(f) < 3 || (f[1] != "HELP" && f[1] != "TYPE") {
				t.Errorf("bad comment line %q", l)
			} else if f[1] == "TYPE" {
				typed[f[2]] = true
			}
			continue
		}
		name, rest := l, ""
		if i := strings.IndexAny(l, "{ "); i > 0 {
			name, rest = l[:i], l[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 || !a12Labels(rest[1:end]) {
				t.Errorf("bad labels in %q", l)
				continue
			}
			rest = rest[end+1:]
		}
		var v float64
		if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &v); err != nil && strings.TrimSpace(rest) != "NaN" {
			t.Errorf("bad value in %q: %v", l, err)
		}
		if !typed[name] {
			t.Errorf("sample %q before its # TYPE", l)
		}
		families[name]++
	}
	return families
}

// a12Labels reports whether s is `k="v",k="v"` with Go-quoted values.
func a12Labels(s string) bool {
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" || !strings.HasPrefix(rest, `"`) {
			return false
		}
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				i++
			}
		}
		if i >= len(rest) {
			return false
		}
		s = strings.TrimPrefix(rest[i+1:], ",")
	}
	return true
}

// TestAttack12aMetricsParseWithPin: a watch turn (--to-latest,
// --monitor-only) on engine 11 over a node whose tag moved, a node pinned
// by digest (whose digest the registry no longer serves under any tag),
// and a node whose image was deleted locally: /metrics is Prometheus text
// that parses, with update_available 1 for the moved node and 0 for the
// pinned one; nothing is recreated.
func TestAttack12aMetricsParseWithPin(t *testing.T) {
	bed.Parallel(t, 11)
	ctx := t.Context()
	e, conn := extraEngine(t, ctx, 11)
	d := bed.On(ctx, t, e)
	repo := upRepo("a12m", testbed.NodeRepo)
	ref, _ := upPush(t, ctx, repo, "latest", testbed.RoleNode, "v3.0.15")
	_, pinDigest := upPush(t, ctx, repo, "pin", testbed.RoleNode, "v3.0.14")
	goneRef, _ := upPush(t, ctx, repo, "gone", testbed.RoleNode, "v3.0.13")
	moved := d.Run(testbed.ContainerSpec{Name: uniq("a12m-moved"), Image: ref, NoStart: true}).Name
	pinned := d.Run(testbed.ContainerSpec{Name: uniq("a12m-pinned"), Image: bed.Registry.Addr + "/" + repo + "@" + pinDigest, NoStart: true}).Name
	gone := d.Run(testbed.ContainerSpec{Name: uniq("a12m-gone"), Image: goneRef, NoStart: true}).Name
	if _, err := e.Client.ImageRemove(ctx, goneRef, image.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	upPush(t, ctx, repo, "latest", testbed.RoleNode, "v3.0.16")
	upPush(t, ctx, repo, "pin", testbed.RoleNode, "v3.0.16")
	idOf := func(n string) string {
		in, err := e.Client.ContainerInspect(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return in.ID
	}
	before := idOf(moved) + idOf(pinned) + idOf(gone)

	rows := upStatus(t, ctx, append(upOnly(moved, pinned, gone), conn...)...)
	upWantUpdates(t, rows, map[string]string{moved: "digest moved", pinned: "pinned"})
	if _, ok := rows[gone]; !ok {
		t.Errorf("status lost the container whose image was deleted: %v", rows)
	}

	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("a12-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := a12ClosedAddr(t)
	p := rfStart(t, ctx, append(append([]string{"watch", "--schedule", "@every 24h", "--http-addr", addr, "--http-token-file", token,
		"--lock", filepath.Join(dir, "l"), "--format", "json", "--log-format", "json", "--monitor-only", "--to-latest"}, conn...),
		upOnly(moved, pinned, gone)...)...)
	p.waitOutput(t, `"msg":"watching"`, 30*time.Second)
	turn := upTurn(t, "http://"+addr, "Bearer a12-token")
	if turn["changed"] != true {
		t.Errorf("watch turn: %v, want the moved node as would change", turn)
	}
	code, body := wtHTTP(t, http.MethodGet, "http://"+addr+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	fam := a12Metrics(t, body)
	if fam["tarsup_update_available"] == 0 || fam["tarsup_container_info"] == 0 || fam["tarsup_last_check_timestamp_seconds"] != 1 {
		t.Errorf("metrics families %v lack the per-container series:\n%s", fam, body)
	}
	for n, want := range map[string]string{moved: "1", pinned: "0"} {
		if !strings.Contains(body, `name="`+n+`",role="node"} `+want+"\n") {
			t.Errorf("tarsup_update_available of %s is not %s:\n%s", n, want, body)
		}
	}
	if after := idOf(moved) + idOf(pinned) + idOf(gone); after != before {
		t.Errorf("a --monitor-only watch recreated a container")
	}
}

// TestAttack12aStatusCrowd: status on an engine with a crowd of
// containers that are not Tars (names this test did not pick: the
// engine's own, created without a name) looks up only the Tars node: one
// manifest HEAD, however many others there are, all from the same
// registry; none of them is a row.
func TestAttack12aStatusCrowd(t *testing.T) {
	bed.Parallel(t, 11)
	ctx := t.Context()
	e, conn := extraEngine(t, ctx, 11)
	target, err := url.Parse("http://" + bed.Registry.Addr)
	if err != nil {
		t.Fatal(err)
	}
	reg := &a12Registry{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	proxied := strings.TrimPrefix(srv.URL, "http://")
	nodeRepo, crowdRepo := upRepo("a12c", testbed.NodeRepo), upRepo("a12c", testbed.NginxRepo)
	upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.15")
	upPush(t, ctx, crowdRepo, "latest", testbed.RoleIdle, "1.25")
	d := bed.On(ctx, t, e)
	n := d.Run(testbed.ContainerSpec{Name: uniq("a12c-node"), Image: proxied + "/" + nodeRepo + ":latest", NoStart: true}).Name
	const crowd = 120
	for range crowd {
		d.Run(testbed.ContainerSpec{Image: proxied + "/" + crowdRepo + ":latest", NoStart: true})
	}
	reg.set("")
	res := testbed.Run(ctx, bed.Tarsup(t), append([]string{"status", "--format", "json"}, conn...)...)
	var rows []upRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); res.ExitCode != 0 || err != nil {
		t.Fatalf("status: %v %s", err, res)
	}
	found := false
	for _, r := range rows {
		if r.Name == n {
			found = r.Update == "none"
		} else if strings.Contains(r.Image, crowdRepo) {
			t.Errorf("a container that is not Tars is a row: %+v", r)
		}
	}
	if !found || reg.count() != 1 {
		t.Errorf("status of the node among %d others: found with none %v, %d manifest HEADs (want 1)\n%s", crowd, found, reg.count(), res)
	}
}
