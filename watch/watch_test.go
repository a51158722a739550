package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
	"github.com/tarsup/tarsup/notify"
	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/refresh"
)

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
			if got, msg := Authorize(tok, tt.header); got != tt.want {
				t.Errorf("got %d (%s), want %d", got, msg, tt.want)
			}
		})
	}
}

func TestMetricsText(t *testing.T) {
	m := &Metrics{}
	before := m.Text()
	for _, name := range []string{"tarsup_last_run_timestamp_seconds", "tarsup_last_run_success", "tarsup_containers_checked"} {
		if !strings.Contains(before, "# TYPE "+name+" gauge\n") || strings.Contains(before, "\n"+name+" ") {
			t.Errorf("before any run, %s should have HELP and TYPE and no sample:\n%s", name, before)
		}
	}

	end := time.Unix(1764000000, 250e6)
	m.Record(refresh.Report{RefreshCheck: plan.RefreshCheck{Checked: 12}, Upgraded: 3}, nil, end)
	ups := []orchestrator.ContainerUpdate{
		{Host: "h2", Name: "tars-node1", Role: "node", Image: "reg/tarscloud/tars-node:latest", Version: "v3.0.15", Update: plan.Update{State: plan.UpdateMoved}},
		{Host: "h1", Name: "tars-framework", Role: "framework", Image: "reg/tarscloud/framework:v3.0.15", Version: "v3.0.15", Update: plan.Update{State: plan.UpdateNewer("v3.0.16")}},
		{Host: "h1", Name: "tars-node2", Role: "node", Image: `reg/tarscloud/tars-node@sha256:ab"c`, Version: "v3.0.15", Update: plan.Update{State: plan.UpdatePinned}},
		{Host: "h1", Name: "tars-node3", Role: "node", Image: "reg/tarscloud/tars-node:stable", Version: "v3.0.15", Update: plan.Update{State: plan.UpdateUnknown}},
		{Host: "h1", Name: "tars-node4", Role: "node", Image: "reg/tarscloud/tars-node:full", Version: "v3.0.15", Update: plan.Update{State: plan.UpdateNone}},
		{Host: "h1", Name: "tars-mysql", Role: "db", Image: "mysql:5.7", Version: "5.7"},
	}
	m.Record(refresh.Report{RefreshCheck: plan.RefreshCheck{Checked: 11}, Upgraded: 1, RolledBack: 1, RegistryRetries: 2, Updates: ups, UpdatesAt: end.Add(time.Hour)},
		errors.New("rolled back"), end.Add(time.Hour))
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
# HELP tarsup_registry_retries_total Registry requests sent again after a 429 or 5xx answer since start (--registry-retries).
# TYPE tarsup_registry_retries_total counter
tarsup_registry_retries_total 2
# HELP tarsup_last_check_timestamp_seconds Unix time at which the last turn looked up each container's update state.
# TYPE tarsup_last_check_timestamp_seconds gauge
tarsup_last_check_timestamp_seconds 1764003600.250
# HELP tarsup_update_available 1 if the container's registry has an update for it (its tag's digest moved, or a newer framework release tag), 0 if not (none, or pinned by digest); absent when unknown.
# TYPE tarsup_update_available gauge
tarsup_update_available{host="h1",name="tars-framework",role="framework"} 1
tarsup_update_available{host="h1",name="tars-node2",role="node"} 0
tarsup_update_available{host="h1",name="tars-node4",role="node"} 0
tarsup_update_available{host="h2",name="tars-node1",role="node"} 1
# HELP tarsup_container_info A Tars container watch looked at: its image and version (the image's version label, else its tag).
# TYPE tarsup_container_info gauge
tarsup_container_info{host="h1",name="tars-framework",role="framework",image="reg/tarscloud/framework:v3.0.15",version="v3.0.15"} 1
tarsup_container_info{host="h1",name="tars-mysql",role="db",image="mysql:5.7",version="5.7"} 1
tarsup_container_info{host="h1",name="tars-node2",role="node",image="reg/tarscloud/tars-node@sha256:ab\"c",version="v3.0.15"} 1
tarsup_container_info{host="h1",name="tars-node3",role="node",image="reg/tarscloud/tars-node:stable",version="v3.0.15"} 1
tarsup_container_info{host="h1",name="tars-node4",role="node",image="reg/tarscloud/tars-node:full",version="v3.0.15"} 1
tarsup_container_info{host="h2",name="tars-node1",role="node",image="reg/tarscloud/tars-node:latest",version="v3.0.15"} 1
`
	got := m.Text()
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkExposition(t, got)
}

// labelSet is the text format's {name="value",...}, values escaped.
var labelSet = regexp.MustCompile(`^\{[a-z_]+="(?:\\.|[^"\\])*"(?:,[a-z_]+="(?:\\.|[^"\\])*")*\}$`)

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
		i := strings.LastIndex(line, " ")
		if i < 0 {
			t.Errorf("sample %q without a value", line)
			continue
		}
		name, value := line[:i], line[i+1:]
		if j := strings.Index(name, "{"); j >= 0 {
			if !labelSet.MatchString(name[j:]) {
				t.Errorf("sample %q: bad labels", line)
			}
			name = name[:j]
		}
		if !typed[name] || !strings.HasPrefix(name, "tarsup_") {
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
	rep     refresh.Report
	err     error
}

func (f *fakeRuns) refresh(ctx context.Context) (refresh.Report, error) {
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

// syncBuffer is a log buffer a test may read while the watcher writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestWatcher(t *testing.T, f *fakeRuns, token string) (*Watcher, *syncBuffer) {
	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	opts := Options{
		Log:      log,
		LockPath: filepath.Join(t.TempDir(), "tarsup.lock"),
		Refresh:  f.refresh,
		Status: func(context.Context) ([]orchestrator.StatusRow, error) {
			return []orchestrator.StatusRow{{Host: "unix:///var/run/docker.sock", Name: "tars-node1", Role: "node", State: "running", Health: "healthy", IPs: []string{}}}, nil
		},
	}
	if token != "" {
		opts.Token = []byte(token)
	}
	return New(opts), logs
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
	f := &fakeRuns{rep: refresh.Report{RefreshCheck: plan.RefreshCheck{Checked: 4, Tags: 2}, Summary: "refresh: 4 containers checked, 2 tags, nothing moved"}}
	w, _ := newTestWatcher(t, f, "s3cret")
	h := w.Handler(t.Context())

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
	var rep refresh.Report
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
	rec := do(t, w.Handler(t.Context()), http.MethodPost, "/v1/update", "Bearer anything")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--http-token") || f.count() != 0 {
		t.Errorf("without a token: %d %s (%d runs), want 403 naming --http-token and no run", rec.Code, rec.Body, f.count())
	}
}

func TestWatchOneRunAtATime(t *testing.T) {
	f := &fakeRuns{hold: make(chan struct{}), started: make(chan struct{}, 1)}
	w, _ := newTestWatcher(t, f, "s3cret")
	h := w.Handler(t.Context())
	first := make(chan int)
	go func() { first <- do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret").Code }()
	<-f.started
	if rec := do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret"); rec.Code != http.StatusConflict {
		t.Errorf("second update during a run: %d, want 409", rec.Code)
	}
	if _, err := w.RunOnce(t.Context(), "schedule"); !errors.Is(err, ErrBusy) {
		t.Errorf("scheduled turn during a run: %v, want ErrBusy", err)
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
	held, err := lock.AcquireLock(w.opts.LockPath, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	rec := do(t, w.Handler(t.Context()), http.MethodPost, "/v1/update", "Bearer s3cret")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), w.opts.LockPath) || f.count() != 0 {
		t.Errorf("with the lock held elsewhere: %d %s (%d runs), want 409 naming the lock and no run", rec.Code, rec.Body, f.count())
	}
}

// TestWatchNotifies: --notify-url receives the JSON report of each run that
// changed something or failed (the default --notify-on), as before.
func TestWatchNotifies(t *testing.T) {
	var mu sync.Mutex
	var got []refresh.Report
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var rep refresh.Report
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
	n, err := notify.New(notify.Config{JSONURL: recv.URL, Log: w.opts.Log})
	if err != nil {
		t.Fatal(err)
	}
	w.opts.Notifier = n
	run := func(rep refresh.Report, err error) {
		f.rep, f.err = rep, err
		_, _ = w.RunOnce(t.Context(), "test")
	}
	run(refresh.Report{Summary: "nothing moved"}, nil)
	run(refresh.Report{Summary: "2 moved", Changed: true, Upgraded: 2}, nil)
	run(refresh.Report{Summary: "failed", Error: "registry unreachable"}, errors.New("registry unreachable"))
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

// TestWatchNotifyFailureIsLogged: a receiver that fails is logged at error
// level; the turn's outcome is the refresh's own.
func TestWatchNotifyFailureIsLogged(t *testing.T) {
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusBadGateway) }))
	defer recv.Close()
	f := &fakeRuns{rep: refresh.Report{Summary: "1 moved", Changed: true, Success: true}}
	w, logs := newTestWatcher(t, f, "")
	n, err := notify.New(notify.Config{JSONURL: recv.URL + "/hook?token=s3cret", Log: w.opts.Log})
	if err != nil {
		t.Fatal(err)
	}
	w.opts.Notifier = n
	if _, err := w.RunOnce(t.Context(), "test"); err != nil {
		t.Errorf("RunOnce: %v, want the refresh's nil", err)
	}
	l := logs.String()
	if !strings.Contains(l, "level=error") || !strings.Contains(l, "502") || strings.Contains(l, "s3cret") {
		t.Errorf("log:\n%s", l)
	}
}

// TestWatchNotifiesWhileStopping: a run that ends after SIGTERM is still
// notified (it happened).
func TestWatchNotifiesWhileStopping(t *testing.T) {
	var mu sync.Mutex
	notes := 0
	recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { mu.Lock(); notes++; mu.Unlock() }))
	defer recv.Close()
	f := &fakeRuns{hold: make(chan struct{}), started: make(chan struct{}, 1), rep: refresh.Report{Changed: true}}
	w, _ := newTestWatcher(t, f, "")
	n, err := notify.New(notify.Config{JSONURL: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	w.opts.Notifier = n
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _, _ = w.RunOnce(ctx, "test"); close(done) }()
	<-f.started
	cancel()
	close(f.hold)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if notes != 1 {
		t.Errorf("%d notifications after a run that ended while stopping, want 1", notes)
	}
}

func TestWatchStopsAfterTheRunUnderWay(t *testing.T) {
	f := &fakeRuns{hold: make(chan struct{}), started: make(chan struct{}, 1)}
	w, logs := newTestWatcher(t, f, "s3cret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := cron.ParseStandard("@yearly")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	w.opts.Schedule, w.opts.Spec, w.opts.Listener = sched, "@yearly", ln
	go func() { served <- w.Serve(ctx) }()

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

// TestWatchStatusUpdates: GET /v1/status carries each container's update
// state from the last turn's look-ups (never new ones); before the first
// turn, and for a container that changed since, it is unknown and says why.
func TestWatchStatusUpdates(t *testing.T) {
	f := &fakeRuns{rep: refresh.Report{Summary: "refresh: 1 container checked, 1 tag, 1 moved", UpdatesAt: time.Now(), Updates: []orchestrator.ContainerUpdate{
		{Host: "unix:///var/run/docker.sock", Name: "tars-node1", Role: "node", Update: plan.Update{State: plan.UpdateMoved, Detail: "latest: sha256:aaaa… -> sha256:bbbb…"}},
	}}}
	w, _ := newTestWatcher(t, f, "s3cret")
	h := w.Handler(t.Context())
	status := func() orchestrator.StatusRow {
		t.Helper()
		var rows []orchestrator.StatusRow
		rec := do(t, h, http.MethodGet, "/v1/status", "")
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &rows) != nil || len(rows) != 1 {
			t.Fatalf("GET /v1/status: %d %s", rec.Code, rec.Body)
		}
		return rows[0]
	}
	if r := status(); r.Update != plan.UpdateUnknown || !strings.Contains(r.UpdateDetail, "not looked up yet") {
		t.Errorf("before the first turn: update %q (%s), want unknown, not looked up yet", r.Update, r.UpdateDetail)
	}
	if rec := do(t, h, http.MethodPost, "/v1/update", "Bearer s3cret"); rec.Code != http.StatusOK {
		t.Fatalf("POST /v1/update: %d %s", rec.Code, rec.Body)
	}
	if r := status(); r.Update != plan.UpdateMoved || r.UpdateDetail != "latest: sha256:aaaa… -> sha256:bbbb…" {
		t.Errorf("after a turn: update %q (%s), want digest moved", r.Update, r.UpdateDetail)
	}
	if f.count() != 1 {
		t.Errorf("GET /v1/status ran %d refreshes, want only the one POSTed", f.count()-1)
	}
	body := do(t, h, http.MethodGet, "/metrics", "").Body.String()
	if !strings.Contains(body, "\ntarsup_update_available{host=\"unix:///var/run/docker.sock\",name=\"tars-node1\",role=\"node\"} 1\n") ||
		!strings.Contains(body, "\ntarsup_last_check_timestamp_seconds ") {
		t.Errorf("GET /metrics after a turn:\n%s", body)
	}
}
