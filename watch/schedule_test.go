package watch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// everyTick is a fake schedule: a turn every d, faster than cron's seconds.
type everyTick time.Duration

func (e everyTick) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// TestSchedulerRunsTurnsAndSkipsBusyOnes: the schedule starts refreshes on
// its own, and a turn that finds the previous refresh still running is
// skipped (logged), never run beside it.
func TestSchedulerRunsTurnsAndSkipsBusyOnes(t *testing.T) {
	f := &fakeRuns{hold: make(chan struct{}), started: make(chan struct{}, 16)}
	w, logs := newTestWatcher(t, f, "")
	w.opts.Schedule, w.opts.Spec = everyTick(20*time.Millisecond), "fake 20ms"
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- w.Serve(ctx) }()
	<-f.started // the first turn runs and is held
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "this turn is skipped") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.count() != 1 {
		t.Errorf("%d refreshes while the first was held, want 1", f.count())
	}
	if !strings.Contains(logs.String(), "the previous refresh is still running: this turn is skipped") {
		t.Errorf("no skipped turn logged:\n%s", logs.String())
	}
	cancel()
	close(f.hold)
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if !strings.Contains(logs.String(), "watching") || !strings.Contains(logs.String(), "schedule=\"fake 20ms\"") {
		t.Errorf("the start line does not name the schedule:\n%s", logs.String())
	}
}

// TestRunOnceAfterShutdownRunsNothing: once the process is stopping, no new
// refresh starts.
func TestRunOnceAfterShutdownRunsNothing(t *testing.T) {
	f := &fakeRuns{}
	w, _ := newTestWatcher(t, f, "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := w.RunOnce(ctx, "schedule"); err == nil || !strings.Contains(err.Error(), "shutting down") || f.count() != 0 {
		t.Errorf("RunOnce after shutdown: %v (%d runs), want shutting down and no run", err, f.count())
	}
}

// TestParseSchedule: five fields, descriptors and zones are schedules; an
// empty spec is ErrNoSchedule; the schedule is what cron says.
func TestParseSchedule(t *testing.T) {
	for _, spec := range []string{"0 3 * * *", " @daily ", "@every 90s", "CRON_TZ=Asia/Shanghai 0 3 * * *"} {
		if _, err := ParseSchedule(spec); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
	if _, err := ParseSchedule("  "); !errors.Is(err, ErrNoSchedule) {
		t.Errorf("empty spec: %v, want ErrNoSchedule", err)
	}
	for _, spec := range []string{"0 3 * *", "@sometimes", "CRON_TZ=Nowhere/City 0 3 * * *"} {
		if _, err := ParseSchedule(spec); err == nil || errors.Is(err, ErrNoSchedule) {
			t.Errorf("%q: %v, want cron's error", spec, err)
		}
	}
	s, err := ParseSchedule("@every 1h")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	if got := s.Next(now); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("@every 1h after %s is %s", now, got)
	}
}
