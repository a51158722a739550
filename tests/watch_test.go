//go:build e2e

package tests

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// wtNotes collects the reports watch POSTs to --notify-url.
type wtNotes struct {
	mu    sync.Mutex
	notes []wtReport
}

type wtReport struct {
	Success  bool   `json:"success"`
	Changed  bool   `json:"changed"`
	Checked  int    `json:"checked"`
	Upgraded int    `json:"upgraded"`
	Summary  string `json:"summary"`
	Error    string `json:"error"`
}

func (n *wtNotes) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var rep wtReport
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&rep) != nil {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.notes = append(n.notes, rep)
	n.mu.Unlock()
}

func (n *wtNotes) get() []wtReport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]wtReport(nil), n.notes...)
}

// wtHTTP sends one request to the watch and returns the status and body.
func wtHTTP(t *testing.T, method, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// wtMetric reads one sample from the watch's /metrics; -1 when absent.
func wtMetric(t *testing.T, base, name string) float64 {
	t.Helper()
	code, body := wtHTTP(t, http.MethodGet, base+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("metric %s: %v", name, err)
	}
	return v
}

// wtEventually polls cond every 100 ms until it holds or timeout passes.
func wtEventually(t *testing.T, what string, timeout time.Duration, cond func() bool, p *rfProc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("%s: not after %s (watch running: %v)\nstdout:\n%s\nstderr:\n%s", what, timeout, p.running(), p.stdout, p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWatch runs `tarsup watch` on a schedule with its HTTP endpoints: it
// serves status and metrics, answers 401 to an update without the token and
// runs one with it, upgrades a node whose tag moved and notifies, and on
// SIGTERM during an upgrade lets the recreate finish, leaving one healthy
// container, and exits 0.
func TestWatch(t *testing.T) {
	ctx := t.Context()
	e, conn := rfEngine(t, ctx)
	d := bed.On(ctx, t, e)
	mirror := "e2e-watch"
	node := rfNodeRepo(t, ctx, mirror, "v3.0.15", "latest")[0]
	p := uniq("wt-")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(63), Nodes: 1, NodeImage: node})
	fw, n1 := dep.Framework.Name, dep.Nodes[0].Name

	notes := &wtNotes{}
	recv := httptest.NewServer(notes)
	defer recv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr

	args := append([]string{"watch", "--schedule", "@every 1s", "--http-addr", addr, "--http-token-file", tokenFile,
		"--notify-url", recv.URL, "--lock", filepath.Join(dir, "tarsup.lock"), "--format", "json", "--log-format", "json",
		"--health-timeout", "30s", "--monitor", "4s", "--stop-timeout", "5s"}, conn...)
	w := rfStart(t, ctx, append(args, rfOnly(fw, n1)...)...)
	w.waitOutput(t, `"msg":"watching"`, 30*time.Second)

	// The schedule runs refreshes; nothing moved yet.
	wtEventually(t, "a scheduled refresh", 30*time.Second, func() bool { return wtMetric(t, base, "tarsup_runs_total") >= 1 }, w)
	if s, c := wtMetric(t, base, "tarsup_last_run_success"), wtMetric(t, base, "tarsup_containers_checked"); s != 1 || c != 2 {
		t.Errorf("after a scheduled refresh: last_run_success %v, containers_checked %v; want 1 and 2", s, c)
	}
	if ts := wtMetric(t, base, "tarsup_last_run_timestamp_seconds"); ts < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("tarsup_last_run_timestamp_seconds %v is not a recent Unix time", ts)
	}

	// GET /v1/status: the rows of `tarsup status --format json`.
	code, body := wtHTTP(t, http.MethodGet, base+"/v1/status", "")
	var rows []struct {
		Name   string `json:"name"`
		Role   string `json:"role"`
		Health string `json:"health"`
	}
	if err := json.Unmarshal([]byte(body), &rows); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/status: %d %v\n%s", code, err, body)
	}
	health := map[string]string{}
	for _, r := range rows {
		health[r.Name] = r.Role + " " + r.Health
	}
	if health[fw] != "framework healthy" || health[n1] != "node healthy" {
		t.Errorf("status rows %v, want %s framework healthy and %s node healthy", health, fw, n1)
	}

	// POST /v1/update: 401 without the token or with a wrong one; with it, a
	// refresh runs now (409 only while a scheduled one is under way).
	for _, auth := range []string{"", "Bearer wrong-token", "s3cret-token"} {
		if code, body := wtHTTP(t, http.MethodPost, base+"/v1/update", auth); code != http.StatusUnauthorized {
			t.Errorf("POST /v1/update with Authorization %q: %d %s, want 401", auth, code, body)
		}
	}
	runs := wtMetric(t, base, "tarsup_runs_total")
	var rep wtReport
	for i := 0; ; i++ {
		code, body = wtHTTP(t, http.MethodPost, base+"/v1/update", "Bearer s3cret-token")
		if code != http.StatusConflict || i == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := json.Unmarshal([]byte(body), &rep); code != http.StatusOK || err != nil || !rep.Success || rep.Checked != 2 {
		t.Fatalf("POST /v1/update with the token: %d %v\n%s", code, err, body)
	}
	if after := wtMetric(t, base, "tarsup_runs_total"); after <= runs {
		t.Errorf("tarsup_runs_total %v after an update, was %v", after, runs)
	}
	if len(notes.get()) != 0 {
		t.Errorf("notified runs that changed nothing: %+v", notes.get())
	}

	// The node's tag moves: the schedule upgrades it and notifies.
	_, moved, err := bed.Images.Push(ctx, testbed.ImageSpec{Repo: mirror + "/" + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.16"})
	if err != nil {
		t.Fatal(err)
	}
	wtEventually(t, "a notification of the upgrade", 90*time.Second, func() bool { return len(notes.get()) >= 1 }, w)
	if n := notes.get()[0]; !n.Success || !n.Changed || n.Upgraded != 1 {
		t.Errorf("notification %+v, want a successful run that upgraded 1 container", n)
	}
	if ds := rfImageDigests(t, ctx, e, n1); !strings.Contains(strings.Join(ds, " "), "@"+moved) {
		t.Errorf("%s runs %v, want %s", n1, ds, moved)
	}
	if v := wtMetric(t, base, "tarsup_containers_upgraded_total"); v != 1 {
		t.Errorf("tarsup_containers_upgraded_total %v, want 1", v)
	}

	// It moves again; SIGTERM arrives while the new container is in its
	// health gate (the old one stopped and set aside): the recreate finishes,
	// no new step starts, and watch exits 0.
	fwBefore := rfState(t, ctx, e, fw)
	gates := strings.Count(w.stderr.String(), `"msg":"health gate"`)
	_, moved, err = bed.Images.Push(ctx, testbed.ImageSpec{Repo: mirror + "/" + testbed.NodeRepo, Tag: "latest", Role: testbed.RoleNode, Version: "v3.0.17"})
	if err != nil {
		t.Fatal(err)
	}
	wtEventually(t, "the second upgrade's health gate", 90*time.Second, func() bool {
		return strings.Count(w.stderr.String(), `"msg":"health gate"`) > gates
	}, w)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("watch exited %d after SIGTERM, want 0\nstderr:\n%s", code, w.stderr)
	}
	logs := w.stderr.String()
	for _, want := range []string{`"msg":"stopping`, `"msg":"stopped"`, `"result":"upgraded"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("watch logs lack %s:\n%s", want, logs)
		}
	}
	if stop, done := strings.Index(logs, `"msg":"stopping`), strings.LastIndex(logs, `"result":"upgraded"`); stop < 0 || stop > done {
		t.Errorf("SIGTERM did not arrive during the recreate (stopping at %d, last upgraded at %d): the test proves nothing\n%s", stop, done, logs)
	}
	if left := rfLeftovers(t, ctx, e, p); len(left) > 0 {
		t.Errorf("containers left aside after SIGTERM: %v", left)
	}
	in, err := e.Client.ContainerInspect(ctx, n1)
	if err != nil {
		t.Fatalf("after SIGTERM there is no %s: %v", n1, err)
	}
	if !in.State.Running || in.RestartCount != 0 {
		t.Errorf("%s after SIGTERM: %s, %d restarts; want running", n1, in.State.Status, in.RestartCount)
	}
	if ds := rfImageDigests(t, ctx, e, n1); !strings.Contains(strings.Join(ds, " "), "@"+moved) {
		t.Errorf("%s runs %v after SIGTERM, want the recreate under way finished (%s)", n1, ds, moved)
	}
	if err := testbed.WaitTCP(ctx, net.JoinHostPort(dep.Nodes[0].IP, "19385"), 10*time.Second); err != nil {
		t.Errorf("%s does not answer after SIGTERM: %v", n1, err)
	}
	if after := rfState(t, ctx, e, fw); after[fw] != fwBefore[fw] {
		t.Errorf("the framework was touched: %v -> %v", fwBefore, after)
	}
	if got := notes.get(); len(got) != 2 || !got[1].Changed || got[1].Upgraded != 1 {
		t.Errorf("notifications %+v, want a second one for the run SIGTERM let finish", got)
	}
}
