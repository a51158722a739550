package orchestrator

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tarsup/tarsup/orchestrator/plan"
)

// NodeInfoQuery reads what the registration check and status need of
// db_tars.t_node_info, in one query. Why epoch seconds and an age: they
// need no time zone, and the age (by the database's own clock) no
// agreement between tarsup's clock and the database's.
const NodeInfoQuery = "SELECT node_name, endpoint_ip, present_state, UNIX_TIMESTAMP(last_heartbeat), UNIX_TIMESTAMP(last_reg_time), " +
	"TIMESTAMPDIFF(MICROSECOND, last_heartbeat, NOW(6)) FROM db_tars.t_node_info ORDER BY node_name;\n"

// ParseNodeRows reads NodeInfoQuery's rows (batch output, NULL as "NULL").
func ParseNodeRows(rows [][]string) ([]plan.NodeRow, error) {
	out := make([]plan.NodeRow, 0, len(rows))
	for i, f := range rows {
		if len(f) != 6 {
			return nil, fmt.Errorf("t_node_info row %d: %d fields, want 6", i+1, len(f))
		}
		r := plan.NodeRow{NodeName: f[0], EndpointIP: nullable(f[1]), PresentState: nullable(f[2])}
		var err error
		if r.LastHeartbeat, err = epoch(f[3]); err != nil {
			return nil, fmt.Errorf("t_node_info row %s: last_heartbeat: %w", f[0], err)
		}
		if r.LastRegTime, err = epoch(f[4]); err != nil {
			return nil, fmt.Errorf("t_node_info row %s: last_reg_time: %w", f[0], err)
		}
		if f[5] != "NULL" {
			us, err := strconv.ParseInt(f[5], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("t_node_info row %s: heartbeat age %q: %w", f[0], f[5], err)
			}
			r.HeartbeatAge = time.Duration(us) * time.Microsecond
		}
		out = append(out, r)
	}
	return out, nil
}

func nullable(s string) string {
	if s == "NULL" {
		return ""
	}
	return s
}

// epoch reads UNIX_TIMESTAMP's answer (seconds, maybe with a fraction);
// NULL is the zero time.
func epoch(s string) (time.Time, error) {
	if s == "NULL" || s == "" {
		return time.Time{}, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time: %w", s, err)
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
