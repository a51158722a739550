package orchestrator

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/window"
)

// TestRunWindow: the executor starts no step whose NotAfter has passed,
// and none after it, in its phase or a later one (they wait for the next
// window); the cleanup phase still runs and removes nothing of theirs.
func TestRunWindow(t *testing.T) {
	f := newFakeEngine(t)
	m := f.add("fw", "tarscloud/framework:v3.0.15", true)
	n1 := f.add("n1", "tarscloud/tars-node:latest", true)
	n2 := f.add("n2", "tarscloud/tars-node:latest", true)
	n3 := f.add("n3", "tarscloud/tars-node:latest", true)
	x, h := fakeExecutor(f)
	var events []string
	x.Opts.Report = func(e Event) { events = append(events, e.Container+" "+e.Action+" "+e.Result) }
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Second)
	at := func(st plan.Step, notAfter time.Time) plan.Step { st.NotAfter = notAfter; return st }

	t.Run("a step that no longer fits ends the run there", func(t *testing.T) {
		p := plan.Plan{Phases: []plan.Phase{
			{Name: "nodes", Steps: []plan.Step{
				at(recreateOf(t, x, h, n1.ID, "tarscloud/tars-node:stable"), future),
				at(recreateOf(t, x, h, n2.ID, "tarscloud/tars-node:stable"), past),
				at(recreateOf(t, x, h, n3.ID, "tarscloud/tars-node:stable"), future),
			}, Parallel: 1, MaxFailures: 5},
			{Name: "cleanup", Steps: []plan.Step{{Kind: plan.StepCleanupImage, Host: h.Name(), Container: containerOf(t, x, h, n2.ID), Image: "sha256:old", After: []string{n2.ID}}}, Parallel: 1, Always: true},
		}}
		f.calls, events = nil, nil
		results, err := x.Run(context.Background(), p)
		if err != nil {
			t.Fatalf("a window that closes is no failure: %v", err)
		}
		if got, want := outcome(results), "n1=upgraded n2=waits for the next window n3=waits for the next window"; got != want {
			t.Errorf("results %q, want %q", got, want)
		}
		if got := touched(f.calls, "n2", "n3"); len(got) > 0 {
			t.Errorf("steps held back by the window touched %v:\n%s", got, strings.Join(f.calls, "\n"))
		}
		if !strings.Contains(strings.Join(events, "\n"), "n2 wait waits for the next window") {
			t.Errorf("no wait event for n2: %v", events)
		}
		if !allWaiting(results[1:]) || allWaiting(results) {
			t.Error("allWaiting is wrong")
		}
	})
	t.Run("a framework step held back holds back the nodes", func(t *testing.T) {
		p := plan.Plan{Phases: []plan.Phase{
			{Name: "framework master", Steps: []plan.Step{at(recreateOf(t, x, h, m.ID, "tarscloud/framework:v3.0.16"), past)}, Parallel: 1, StopOnFailure: true},
			{Name: "nodes", Steps: []plan.Step{recreateOf(t, x, h, n3.ID, "tarscloud/tars-node:stable")}, Parallel: 2},
		}}
		f.calls = nil
		results, err := x.Run(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := outcome(results), "fw=waits for the next window n3=waits for the next window"; got != want {
			t.Errorf("results %q, want %q", got, want)
		}
		if len(f.calls) > 0 {
			t.Errorf("calls %v, want none", f.calls)
		}
	})
}

// pushAt writes an image created at created to host/repo:tag and returns
// its digest.
func pushAt(t *testing.T, host, repo, tag string, created time.Time) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestAdmit: outside every window nothing more is asked of the registry
// and every moved container waits; inside, --min-age reads the config of
// the moved images only and holds back the young one; forced, the window
// is ignored.
func TestAdmit(t *testing.T) {
	rc := startRecorder(t)
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	young := pushAt(t, rc.host, "tarscloud/tars-node", "latest", now.Add(-time.Hour))
	old := pushAt(t, rc.host, "tarscloud/tars-node", "stable", now.Add(-72*time.Hour))
	states := []plan.HostState{state("h1",
		fx{name: "fw", image: rc.host + "/tarscloud/framework:v3.0.15", imageID: "sha256:f1", digest: fwOld, running: true},
		fx{name: "n1", image: rc.host + "/tarscloud/tars-node:latest", imageID: "sha256:n1", digest: nodeOld, running: true},
		fx{name: "n2", image: rc.host + "/tarscloud/tars-node:stable", imageID: "sha256:n1", digest: nodeOld, running: true})}
	check := plan.RefreshCheck{Checked: 3, Tags: 3, Moved: []plan.Moved{
		{Host: "h1", Name: "n1", Image: rc.host + "/tarscloud/tars-node:latest", From: nodeOld, To: young},
		{Host: "h1", Name: "n2", Image: rc.host + "/tarscloud/tars-node:stable", From: nodeOld, To: old},
	}}
	// 02:00-05:00 UTC daily: closed at noon, opens tomorrow at 02:00.
	wins, err := window.ParseAll([]string{"TZ=UTC daily 02:00-05:00"})
	if err != nil {
		t.Fatal(err)
	}
	opts := RefreshOptions{Registry: &images.Registry{}, Windows: wins, MinAge: 24 * time.Hour, Now: func() time.Time { return now }}

	rc.reset()
	got, err := admit(t.Context(), states, check, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	w := got.Window
	if w == nil || w.Open || w.Forced || w.NextOpen.Format(time.RFC3339) != "2026-01-03T02:00:00Z" || w.Zone != "UTC" || strings.Join(w.Waiting, " ") != "n1 n2" {
		t.Errorf("outside: window %+v, want closed, next 2026-01-03T02:00:00Z UTC, n1 and n2 waiting", w)
	}
	if len(got.Moved) != 2 || len(got.Cooling) != 0 || got.Window.Admits() {
		t.Errorf("outside: moved %d, cooling %d, admits %v", len(got.Moved), len(got.Cooling), got.Window.Admits())
	}
	if reqs := rc.requests(); len(reqs) > 0 {
		t.Errorf("outside a window the registry was asked %v", reqs)
	}

	// A newer framework tag alone: the framework waits.
	newer := plan.RefreshCheck{Checked: 3, Tags: 3, Moved: []plan.Moved{}, NewerTag: "v3.0.16", NewerFrom: "v3.0.15"}
	if got, err := admit(t.Context(), states, newer, opts, true); err != nil || strings.Join(got.Window.Waiting, " ") != "fw on h1" {
		t.Errorf("outside, a newer framework tag: waiting %v (%v), want fw on h1", got.Window.Waiting, err)
	}

	opts.Force = true
	got, err = admit(t.Context(), states, check, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Window.Admits() || !got.Window.Forced || len(got.Window.Waiting) != 0 {
		t.Errorf("forced: window %+v, want it admitting, nothing waiting", got.Window)
	}
	if names := movedNames(got); names != "n2" || len(got.Cooling) != 1 || got.Cooling[0].Name != "n1" {
		t.Errorf("forced, --min-age 24h: moved %q, cooling %+v; want n2 taken and n1 (1 h old) held back", names, got.Cooling)
	}
	for _, r := range rc.requests() {
		if strings.Contains(r, "framework") {
			t.Errorf("the framework did not move, yet its image was read: %s", r)
		}
	}

	opts.Force, opts.Now = false, func() time.Time { return now.Add(15 * time.Hour) } // 03:00 tomorrow
	opts.MinAge = 0
	rc.reset()
	got, err = admit(t.Context(), states, check, opts, false)
	if err != nil {
		t.Fatal(err)
	}
	if w := got.Window; !w.Open || w.Closes.Format(time.RFC3339) != "2026-01-03T05:00:00Z" || w.NextOpen.Format(time.RFC3339) != "2026-01-04T02:00:00Z" || movedNames(got) != "n1 n2" {
		t.Errorf("inside: window %+v, moved %q", w, movedNames(got))
	}
	if reqs := rc.requests(); len(reqs) > 0 {
		t.Errorf("--min-age 0 read from the registry: %v", reqs)
	}

	opts.Windows = nil
	if got, _ = admit(t.Context(), states, check, opts, false); got.Window != nil {
		t.Errorf("no --window, yet a window state %+v", got.Window)
	}
}

func movedNames(c plan.RefreshCheck) string {
	var out []string
	for _, m := range c.Moved {
		out = append(out, m.Name)
	}
	return strings.Join(out, " ")
}

// recorder is an in-process registry (go-containerregistry's) that logs
// the requests it serves.
type recorder struct {
	host string
	next http.Handler
	mu   sync.Mutex
	reqs []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Method+" "+r.URL.Path)
	rc.mu.Unlock()
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = nil
}

func (rc *recorder) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.reqs...)
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	rc := &recorder{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rc.host = strings.TrimPrefix(srv.URL, "http://")
	return rc
}

// TestWindowRunChecks: once the window held a step back, a phase of checks
// still runs when a recreate since the previous checks upgraded (it
// checks what the window admitted), and no other phase does.
func TestWindowRunChecks(t *testing.T) {
	rec := plan.Phase{Name: "r", Steps: []plan.Step{{Kind: plan.StepRecreate}}}
	checks := plan.Phase{Name: "c", Steps: []plan.Step{{Kind: plan.StepRecheck}}, Checks: true}
	res := func(r string) []StepResult {
		return []StepResult{{Step: plan.Step{Kind: plan.StepRecreate}, Result: r}}
	}
	for _, tc := range []struct {
		name string
		run  func(w *windowRun) []bool // what holds says, phase after phase
		want []bool
	}{
		{"master upgraded, slave held back: the re-check and registration after them run, the nodes and their checks do not", func(w *windowRun) []bool {
			var out []bool
			out = append(out, w.holds(rec))
			w.ran(rec, res(ResultUpgraded), false)
			out = append(out, w.holds(rec))
			w.ran(rec, res(ResultWaiting), true)
			for _, ph := range []plan.Phase{checks, checks, rec, checks} {
				out = append(out, w.holds(ph))
			}
			return out
		}, []bool{false, false, false, false, true, true}},
		{"nothing upgraded before the window closed: no check runs", func(w *windowRun) []bool {
			var out []bool
			out = append(out, w.holds(rec))
			w.ran(rec, res(ResultWaiting), true)
			return append(out, w.holds(checks), w.holds(rec), w.holds(checks))
		}, []bool{false, true, true, true}},
		{"a node upgraded, the next held back: the checks after the nodes run", func(w *windowRun) []bool {
			var out []bool
			out = append(out, w.holds(checks))
			w.ran(checks, nil, false)
			out = append(out, w.holds(rec))
			w.ran(rec, append(res(ResultUpgraded), res(ResultWaiting)...), true)
			return append(out, w.holds(checks))
		}, []bool{false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w windowRun
			if got := tc.run(&w); !slices.Equal(got, tc.want) {
				t.Errorf("holds %v, want %v", got, tc.want)
			}
		})
	}
}
