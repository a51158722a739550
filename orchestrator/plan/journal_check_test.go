package plan

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

// TestFindSwapsShapes: every state a swap of tarsup's passes through (a
// kill at any point of the swap, its rollback or its recovery) is a journal
// recovery acts on; labels in any other shape are a journal with a Problem.
func TestFindSwapsShapes(t *testing.T) {
	journal := func(id, name, service, old string, extra ...string) container.Summary {
		l := map[string]string{LabelTxn: "t", LabelTxnName: service, LabelTxnOld: old, LabelTxnOldRunning: "true",
			LabelTxnOwner: "m/1/1", LabelTxnStarted: "2026-12-01T08:00:00Z", LabelTxnRestore: RestoreHealthy}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return container.Summary{ID: id, Names: []string{"/" + name}, Labels: l}
	}
	plain := func(id, name string) container.Summary { return container.Summary{ID: id, Names: []string{"/" + name}} }
	for _, tc := range []struct {
		name    string
		list    []container.Summary
		problem string // "" when the journal is one recovery acts on
	}{
		{"created", []container.Summary{plain("o", "fw"), journal("n", "fw.tarsup-new", "fw", "o")}, ""},
		{"the old one aside", []container.Summary{plain("o", "fw.tarsup-old"), journal("n", "fw.tarsup-new", "fw", "o")}, ""},
		{"the new one has the name", []container.Summary{plain("o", "fw.tarsup-old"), journal("n", "fw", "fw", "o")}, ""},
		{"rollback: renamed failed", []container.Summary{plain("o", "fw.tarsup-old"), journal("n", "fw.tarsup-failed", "fw", "o")}, ""},
		{"rollback: the old one back", []container.Summary{plain("o", "fw"), journal("n", "fw.tarsup-failed", "fw", "o")}, ""},
		{"a journal of an earlier version (no owner, start, restore)", []container.Summary{plain("o", "fw.tarsup-old"),
			{ID: "n", Names: []string{"/fw"}, Labels: map[string]string{LabelTxn: "t", LabelTxnName: "fw", LabelTxnOld: "o", LabelTxnOldRunning: "true"}}}, ""},
		{"an old one aside that an earlier upgrade created", []container.Summary{journal("o", "fw.tarsup-old", "fw", "gone")}, ""},
		{"no service", []container.Summary{plain("o", "fw"), journal("n", "x.tarsup-new", "", "o")}, "names no service"},
		{"the new one elsewhere", []container.Summary{plain("o", "fw.tarsup-old"), journal("n", "fw-2", "fw", "o")}, "never gives it"},
		{"the old one elsewhere", []container.Summary{plain("o", "db"), journal("n", "fw.tarsup-new", "fw", "o")}, "that replaces db (o)"},
		{"two claimants", []container.Summary{plain("o", "fw"), journal("n", "fw.tarsup-new", "fw", "o"), journal("m", "fw.tarsup-failed", "fw", "o")}, "both carry"},
		{"restore", []container.Summary{plain("o", "fw"), journal("n", "fw.tarsup-new", "fw", "o", LabelTxnRestore, "maybe")}, `restore="maybe"`},
		{"started", []container.Summary{plain("o", "fw"), journal("n", "fw.tarsup-new", "fw", "o", LabelTxnStarted, "yesterday")}, "RFC 3339"},
		{"the old one gone", []container.Summary{journal("n", "fw.tarsup-failed", "fw", "gone")}, "is gone"},
		{"an old one aside of another service", []container.Summary{journal("o", "fw.tarsup-old", "other", "gone")}, "never gives it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := FindSwaps(tc.list)
			if len(s.Journals) == 0 {
				t.Fatalf("no journal found in %+v", tc.list)
			}
			for _, j := range s.Journals {
				if tc.problem == "" && j.Problem != "" || !strings.Contains(j.Problem, tc.problem) {
					t.Errorf("journal %s: problem %q, want %q", j.Name, j.Problem, tc.problem)
				}
			}
		})
	}
	if s := FindSwaps([]container.Summary{journal("n", "fw", "fw", "gone"), plain("u", "x.tarsup-old")}); len(s.Journals) != 0 {
		t.Errorf("a finished upgrade and a user's container are no journals: %+v", s.Journals)
	}
}

// TestPlanRecoveryOf: the rows a recovery adds to its steps: each container
// under a temporary name that is not tarsup's, and another tarsup's lock.
func TestPlanRecoveryOf(t *testing.T) {
	f := RecoveryFacts{Host: "h", Foreign: []NameHolder{{Name: "app.tarsup-new", ID: "u", Image: "busybox"}},
		Lock: EngineLock{Name: "tarsup-lock", Label: "tarsup.lock", Held: true, Tarsup: true}}
	got := PlanRecoveryOf(f, false, Policy{}).String()
	want := "tarsup-lock on h: engine lock: held by a tarsup that does not name itself, which is gone: a real recover takes it over\n" +
		"app.tarsup-new on h: none: left alone: not tarsup's (no journal of tarsup's names it, image busybox); it holds a name tarsup needs to upgrade app: rename or remove it before upgrading app\n"
	if got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	f.Lock.Mine = true
	if p := PlanRecoveryOf(f, false, Policy{}); p.Lock != nil {
		t.Errorf("its own lock: %+v", p.Lock)
	}
}
