package refresh

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// TestOutsideWindowReport: outside every window the text report is one
// line that says when the next window opens, and the JSON report carries
// "window" with open false and next_open (RFC 3339, in its zone).
func TestOutsideWindowReport(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	next := time.Date(2026, 1, 3, 2, 0, 0, 0, sh)
	check := plan.RefreshCheck{Checked: 2, Tags: 1,
		Moved:  []plan.Moved{{Host: "h1", Name: "n1", Image: "reg/tarscloud/tars-node:latest", From: "sha256:aaaa0000", To: "sha256:bbbb0000"}},
		Window: &plan.WindowState{Windows: []string{"CRON_TZ=Asia/Shanghai daily 02:00-04:00"}, NextOpen: next, Zone: "Asia/Shanghai", Waiting: []string{"n1"}}}
	var b bytes.Buffer
	WriteCheck(&b, check, false)
	if err := WriteText(&b, orchestrator.RefreshReport{Check: check}, false, nil); err != nil {
		t.Fatal(err)
	}
	want := "refresh: 2 containers checked, 1 tag, 1 moved; outside the maintenance window, nothing started: the next opens 2026-01-03T02:00:00+08:00 (Asia/Shanghai)\n"
	if b.String() != want {
		t.Errorf("text report\n%q, want the one line\n%q", b.String(), want)
	}

	out := NewReport(time.Now(), false, orchestrator.RefreshReport{Check: check}, nil)
	data, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Changed bool `json:"changed"`
		Window  struct {
			Open     bool     `json:"open"`
			NextOpen string   `json:"next_open"`
			Zone     string   `json:"zone"`
			Waiting  []string `json:"waiting"`
			Closes   *string  `json:"closes"`
		} `json:"window"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Changed || got.Window.Open || got.Window.NextOpen != "2026-01-03T02:00:00+08:00" || got.Window.Zone != "Asia/Shanghai" ||
		strings.Join(got.Window.Waiting, ",") != "n1" || got.Window.Closes != nil {
		t.Errorf("JSON report %s", data)
	}
}

// TestCoolingReport: the text report gives one line per container held
// back by --min-age, saying from when; JSON carries "cooling".
func TestCoolingReport(t *testing.T) {
	until := time.Date(2026, 1, 3, 11, 0, 0, 0, time.UTC)
	check := plan.RefreshCheck{Checked: 1, Tags: 1, Moved: []plan.Moved{}, MinAge: 24 * time.Hour, Cooling: []plan.Cooling{{
		Host: "h1", Name: "n1", Role: "node", Image: "reg/tarscloud/tars-node:latest", From: "sha256:aaaa0000", To: "sha256:bbbb0000",
		Created: until.Add(-24 * time.Hour), Until: until, Reason: "created 2026-01-02T11:00:00Z: too new for --min-age 24h0m0s, taken from 2026-01-03T11:00:00Z"}}}
	var b bytes.Buffer
	WriteCheck(&b, check, false)
	want := "refresh: 1 container checked, 1 tag, 1 moved but too new for --min-age 24h0m0s (the first taken from 2026-01-03T11:00:00Z)\n" +
		"  n1: latest moved sha256:aaaa… -> sha256:bbbb…: created 2026-01-02T11:00:00Z: too new for --min-age 24h0m0s, taken from 2026-01-03T11:00:00Z\n"
	if b.String() != want {
		t.Errorf("text\n%q, want\n%q", b.String(), want)
	}
	data, err := json.Marshal(NewReport(time.Now(), false, orchestrator.RefreshReport{Check: check}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"cooling":[{"host":"h1","name":"n1","role":"node","image":"reg/tarscloud/tars-node:latest","from":"sha256:aaaa0000","to":"sha256:bbbb0000","created":"2026-01-02T11:00:00Z","until":"2026-01-03T11:00:00Z"`) ||
		strings.Contains(string(data), `"window"`) {
		t.Errorf("JSON %s", data)
	}
}
