package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/orchestrator"
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

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		header string
		want   int
	}{
		{"no token configured: the endpoint is off", "", "Bearer anything", http.StatusForbidden},
		{"no header", "s3cret", "", http.StatusUnauthorized},
		{"wrong token", "s3cret", "Bearer wrong!", http.StatusUnauthorized},
		{"a prefix of the token", "s3cret", "Bearer s3cre", http.StatusUnauthorized},
		{"the token and more", "s3cret", "Bearer s3cret2", http.StatusUnauthorized},
		{"another scheme", "s3cret", "Basic czNjcmV0", http.StatusUnauthorized},
		{"the token alone", "s3cret", "s3cret", http.StatusUnauthorized},
		{"right", "s3cret", "Bearer s3cret", http.StatusOK},
		{"scheme in any case", "s3cret", "bearer s3cret", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tok []byte
			if tt.token != "" {
				tok = []byte(tt.token)
			}
			if got, msg := authorize(tok, tt.header); got != tt.want {
				t.Errorf("got %d (%s), want %d", got, msg, tt.want)
			}
		})
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

func TestMetricsText(t *testing.T) {
	m := &metrics{}
	before := m.text()
	for _, name := range []string{"tarsup_last_run_timestamp_seconds", "tarsup_last_run_success", "tarsup_containers_checked"} {
		if !strings.Contains(before, "# TYPE "+name+" gauge\n") || strings.Contains(before, "\n"+name+" ") {
			t.Errorf("before any run, %s should have HELP and TYPE and no sample:\n%s", name, before)
		}
	}

	end := time.Unix(1764000000, 250e6)
	m.record(refreshJSON{RefreshCheck: orchestrator.RefreshCheck{Checked: 12}, Upgraded: 3}, nil, end)
	m.record(refreshJSON{RefreshCheck: orchestrator.RefreshCheck{Checked: 11}, Upgraded: 1, RolledBack: 1}, errors.New("rolled back"), end.Add(time.Hour))
	want := `# HELP tarsup_last_run_timestamp_seconds Unix time at which the last refresh ended.
# TYPE tarsup_last_run_timestamp_seconds gauge
tarsup_last_run_timestamp_seconds 1764003600.250
# HELP tarsup_last_run_success 1 if the last refresh succeeded, 0 if it failed.
# TYPE tarsup_last_run_success gauge
tarsup_last_run_success 0
# HELP tarsup_containers_checked Tars containers the last refresh compared with their registry.
# TYPE tarsup_containers_checked gauge
tarsup_containers_checked 11
# HELP tarsup_runs_total Refreshes run since start.
# TYPE tarsup_runs_total counter
tarsup_runs_total 2
# HELP tarsup_containers_upgraded_total Containers recreated on a new image since start.
# TYPE tarsup_containers_upgraded_total counter
tarsup_containers_upgraded_total 4
# HELP tarsup_containers_rolled_back_total Containers whose upgrade failed and was rolled back since start.
# TYPE tarsup_containers_rolled_back_total counter
tarsup_containers_rolled_back_total 1
# HELP tarsup_failures_total Refreshes that failed since start (an upgrade rolled back, an engine or registry unreachable, a refusal).
# TYPE tarsup_failures_total counter
tarsup_failures_total 1
`
	got := m.text()
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkExposition(t, got)
}

// checkExposition checks the text format's rules that Prometheus enforces:
// every sample has HELP and TYPE before it, names are valid, values parse.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	typed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || (f[1] != "gauge" && f[1] != "counter") {
				t.Errorf("bad TYPE line %q", line)
				continue
			}
			if strings.HasSuffix(f[0], "_total") != (f[1] == "counter") {
				t.Errorf("%s: counters, and only they, end in _total", f[0])
			}
			typed[f[0]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || !typed[name] || !strings.HasPrefix(name, "tarsup_") {
			t.Errorf("sample %q without TYPE, or not a tarsup_ metric", line)
		}
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			t.Errorf("sample %q: %v", line, err)
		}
	}
}

// fakeRuns is a refresh that reports what each call is told to and can be
// held until released, to test what happens during a run.
type fakeRuns struct {
	mu      sync.Mutex
	calls   int
	ctxs    []context.Context
	hold    chan struct{} // when set, a run waits for it to close
	started chan struct{} // receives once per run start
	rep     refreshJSON
	err     error
}

func (f *fakeRuns) refresh(ctx context.Context) (refreshJSON, error) {
	f.mu.Lock()
	f.calls++
	f.ctxs = append(f.ctxs, ctx)
	hold, rep, err := f.hold, f.rep, f.err
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	rep.Time = time.Now()
	return rep, err
}

func (f *fakeRuns) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func newTestWatcher(t *testing.T, f *fakeRuns, token string) (*watcher, *bytes.Buffer) {
	e, _, logs := testEnv()
	w := &watcher{
		e:        e,
		lockPath: filepath.Join(t.TempDir(), "tarsup.lock"),
		refresh:  f.refresh,
		status: func(context.Context) ([]orchestrator.StatusRow, error) {
			return []orchestrator.StatusRow{{Host: "unix:///var/run/docker.sock", Name: "tars-node1", Role: "node", State: "running", Health: "healthy", IPs: []string{}}}, nil
		},
		client:  &http.Client{Timeout: notifyTimeout},
		metrics: &metrics{},
	}
	if token != "" {
		w.token = []byte(token)
	}
	return w, logs
}

func do(t *testing.T, h http.Handler, method, path, auth string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWatchEndpoints(t *testing.T) {
	f := &fakeRuns{rep: refreshJSON{RefreshCheck: orchestrator.RefreshCheck{Checked: 4, Tags: 2}, Summary: "refresh: 4 containers checked, 2 tags, nothing moved"}}
	w, _ := newTestWatcher(t, f, "s3cret")
	h := w.handler(t.Context())

	rec := do(t, h, http.MethodGet, "/v1/status", "")
	var rows []orchestrator.StatusRow
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &rows) != nil || len(rows) != 1 || rows[0].Name != "tars-node1" {
		t.Errorf("GET /v1/status: %d %s", rec.Code, rec.Body)
	}

	for _, auth := range []string{"", "Bearer nope"} {
		rec = do(t, h, http.MethodPost, "/v1/update", auth)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("POST /v1/update with %q: %d, want 401 with WWW-Authenticate", auth, rec.Code)
		}
	}
	if f.count() != 0 {
		t.Fatalf("an unauthorized request ran a refresh")
	}
	rec = do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret")
	var rep refreshJSON
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &rep) != nil || rep.Checked != 4 {
		t.Errorf("POST /v1/update with the token: %d %s", rec.Code, rec.Body)
	}
	if f.count() != 1 {
		t.Errorf("refresh ran %d times, want 1", f.count())
	}
	if rec = do(t, h, http.MethodGet, "/v1/update", "Bearer s3cret"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/update: %d, want 405", rec.Code)
	}

	rec = do(t, h, http.MethodGet, "/metrics", "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") ||
		!strings.Contains(rec.Body.String(), "\ntarsup_last_run_success 1\n") || !strings.Contains(rec.Body.String(), "\ntarsup_containers_checked 4\n") {
		t.Errorf("GET /metrics: %d %s\n%s", rec.Code, rec.Header(), rec.Body)
	}
	checkExposition(t, rec.Body.String())

	// A failed run answers 500 with the report.
	f.err, f.rep.Error = errors.New("tars-node1 rolled back"), "tars-node1 rolled back"
	if rec = do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret"); rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "rolled back") {
		t.Errorf("failed run: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(do(t, h, http.MethodGet, "/metrics", "").Body.String(), "\ntarsup_failures_total 1\n") {
		t.Errorf("a failed run is not counted")
	}
}

func TestWatchUpdateOffWithoutToken(t *testing.T) {
	f := &fakeRuns{}
	w, _ := newTestWatcher(t, f, "")
	rec := do(t, w.handler(t.Context()), http.MethodPost, "/v1/update", "Bearer anything")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--http-token") || f.count() != 0 {
		t.Errorf("without a token: %d %s (%d runs), want 403 naming --http-token and no run", rec.Code, rec.Body, f.count())
	}
}

func TestWatchOneRunAtATime(t *testing.T) {
	f := &fakeRuns{hold: make(chan struct{}), started: make(chan struct{}, 1)}
	w, _ := newTestWatcher(t, f, "s3cret")
	h := w.handler(t.Context())
	first := make(chan int)
	go func() { first <- do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret").Code }()
	<-f.started
	if rec := do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret"); rec.Code != http.StatusConflict {
		t.Errorf("second update during a run: %d, want 409", rec.Code)
	}
	if _, err := w.runOnce(t.Context(), "schedule"); !errors.Is(err, errBusy) {
		t.Errorf("scheduled turn during a run: %v, want errBusy", err)
	}
	close(f.hold)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first update: %d", code)
	}
	if f.count() != 1 {
		t.Errorf("%d runs, want 1", f.count())
	}
}

func TestWatchRespectsTheRunLock(t *testing.T) {
	f := &fakeRuns{}
	w, _ := newTestWatcher(t, f, "s3cret")
	held, err := orchestrator.AcquireLock(w.lockPath, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	rec := do(t, w.handler(t.Context()), http.MethodPost, "/v1/update", "Bearer s3cret")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), w.lockPath) || f.count() != 0 {
		t.Errorf("with the lock held elsewhere: %d %s (%d runs), want 409 naming the lock and no run", rec.Code, rec.Body, f.count())
	}
}

func TestWatchNotifies(t *testing.T) {
	var mu sync.Mutex
	var got []refreshJSON
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var rep refreshJSON
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&rep) != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, rep)
		mu.Unlock()
	}))
	defer recv.Close()

	f := &fakeRuns{}
	w, logs := newTestWatcher(t, f, "")
	w.notifyURL = recv.URL
	run := func(rep refreshJSON, err error) {
		f.rep, f.err = rep, err
		_, _ = w.runOnce(t.Context(), "test")
	}
	run(refreshJSON{Summary: "nothing moved"}, nil)
	run(refreshJSON{Summary: "2 moved", Changed: true, Upgraded: 2}, nil)
	run(refreshJSON{Summary: "failed", Error: "registry unreachable"}, errors.New("registry unreachable"))
	mu.Lock()
	defer mu.Unlock()
	var summaries []string
	for _, r := range got {
		summaries = append(summaries, r.Summary)
	}
	if strings.Join(summaries, "|") != "2 moved|failed" {
		t.Errorf("notified %q, want the run that changed something and the failed one only\nlogs:\n%s", summaries, logs)
	}
}

func TestWatchNotifyFailureIsReported(t *testing.T) {
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusBadGateway) }))
	defer recv.Close()
	w, _ := newTestWatcher(t, &fakeRuns{}, "")
	w.notifyURL = recv.URL
	err := w.notify(t.Context(), refreshJSON{})
	if err == nil || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), recv.URL) {
		t.Errorf("notify to a failing receiver: %v", err)
	}
}

func TestWatchStopsAfterTheRunUnderWay(t *testing.T) {
	f := &fakeRuns{hold: make(chan struct{}), started: make(chan struct{}, 1)}
	w, logs := newTestWatcher(t, f, "s3cret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := parseSchedule("@yearly")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- w.serve(ctx, sched, "@yearly", ln) }()

	url := "http://" + ln.Addr().String()
	update := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/update", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			update <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		update <- resp.StatusCode
	}()
	<-f.started
	cancel() // SIGTERM
	select {
	case err := <-served:
		t.Fatalf("watch returned (%v) while a refresh was under way", err)
	case <-time.After(100 * time.Millisecond):
	}
	if f.ctxs[0].Err() == nil {
		t.Error("the run's context is not cancelled: the executor would start new steps")
	}
	close(f.hold)
	if err := <-served; err != nil {
		t.Errorf("watch returned %v, want nil (exit 0)", err)
	}
	if code := <-update; code != http.StatusOK {
		t.Errorf("the update under way answered %d, want 200", code)
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestRefreshAndWatchInput(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "tarsup.lock")
	held, err := orchestrator.AcquireLock(lock, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	// No engine answers at this socket: a run that got past its checks
	// would fail to connect, with another message.
	host := "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"refresh", "--host", host, "--to", "v3.0.16"}, "--to does not go with refresh"},
		{[]string{"refresh", "--host", host, "--node-image", "x"}, "--node-image does not go with refresh"},
		{[]string{"refresh", "--host", host, "--any-major"}, "--any-major needs --to-latest"},
		{[]string{"refresh", "--host", host, "--format", "yaml"}, "bad --format"},
		{[]string{"refresh", "--host", host, "--lock", lock}, fmt.Sprintf("holds the lock %s (PID %d)", lock, os.Getpid())},
		{[]string{"watch", "--host", host}, "watch needs --schedule"},
		{[]string{"watch", "--host", host, "--schedule", "every day"}, "bad --schedule"},
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
