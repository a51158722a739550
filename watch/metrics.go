package watch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tarsup/tarsup/orchestrator"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/refresh"
)

// Metrics are watch's Prometheus metrics, written by hand in the text
// exposition format.
type Metrics struct {
	mu          sync.Mutex
	runs        int
	lastRun     time.Time
	lastSuccess bool
	checked     int
	upgraded    int
	rolledBack  int
	failures    int
	retries     int
	// updates is the last turn's update state of each container, looked
	// up at lastCheck.
	updates   []orchestrator.ContainerUpdate
	lastCheck time.Time
}

// Record counts one finished refresh, and keeps its containers' update
// state when it looked them up.
func (m *Metrics) Record(rep refresh.Report, err error, end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs++
	m.lastRun = end
	m.lastSuccess = err == nil
	m.checked = rep.Checked
	m.upgraded += rep.Upgraded
	m.rolledBack += rep.RolledBack
	m.retries += rep.RegistryRetries
	if err != nil {
		m.failures++
	}
	if !rep.UpdatesAt.IsZero() {
		m.updates = slices.Clone(rep.Updates)
		slices.SortFunc(m.updates, func(a, b orchestrator.ContainerUpdate) int {
			return strings.Compare(a.Host+"\x00"+a.Name, b.Host+"\x00"+b.Name)
		})
		m.lastCheck = rep.UpdatesAt
	}
}

// Updates is the last turn's update state of each container, and when it
// was looked up (zero before the first turn).
func (m *Metrics) Updates() ([]orchestrator.ContainerUpdate, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.updates), m.lastCheck
}

// Text renders the metrics. The last-run samples appear only once a run
// ended, and the per-container ones once a turn looked the containers up:
// a 0 before would read as a failure, or as "up to date".
func (m *Metrics) Text() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	metric := func(name, typ, help, value string, present bool) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		if present {
			fmt.Fprintf(&b, "%s %s\n", name, value)
		}
	}
	ran := m.runs > 0
	success := "0"
	if m.lastSuccess {
		success = "1"
	}
	itoa := strconv.Itoa
	metric("tarsup_last_run_timestamp_seconds", "gauge", "Unix time at which the last refresh ended.", unixSeconds(m.lastRun), ran)
	metric("tarsup_last_run_success", "gauge", "1 if the last refresh succeeded, 0 if it failed.", success, ran)
	metric("tarsup_containers_checked", "gauge", "Tars containers the last refresh compared with their registry.", itoa(m.checked), ran)
	metric("tarsup_runs_total", "counter", "Refreshes run since start.", itoa(m.runs), true)
	metric("tarsup_containers_upgraded_total", "counter", "Containers recreated on a new image since start.", itoa(m.upgraded), true)
	metric("tarsup_containers_rolled_back_total", "counter", "Containers whose upgrade failed and was rolled back since start.", itoa(m.rolledBack), true)
	metric("tarsup_failures_total", "counter", "Refreshes that failed since start (an upgrade rolled back, an engine or registry unreachable, a refusal).", itoa(m.failures), true)
	metric("tarsup_registry_retries_total", "counter", "Registry requests sent again after a 429 or 5xx answer since start (--registry-retries).", itoa(m.retries), true)
	metric("tarsup_last_check_timestamp_seconds", "gauge", "Unix time at which the last turn looked up each container's update state.", unixSeconds(m.lastCheck), !m.lastCheck.IsZero())
	m.containerSeries(&b)
	return b.String()
}

// containerSeries writes the per-container series of the last look-up.
func (m *Metrics) containerSeries(b *strings.Builder) {
	fmt.Fprintf(b, "# HELP tarsup_update_available 1 if the container's registry has an update for it (its tag's digest moved, or a newer framework release tag), "+
		"0 if not (none, or pinned by digest); absent when unknown.\n# TYPE tarsup_update_available gauge\n")
	for _, u := range m.updates {
		if u.State == "" || u.State == plan.UpdateUnknown {
			continue
		}
		v := "0"
		if u.Available() {
			v = "1"
		}
		fmt.Fprintf(b, "tarsup_update_available{%s} %s\n", labels("host", u.Host, "name", u.Name, "role", u.Role), v)
	}
	fmt.Fprintf(b, "# HELP tarsup_container_info A Tars container watch looked at: its image and version (the image's version label, else its tag).\n# TYPE tarsup_container_info gauge\n")
	for _, u := range m.updates {
		fmt.Fprintf(b, "tarsup_container_info{%s} 1\n", labels("host", u.Host, "name", u.Name, "role", u.Role, "image", u.Image, "version", u.Version))
	}
}

// labels renders label pairs, with the exposition format's escapes.
func labels(kv ...string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+`="`+esc.Replace(kv[i+1])+`"`)
	}
	return strings.Join(parts, ",")
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
