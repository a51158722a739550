package orchestrator

import (
	"testing"
	"time"
)

func TestParseNodeRows(t *testing.T) {
	rows, err := ParseNodeRows([][]string{
		{"172.25.0.5", "172.25.0.5", "active", "1795600000", "1795599990.500000", "1500000"},
		{"172.25.0.6", "NULL", "inactive", "NULL", "NULL", "NULL"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	if r.NodeName != "172.25.0.5" || r.EndpointIP != "172.25.0.5" || r.PresentState != "active" ||
		!r.LastHeartbeat.Equal(time.Unix(1795600000, 0)) || !r.LastRegTime.Equal(time.Unix(1795599990, 5e8)) || r.HeartbeatAge != 1500*time.Millisecond {
		t.Errorf("row %+v", r)
	}
	if r := rows[1]; r.EndpointIP != "" || !r.LastHeartbeat.IsZero() || r.HeartbeatAge != 0 {
		t.Errorf("NULLs: %+v", r)
	}
	for _, bad := range [][]string{{"a", "b"}, {"n", "ip", "active", "soon", "NULL", "NULL"}, {"n", "ip", "active", "NULL", "NULL", "x"}} {
		if _, err := ParseNodeRows([][]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
