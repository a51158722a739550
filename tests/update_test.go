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
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/tests/testbed"
)

// The tests of issue 12 parts 4 and 5: "update available" in status, watch's
// metrics and /v1/status; digest pins; registry manners (429 retried,
// mirrors, one HEAD per repository:tag). All run on the main engine, with
// repositories under a prefix of their own (upRepo), so that the
// registry's log and the look-ups are theirs alone, and with --only, so
// that other runs' containers on the engine are neither probed nor looked
// up.

// upRow is one row of `tarsup status --format json`, with the update keys.
type upRow struct {
	Host         string `json:"host"`
	Name         string `json:"name"`
	ID           string `json:"id"`
	Role         string `json:"role"`
	Image        string `json:"image"`
	Version      string `json:"version"`
	Update       string `json:"update"`
	UpdateDetail string `json:"update_detail"`
}

// upRepo is a repository path of this test alone, e.g.
// "upd-1234-ab12cd34-status/tarscloud/tars-node".
func upRepo(test, repo string) string {
	return "upd-" + bed.RunID + "-" + test + "/" + repo
}

// upPush pushes one image of repo:tag with version and returns its
// reference and digest.
func upPush(t testing.TB, ctx context.Context, repo, tag, role, version string) (ref, digest string) {
	t.Helper()
	ref, digest, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: repo, Tag: tag, Role: role, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return ref, digest
}

func upOnly(names ...string) []string { return rfOnly(names...) }

func upConn() []string { return []string{"--host", bed.Local.Host, "--probe", "direct"} }

// upStatus runs `tarsup status --format json` with args and returns its
// rows by name (several hosts: by host and name).
func upStatus(t *testing.T, ctx context.Context, args ...string) map[string]upRow {
	t.Helper()
	res := testbed.Run(ctx, bed.Tarsup(t), append([]string{"status", "--format", "json"}, args...)...)
	if res.ExitCode != 0 {
		t.Fatalf("tarsup status %v: %s", args, res)
	}
	var rows []upRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		t.Fatalf("tarsup status --format json: %v\n%s", err, res)
	}
	out := map[string]upRow{}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out
}

// upWantUpdates checks the update column of the named rows.
func upWantUpdates(t *testing.T, rows map[string]upRow, want map[string]string) {
	t.Helper()
	for name, w := range want {
		r, ok := rows[name]
		if !ok {
			t.Errorf("status has no row %s: %v", name, rows)
			continue
		}
		if r.Update != w {
			t.Errorf("%s: update %q (%s), want %q", name, r.Update, r.UpdateDetail, w)
		}
	}
}

// upManifestRequests counts the registry's manifest and tag-list requests
// under prefix, by "METHOD path", and fails on a manifest GET: look-ups
// are HEADs.
func upManifestRequests(t *testing.T, prefix string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range bed.Registry.Requests() {
		if !strings.HasPrefix(r.Path, "/v2/"+prefix) {
			continue
		}
		if r.Method == http.MethodGet && strings.Contains(r.Path, "/manifests/") {
			t.Errorf("a manifest GET (%s): look-ups send HEADs only", r.Path)
		}
		n[r.Method+" "+r.Path]++
	}
	return n
}

// upWatch starts `tarsup watch` (its schedule far off: turns come from POST
// /v1/update) with args and returns its base URL and the bearer header.
func upWatch(t *testing.T, ctx context.Context, args ...string) (base, auth string, p *rfProc) {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("upd-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	all := append([]string{"watch", "--schedule", "@every 24h", "--http-addr", addr, "--http-token-file", token,
		"--lock", filepath.Join(dir, "tarsup.lock"), "--format", "json", "--log-format", "json"}, upConn()...)
	p = rfStart(t, ctx, append(all, args...)...)
	p.waitOutput(t, `"msg":"watching"`, 30*time.Second)
	return "http://" + addr, "Bearer upd-token", p
}

// upTurn runs one watch turn now and returns its report.
func upTurn(t *testing.T, base, auth string) map[string]any {
	t.Helper()
	code, body := wtHTTP(t, http.MethodPost, base+"/v1/update", auth)
	var rep map[string]any
	if err := json.Unmarshal([]byte(body), &rep); code != http.StatusOK || err != nil {
		t.Fatalf("POST /v1/update: %d %v\n%s", code, err, body)
	}
	return rep
}

// TestUpdateStatusAndMetrics: status's update column says none, digest
// moved (a new image pushed under the node's tag), newer tag (the newest
// release of the framework's major, another major with --any-major) and
// pinned; --offline asks no registry; watch's /metrics and /v1/status
// carry the same after a turn, which sends one manifest HEAD per
// repository:tag however many look-ups the turn makes (check, dry run,
// update state).
func TestUpdateStatusAndMetrics(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	fwRepo, nodeRepo := upRepo("status", testbed.FrameworkRepo), upRepo("status", testbed.NodeRepo)
	fw15, _ := upPush(t, ctx, fwRepo, "v3.0.15", testbed.RoleFramework, "v3.0.15")
	upPush(t, ctx, fwRepo, "v3.0.16", testbed.RoleFramework, "v3.0.16")
	node, nodeDigest := upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.15")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("upd-st-"), Subnet: bed.Local.Subnet(210), Nodes: 1, FrameworkImage: fw15, NodeImage: node})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name
	pinned := d.Run(testbed.ContainerSpec{Name: uniq("upd-st-pinned"), Image: bed.Registry.Addr + "/" + nodeRepo + "@" + nodeDigest, NoStart: true}).Name
	only := append(upOnly(fw, n1, pinned), upConn()...)

	upWantUpdates(t, upStatus(t, ctx, only...), map[string]string{fw: "newer tag v3.0.16", n1: "none", pinned: "pinned"})

	// The node's tag moves.
	upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.16")
	rows := upStatus(t, ctx, only...)
	upWantUpdates(t, rows, map[string]string{fw: "newer tag v3.0.16", n1: "digest moved", pinned: "pinned"})
	if r := rows[n1]; !strings.HasPrefix(r.UpdateDetail, "latest: sha256:") || r.Image != node || r.Version != "v3.0.15" {
		t.Errorf("%s: %+v, want the digests in update_detail, its image and version", n1, r)
	}
	if r := rows[fw]; r.UpdateDetail != "v3.0.15 -> v3.0.16" {
		t.Errorf("%s: update_detail %q", fw, r.UpdateDetail)
	}
	table := testbed.Run(ctx, bed.Tarsup(t), append([]string{"status"}, only...)...)
	if table.ExitCode != 0 || !strings.Contains(table.Stdout, "UPDATE") || !regexp.MustCompile(`(?m)^\S+\s+`+regexp.QuoteMeta(n1)+`\s.*\sdigest moved\s`).MatchString(table.Stdout) {
		t.Errorf("the table has no UPDATE column saying digest moved for %s: %s", n1, table)
	}

	// Another major: only with --any-major.
	upPush(t, ctx, fwRepo, "v4.0.0", testbed.RoleFramework, "v4.0.0")
	upWantUpdates(t, upStatus(t, ctx, only...), map[string]string{fw: "newer tag v3.0.16"})
	upWantUpdates(t, upStatus(t, ctx, append(only, "--any-major")...), map[string]string{fw: "newer tag v4.0.0"})

	// --offline: no registry request, the column empty ("-" in the table).
	bed.Registry.ResetRequests()
	upWantUpdates(t, upStatus(t, ctx, append(only, "--offline")...), map[string]string{fw: "", n1: "", pinned: ""})
	table = testbed.Run(ctx, bed.Tarsup(t), append([]string{"status", "--offline"}, only...)...)
	if !regexp.MustCompile(`(?m)^\S+\s+` + regexp.QuoteMeta(n1) + `\s.*\sv3\.0\.15\s+-\s`).MatchString(table.Stdout) {
		t.Errorf("status --offline: the UPDATE column is not -: %s", table)
	}
	if reqs := upManifestRequests(t, "upd-"+bed.RunID+"-status/"); len(reqs) != 0 {
		t.Errorf("status --offline asked the registry: %v", reqs)
	}

	// watch: one turn (monitor only), then the metrics and /v1/status.
	base, auth, _ := upWatch(t, ctx, append(upOnly(fw, n1, pinned), "--monitor-only")...)
	code, body := wtHTTP(t, http.MethodGet, base+"/v1/status", "")
	if code != http.StatusOK || !strings.Contains(body, `"update":"unknown","update_detail":"not looked up yet`) {
		t.Errorf("GET /v1/status before any turn: %d %s", code, body)
	}
	if got := wtMetric(t, base, `tarsup_update_available\{host="[^"]+",name="`+regexp.QuoteMeta(n1)+`",role="node"\}`); got != -1 {
		t.Errorf("tarsup_update_available of %s before any turn: %v, want none", n1, got)
	}
	bed.Registry.ResetRequests()
	if rep := upTurn(t, base, auth); rep["changed"] != true || rep["success"] != true {
		t.Errorf("the turn: %v, want success and changed (monitor only: would change)", rep)
	}
	series := func(name, role string) string {
		return `tarsup_update_available\{host="` + regexp.QuoteMeta(bed.Local.Host) + `",name="` + regexp.QuoteMeta(name) + `",role="` + role + `"\}`
	}
	for name, want := range map[string]float64{series(fw, "framework"): 1, series(n1, "node"): 1, series(pinned, "node"): 0} {
		if got := wtMetric(t, base, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	info := `tarsup_container_info\{host="` + regexp.QuoteMeta(bed.Local.Host) + `",name="` + regexp.QuoteMeta(n1) + `",role="node",image="` + regexp.QuoteMeta(node) + `",version="v3.0.15"\}`
	if got := wtMetric(t, base, info); got != 1 {
		t.Errorf("%s = %v, want 1", info, got)
	}
	if ts := wtMetric(t, base, "tarsup_last_check_timestamp_seconds"); ts < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("tarsup_last_check_timestamp_seconds = %v, want a recent time", ts)
	}
	var st []upRow
	code, body = wtHTTP(t, http.MethodGet, base+"/v1/status", "")
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/status: %d %v %s", code, err, body)
	}
	byName := map[string]upRow{}
	for _, r := range st {
		byName[r.Name] = r
	}
	upWantUpdates(t, byName, map[string]string{fw: "newer tag v3.0.16", n1: "digest moved", pinned: "pinned"})
	if r := byName[n1]; r.Image != node || r.Version != "v3.0.15" {
		t.Errorf("GET /v1/status %s: image %q version %q", n1, r.Image, r.Version)
	}

	// The turn's look-ups: one HEAD per repository:tag, however many parts
	// of the turn needed it; the pinned node's none.
	reqs := upManifestRequests(t, "upd-"+bed.RunID+"-status/")
	for _, r := range []string{"HEAD /v2/" + fwRepo + "/manifests/v3.0.15", "HEAD /v2/" + nodeRepo + "/manifests/latest", "GET /v2/" + fwRepo + "/tags/list"} {
		if reqs[r] != 1 {
			t.Errorf("%s sent %d times in the turn, want once: %v", r, reqs[r], reqs)
		}
	}
	if len(reqs) != 3 {
		t.Errorf("the turn asked %v, want just those three", reqs)
	}
}

// TestUpdatePinnedNeverMoved: containers on images named by digest
// (repo@sha256:…, repo:tag@sha256:…) are reported pinned and left alone by
// refresh and by a watch turn, even with --to-latest, while their tags and
// a newer release moved on; `upgrade --to` (an explicit request) moves a
// pinned framework.
func TestUpdatePinnedNeverMoved(t *testing.T) {
	ctx := t.Context()
	d := bed.On(ctx, t, bed.Local)
	fwRepo, nodeRepo := upRepo("pin", testbed.FrameworkRepo), upRepo("pin", testbed.NodeRepo)
	_, fwDigest := upPush(t, ctx, fwRepo, "v3.0.15", testbed.RoleFramework, "v3.0.15")
	_, nodeDigest := upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.15")
	fwPin := bed.Registry.Addr + "/" + fwRepo + "@" + fwDigest
	nodePin := bed.Registry.Addr + "/" + nodeRepo + ":latest@" + nodeDigest
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("upd-pin-"), Subnet: bed.Local.Subnet(211), Nodes: 1, FrameworkImage: fwPin, NodeImage: nodePin})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name
	only := append(upOnly(fw, n1), upConn()...)
	ids := func() [2]string {
		var out [2]string
		for i, n := range []string{fw, n1} {
			in, err := bed.Local.Client.ContainerInspect(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = in.ID
		}
		return out
	}
	before := ids()

	upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.16")
	upPush(t, ctx, fwRepo, "v3.0.16", testbed.RoleFramework, "v3.0.16")
	rows := upStatus(t, ctx, only...)
	upWantUpdates(t, rows, map[string]string{fw: "pinned", n1: "pinned"})
	if r := rows[n1]; r.Image != nodePin || !strings.Contains(r.UpdateDetail, "by digest") {
		t.Errorf("%s: %+v", n1, r)
	}

	bed.Registry.ResetRequests()
	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	res := rfRun(t, ctx, append([]string{"refresh", "--to-latest", "--lock", lock, "--format", "json"}, append(only, rfGate...)...)...)
	var rep struct {
		Changed bool `json:"changed"`
		Summary string
		Moved   []any `json:"moved"`
		Pinned  []struct{ Name, Image string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); res.ExitCode != 0 || err != nil {
		t.Fatalf("refresh: %v %s", err, res)
	}
	if rep.Changed || len(rep.Moved) != 0 || len(rep.Pinned) != 2 || !strings.HasSuffix(rep.Summary, "nothing moved, 2 pinned by digest (left alone)") {
		t.Errorf("refresh report %+v, want nothing moved and both pinned", rep)
	}
	if reqs := upManifestRequests(t, "upd-"+bed.RunID+"-pin/"); len(reqs) != 0 {
		t.Errorf("refresh looked up pinned images: %v", reqs)
	}

	base, auth, _ := upWatch(t, ctx, append(upOnly(fw, n1), append([]string{"--to-latest"}, rfGate...)...)...)
	if turn := upTurn(t, base, auth); turn["changed"] != false || turn["success"] != true {
		t.Errorf("watch turn: %v, want success and nothing changed", turn)
	}
	if after := ids(); after != before {
		t.Errorf("container IDs %v, were %v: a pinned container was recreated", after, before)
	}

	// An explicit --to or --node-image is the operator's own request: it
	// moves a pinned container (dry run; the node must move too, or the
	// version-skew rule refuses the framework alone).
	res = testbed.Run(ctx, bed.Tarsup(t), append([]string{"upgrade", "--to", "v3.0.16", "--node-image", bed.Registry.Addr + "/" + nodeRepo + ":latest", "--dry-run"}, only...)...)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, fw+": recreate") || !strings.Contains(res.Stdout, n1+": recreate") || !strings.Contains(res.Stdout, "v3.0.16") {
		t.Errorf("upgrade --to v3.0.16 --node-image --dry-run of pinned containers: %s", res)
	}
}

// upBusy is a reverse proxy in front of the bed's registry that answers the
// next n manifest HEADs 429 Too Many Requests with Retry-After: 1, as a
// registry enforcing a rate limit does.
type upBusy struct {
	mu    sync.Mutex
	n     int
	busy  int
	proxy http.Handler
}

func (b *upBusy) arm(n int) {
	b.mu.Lock()
	b.n, b.busy = n, 0
	b.mu.Unlock()
}

func (b *upBusy) answered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.busy
}

func (b *upBusy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	limited := r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") && b.n > 0
	if limited {
		b.n--
		b.busy++
	}
	b.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	b.proxy.ServeHTTP(w, r)
}

// upUntag removes an image reference the engine has, at the end of the
// test; registered before the Deployer, it runs after the containers went.
func upUntag(t *testing.T, ref string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := bed.Local.Client.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil && !strings.Contains(err.Error(), "No such image") {
			t.Errorf("remove image %s: %v", ref, err)
		}
	})
}

// TestUpdateRegistryRetries: a registry that answers 429 (Retry-After: 1)
// is asked again and then answers: status shows the update state, refresh
// succeeds and counts the retries; with fewer retries than it refuses,
// refresh fails as unreachable (exit 2, nothing changed) and status shows
// unknown.
func TestUpdateRegistryRetries(t *testing.T) {
	ctx := t.Context()
	target, err := url.Parse("http://" + bed.Registry.Addr)
	if err != nil {
		t.Fatal(err)
	}
	busy := &upBusy{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(busy)
	defer srv.Close()
	proxied := strings.TrimPrefix(srv.URL, "http://")

	nodeRepo := upRepo("retry", testbed.NodeRepo)
	upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.15")
	ref := proxied + "/" + nodeRepo + ":latest"
	upUntag(t, ref)
	d := bed.On(ctx, t, bed.Local)
	n := d.Run(testbed.ContainerSpec{Name: uniq("upd-retry-node"), Image: ref, NoStart: true}).Name
	only := append(upOnly(n), upConn()...)

	busy.arm(2)
	rows := upStatus(t, ctx, only...)
	upWantUpdates(t, rows, map[string]string{n: "none"})
	if busy.answered() != 2 {
		t.Errorf("the registry answered 429 %d times, want 2", busy.answered())
	}

	upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.16")
	busy.arm(2)
	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	res := rfRun(t, ctx, append([]string{"refresh", "--monitor-only", "--lock", lock, "--format", "json"}, only...)...)
	var rep struct {
		Success         bool  `json:"success"`
		RegistryRetries int   `json:"registry_retries"`
		Moved           []any `json:"moved"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); res.ExitCode != 0 || err != nil || !rep.Success || rep.RegistryRetries != 2 || len(rep.Moved) != 1 {
		t.Errorf("refresh through a registry that answered 429 twice: %+v %v\n%s", rep, err, res)
	}
	if !strings.Contains(res.Stderr, "429 Too Many Requests (Retry-After 1s): retry 1 of 3") {
		t.Errorf("the retries are not logged: %s", res.Stderr)
	}

	busy.arm(10)
	res = rfRun(t, ctx, append([]string{"refresh", "--monitor-only", "--registry-retries", "1", "--lock", lock}, only...)...)
	rfExit(t, res, 2, "429 Too Many Requests", "--registry-retries")
	busy.arm(10)
	rows = upStatus(t, ctx, append(only, "--registry-retries", "0")...)
	if r := rows[n]; r.Update != "unknown" || !strings.Contains(r.UpdateDetail, "429") {
		t.Errorf("status past its retries: %+v, want unknown saying 429", r)
	}
}

// TestUpdateMirror: the look-ups of a Docker Hub image (docker.io/...) go to
// --registry-mirror (here the bed's registry plays the mirror), a mirror
// that fails passing to the next. The engine here cannot pull from Docker
// Hub, so the container runs a local image tagged with the Docker Hub name:
// it has no digest from Docker Hub, and the test checks the look-up side
// (status and refresh --monitor-only ask the mirror, and succeed).
func TestUpdateMirror(t *testing.T) {
	ctx := t.Context()
	tag := "upd-" + bed.RunID
	bedRef, _ := upPush(t, ctx, testbed.NodeRepo, tag, testbed.RoleNode, "v3.0.15")
	hub := "tarscloud/tars-node:" + tag
	upUntag(t, hub)
	d := bed.On(ctx, t, bed.Local)
	d.Pull(bedRef)
	if err := bed.Local.Client.ImageTag(ctx, bedRef, hub); err != nil {
		t.Fatal(err)
	}
	n := d.Run(testbed.ContainerSpec{Name: uniq("upd-hub-node"), Image: hub, NoStart: true}).Name
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := closed.Addr().String()
	closed.Close()
	mirrors := []string{"--registry-mirror", "http://" + dead, "--registry-mirror", "http://" + bed.Registry.Addr}
	only := append(append(upOnly(n), upConn()...), mirrors...)

	bed.Registry.ResetRequests()
	res := testbed.Run(ctx, bed.Tarsup(t), append([]string{"status", "--format", "json"}, only...)...)
	var rows []upRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); res.ExitCode != 0 || err != nil || len(rows) != 1 {
		t.Fatalf("status: %v %s", err, res)
	}
	if r := rows[0]; r.Image != hub || r.Update != "unknown" || r.UpdateDetail != "its image has no digest from tarscloud/tars-node (built or loaded locally?)" {
		t.Errorf("status of a Docker Hub image through the mirror: %+v; want unknown for want of a Docker Hub digest, not a failed look-up", r)
	}
	if !strings.Contains(res.Stderr, "registry mirror failed") || !strings.Contains(res.Stderr, dead) {
		t.Errorf("the failed mirror is not logged: %s", res.Stderr)
	}
	heads := 0
	for _, r := range bed.Registry.Requests() {
		if r.Method == http.MethodHead && r.Path == "/v2/tarscloud/tars-node/manifests/"+tag {
			heads++
		}
	}
	if heads != 1 {
		t.Errorf("the mirror got %d HEADs of tarscloud/tars-node:%s, want 1: %v", heads, tag, bed.Registry.Requests())
	}

	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	res = rfRun(t, ctx, append([]string{"refresh", "--monitor-only", "--lock", lock, "--format", "json"}, only...)...)
	var rep struct {
		Success   bool `json:"success"`
		Unchecked []struct{ Name, Reason string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); res.ExitCode != 0 || err != nil || !rep.Success || len(rep.Unchecked) != 1 || rep.Unchecked[0].Name != n {
		t.Errorf("refresh --monitor-only of a Docker Hub image through the mirror: %+v %v\n%s", rep, err, res)
	}
}

// TestUpdateOneHEADAcrossEngines: status and refresh --monitor-only on two
// engine connections whose containers run the same repository:tags send
// one manifest HEAD per repository:tag. The two connections are the main
// engine's socket by two paths (/var/run and /run): tarsup sees two
// engines, each with the containers, and the registry log counts.
func TestUpdateOneHEADAcrossEngines(t *testing.T) {
	ctx := t.Context()
	if bed.Local.Host != "unix:///var/run/docker.sock" {
		t.Skipf("the main engine is %s: the test reaches it by two socket paths", bed.Local.Host)
	}
	if fi, err := os.Stat("/run/docker.sock"); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Skip("no /run/docker.sock")
	}
	d := bed.On(ctx, t, bed.Local)
	fwRepo, nodeRepo := upRepo("heads", testbed.FrameworkRepo), upRepo("heads", testbed.NodeRepo)
	fw15, _ := upPush(t, ctx, fwRepo, "v3.0.15", testbed.RoleFramework, "v3.0.15")
	node, _ := upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.15")
	stable, _ := upPush(t, ctx, nodeRepo, "stable", testbed.RoleNode, "v3.0.15")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("upd-hd-"), Subnet: bed.Local.Subnet(212), Nodes: 2, FrameworkImage: fw15, NodeImage: node})
	n3 := d.Run(testbed.ContainerSpec{Name: uniq("upd-hd-node3"), Image: stable, NoStart: true}).Name
	names := []string{dep.Framework.Name, dep.Nodes[0].Name, dep.Nodes[1].Name, n3}
	upPush(t, ctx, nodeRepo, "latest", testbed.RoleNode, "v3.0.16")
	two := append([]string{"--host", "unix:///var/run/docker.sock", "--host", "unix:///run/docker.sock", "--probe", "direct"}, upOnly(names...)...)
	want := []string{"HEAD /v2/" + fwRepo + "/manifests/v3.0.15", "HEAD /v2/" + nodeRepo + "/manifests/latest", "HEAD /v2/" + nodeRepo + "/manifests/stable"}
	check := func(what string, extra ...string) {
		t.Helper()
		reqs := upManifestRequests(t, "upd-"+bed.RunID+"-heads/")
		for _, r := range append(want, extra...) {
			if reqs[r] != 1 {
				t.Errorf("%s: %s sent %d times, want once: %v", what, r, reqs[r], reqs)
			}
		}
		if len(reqs) != len(want)+len(extra) {
			t.Errorf("%s asked %v, want only %v %v", what, reqs, want, extra)
		}
	}

	bed.Registry.ResetRequests()
	res := testbed.Run(ctx, bed.Tarsup(t), append([]string{"status", "--format", "json"}, two...)...)
	var rows []upRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); res.ExitCode != 0 || err != nil {
		t.Fatalf("status: %v %s", err, res)
	}
	hosts := map[string]int{}
	for _, r := range rows {
		hosts[r.Host]++
		if r.Name == dep.Nodes[0].Name && r.Update != "digest moved" {
			t.Errorf("%s on %s: update %q, want digest moved", r.Name, r.Host, r.Update)
		}
	}
	if len(hosts) != 2 || len(rows) != 2*len(names) {
		t.Fatalf("status on two connections: rows by host %v, want each container on both", hosts)
	}
	check("status on two engines", "GET /v2/"+fwRepo+"/tags/list")

	bed.Registry.ResetRequests()
	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	res = rfRun(t, ctx, append([]string{"refresh", "--monitor-only", "--lock", lock, "--format", "json"}, two...)...)
	var rep struct {
		Success bool  `json:"success"`
		Moved   []any `json:"moved"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); res.ExitCode != 0 || err != nil || !rep.Success || len(rep.Moved) != 4 {
		t.Errorf("refresh --monitor-only on two engines: %+v %v\n%s", rep, err, res)
	}
	check("refresh --monitor-only on two engines (the check and the dry run)")
}
