package watch

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/refresh"
)

// TestUpdateForce: POST /v1/update runs the refresh that honours the
// windows; ?force=1 the one that ignores them; another force value is 400
// and runs nothing.
func TestUpdateForce(t *testing.T) {
	plain := &fakeRuns{rep: refresh.Report{Summary: "plain"}}
	forced := &fakeRuns{rep: refresh.Report{Summary: "forced"}}
	w, logs := newTestWatcher(t, plain, "s3cret")
	w.opts.RefreshForced = forced.refresh
	h := w.Handler(t.Context())
	for _, tc := range []struct {
		query         string
		code          int
		plain, forced int
	}{
		{"", http.StatusOK, 1, 0},
		{"?force=0", http.StatusOK, 2, 0},
		{"?force=1", http.StatusOK, 2, 1},
		{"?force=true", http.StatusOK, 2, 2},
		{"?force=yes", http.StatusBadRequest, 2, 2},
	} {
		rec := do(t, h, http.MethodPost, "/v1/update"+tc.query, "Bearer s3cret")
		if rec.Code != tc.code || plain.count() != tc.plain || forced.count() != tc.forced {
			t.Errorf("POST /v1/update%s: %d %s; runs %d plain, %d forced; want %d, %d, %d", tc.query, rec.Code, rec.Body, plain.count(), forced.count(), tc.code, tc.plain, tc.forced)
		}
	}
	if !strings.Contains(logs.String(), "trigger=http-force") {
		t.Errorf("the log does not name the forced trigger:\n%s", logs)
	}
	if rec := do(t, h, http.MethodPost, "/v1/update?force=1", ""); rec.Code != http.StatusUnauthorized || forced.count() != 2 {
		t.Errorf("force without the token: %d, %d forced runs", rec.Code, forced.count())
	}
}

// TestWatchWaitsForTheWindow: a run that leaves steps waiting for the next
// window makes the watcher run again when it opens, beside the schedule;
// a run with nothing waiting does not.
func TestWatchWaitsForTheWindow(t *testing.T) {
	f := &fakeRuns{started: make(chan struct{}, 4)}
	w, logs := newTestWatcher(t, f, "")
	f.rep = refresh.Report{RefreshCheck: plan.RefreshCheck{Window: &plan.WindowState{Windows: []string{"daily 02:00-03:00"}, Zone: "UTC", NextOpen: time.Now().Add(-time.Second)}}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// Nothing waits: no run follows.
	if _, err := w.RunOnce(ctx, TriggerSchedule); err != nil {
		t.Fatal(err)
	}
	<-f.started
	select {
	case <-f.started:
		t.Fatal("a run followed one that left nothing waiting")
	case <-time.After(windowSlack + 200*time.Millisecond):
	}

	// n1 waits; the window "opens" now: a run follows, triggered by it.
	f.mu.Lock()
	f.rep.Window.Waiting = []string{"n1"}
	f.mu.Unlock()
	if _, err := w.RunOnce(ctx, TriggerHTTP); err != nil {
		t.Fatal(err)
	}
	<-f.started
	// The run at the opening leaves nothing waiting: no run after it.
	f.mu.Lock()
	f.rep.Window = nil
	f.mu.Unlock()
	select {
	case <-f.started:
	case <-time.After(10 * time.Second):
		t.Fatalf("no run when the window opened; log:\n%s", logs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "trigger=window") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "steps wait for the next maintenance window") || !strings.Contains(logs.String(), "trigger=window") {
		t.Errorf("the log does not say the watcher waits for the window, nor name its trigger:\n%s", logs)
	}
	select {
	case <-f.started:
		t.Error("a run followed the one at the opening, which left nothing waiting")
	case <-time.After(windowSlack + 200*time.Millisecond):
	}
	if n := f.count(); n != 3 {
		t.Errorf("%d runs, want 3 (schedule, http, window)", n)
	}
}
