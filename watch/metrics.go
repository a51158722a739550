package watch

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

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
}

// Record counts one finished refresh.
func (m *Metrics) Record(rep refresh.Report, err error, end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs++
	m.lastRun = end
	m.lastSuccess = err == nil
	m.checked = rep.Checked
	m.upgraded += rep.Upgraded
	m.rolledBack += rep.RolledBack
	if err != nil {
		m.failures++
	}
}

// Text renders the metrics. The last-run samples appear only once a run
// ended: a 0 before the first run would read as a failure.
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
	metric("tarsup_last_run_timestamp_seconds", "gauge", "Unix time at which the last refresh ended.", strconv.FormatFloat(float64(m.lastRun.UnixMilli())/1000, 'f', 3, 64), ran)
	metric("tarsup_last_run_success", "gauge", "1 if the last refresh succeeded, 0 if it failed.", success, ran)
	metric("tarsup_containers_checked", "gauge", "Tars containers the last refresh compared with their registry.", itoa(m.checked), ran)
	metric("tarsup_runs_total", "counter", "Refreshes run since start.", itoa(m.runs), true)
	metric("tarsup_containers_upgraded_total", "counter", "Containers recreated on a new image since start.", itoa(m.upgraded), true)
	metric("tarsup_containers_rolled_back_total", "counter", "Containers whose upgrade failed and was rolled back since start.", itoa(m.rolledBack), true)
	metric("tarsup_failures_total", "counter", "Refreshes that failed since start (an upgrade rolled back, an engine or registry unreachable, a refusal).", itoa(m.failures), true)
	return b.String()
}
