package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/swapname"
)

// NodeRow is one row of db_tars.t_node_info, as the registration check and
// status read it.
type NodeRow struct {
	// NodeName is the node's name in Tars: its IP (or its DOMAIN).
	NodeName   string
	EndpointIP string
	// PresentState is RegActive or RegInactive.
	PresentState string
	// LastHeartbeat and LastRegTime are the row's times by the database's
	// clock; zero when NULL.
	LastHeartbeat time.Time
	LastRegTime   time.Time
	// HeartbeatAge is how old last_heartbeat was when the row was read, by
	// the database's own clock. Why an age: it needs no time zone and no
	// agreement between tarsup's clock and the database's.
	HeartbeatAge time.Duration
}

// Registration states of a node in status and in the check.
const (
	RegActive   = "active"
	RegInactive = "inactive"
	// RegMissing: no row of t_node_info names the node.
	RegMissing = "missing"
	// RegUnknown: status could not read the node's deployment's
	// t_node_info (the database down, a wrong password, ...).
	RegUnknown = "unknown"
)

// What a node that did not register again got wrong.
const (
	ProblemInactive     = "inactive"
	ProblemOldHeartbeat = "old heartbeat"
	ProblemOtherIP      = "other IP"
	ProblemMissing      = "missing"
)

// NodeRead is one read of a deployment's t_node_info.
type NodeRead struct {
	Rows []NodeRow
	// At is when the read began, by tarsup's clock: the database evaluated
	// its clock later, so At minus a row's HeartbeatAge is never later than
	// the heartbeat itself.
	At time.Time
}

// Row finds the row of a node name.
func (r NodeRead) Row(name string) (NodeRow, bool) {
	for _, row := range r.Rows {
		if row.NodeName == name {
			return row, true
		}
	}
	return NodeRow{}, false
}

// HeartbeatAfter reports whether row's last heartbeat surely came after t
// (tarsup's clock).
func (r NodeRead) HeartbeatAfter(row NodeRow, t time.Time) bool {
	return !row.LastHeartbeat.IsZero() && r.At.Add(-row.HeartbeatAge).After(t)
}

// NodeIdentities are the names under which a node container registers, in
// the order tarsnode picks them: DOMAIN, TARS_DOMAIN, then its IPv4
// addresses (the node image reads eth0), then any other address.
func NodeIdentities(c Container) []string {
	var out []string
	for _, k := range []string{"DOMAIN", "TARS_DOMAIN"} {
		if v := c.Env[k]; v != "" {
			out = append(out, v)
		}
	}
	var v6 []string
	for _, ip := range c.IPs {
		if strings.Contains(ip, ":") {
			v6 = append(v6, ip)
		} else {
			out = append(out, ip)
		}
	}
	return append(out, v6...)
}

// MatchNode finds the row of a node container: the first of its
// identities that names a row.
func MatchNode(c Container, rows []NodeRow) (NodeRow, bool) {
	for _, id := range NodeIdentities(c) {
		if row, ok := (NodeRead{Rows: rows}).Row(id); ok {
			return row, true
		}
	}
	return NodeRow{}, false
}

// NodeRegistration is status' view of a node: its row's state (RegMissing
// when none) and last heartbeat.
func NodeRegistration(c Container, rows []NodeRow) (state string, lastHeartbeat time.Time) {
	if c.Role != images.RoleNode {
		return "", time.Time{}
	}
	row, ok := MatchNode(c, rows)
	if !ok {
		return RegMissing, time.Time{}
	}
	return row.PresentState, row.LastHeartbeat
}

// RegCheck is what a reregister step checks: the row a node had before the
// run, which must be active again, at the same endpoint_ip, heartbeating.
type RegCheck struct {
	// Deployment names whose t_node_info (DeploymentOf).
	Deployment string
	NodeName   string
	EndpointIP string
	// Timeout bounds each wait: before the restart, and again after it.
	Timeout time.Duration
}

// Verdict is what one read says of a node's registration.
type Verdict struct {
	OK bool
	// Problem is one of the Problem* values when not OK.
	Problem string
	Detail  string
	// Fresh is the first heartbeat (the database's clock) seen after the
	// check began; the node is registered again once a later one shows.
	Fresh time.Time
}

// Judge says whether a node is registered again by the read now: its row is
// active, at the same endpoint_ip, and it heartbeats since the check began
// (since, tarsup's clock): a heartbeat after since and another after that
// one (fresh, from an earlier read; zero at first). Why two: a node that
// registers once and then stops heartbeating looks fresh for a moment, and
// Tars marks it inactive only later. before is the pre-flight read of the
// deployment: a row it did not have that heartbeats now is a node that came
// back under another IP (Tars counts it as a new node).
func (chk RegCheck) Judge(before []NodeRow, now NodeRead, since, fresh time.Time) Verdict {
	v := Verdict{Fresh: fresh}
	row, ok := now.Row(chk.NodeName)
	switch {
	case !ok:
		v.Problem, v.Detail = ProblemMissing, "no row for node_name "+chk.NodeName+" in db_tars.t_node_info"
	case row.EndpointIP != chk.EndpointIP:
		v.Problem, v.Detail = ProblemOtherIP, fmt.Sprintf("its row %s now has endpoint_ip %s, it had %s", chk.NodeName, row.EndpointIP, chk.EndpointIP)
	case row.PresentState != RegActive:
		v.Problem, v.Detail = ProblemInactive, fmt.Sprintf("present_state is %s (last heartbeat %s)", orNone(row.PresentState), stamp(row.LastHeartbeat))
	case !now.HeartbeatAfter(row, since):
		v.Problem, v.Detail = ProblemOldHeartbeat, fmt.Sprintf("last heartbeat %s, none since the check began (%s)", stamp(row.LastHeartbeat), stamp(since))
	case fresh.IsZero() || !row.LastHeartbeat.After(fresh):
		if fresh.IsZero() {
			v.Fresh = row.LastHeartbeat
		}
		v.Problem, v.Detail = ProblemOldHeartbeat, fmt.Sprintf("one heartbeat (%s) since the check began, and none after it", stamp(v.Fresh))
	default:
		v.OK = true
		return v
	}
	if moved := movedRows(before, now, since); len(moved) > 0 && v.Problem != ProblemOtherIP {
		v.Detail += fmt.Sprintf("; row(s) that registered since under a name not seen before: %s (a node that comes back with another IP is a new node in Tars)", strings.Join(moved, ", "))
		if len(moved) >= staleRows(before, now, since) {
			v.Problem = ProblemOtherIP
		}
	}
	return v
}

// movedRows names the rows of now that before did not have and that
// heartbeat after since.
func movedRows(before []NodeRow, now NodeRead, since time.Time) []string {
	var out []string
	for _, row := range now.Rows {
		if _, known := (NodeRead{Rows: before}).Row(row.NodeName); !known && now.HeartbeatAfter(row, since) {
			out = append(out, row.NodeName)
		}
	}
	slices.Sort(out)
	return out
}

// staleRows counts the rows active before that have not heartbeat since:
// as many new rows as stale ones means the stale nodes came back under
// other names.
func staleRows(before []NodeRow, now NodeRead, since time.Time) int {
	n := 0
	for _, b := range before {
		if b.PresentState != RegActive {
			continue
		}
		if row, ok := now.Row(b.NodeName); !ok || !now.HeartbeatAfter(row, since) {
			n++
		}
	}
	return n
}

// stamp writes a database or check time for a message (UTC, seconds).
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func orNone(s string) string {
	if s == "" {
		return "empty"
	}
	return s
}

// Failure is the message of a node that did not register again, even
// after its restart: it names the host, the container, the node's IP and
// what was wrong.
func (chk RegCheck) Failure(st Step, v Verdict) string {
	row := ""
	if chk.NodeName != chk.EndpointIP {
		row = ", row " + chk.NodeName
	}
	return fmt.Sprintf("node %s on %s (node IP %s%s) is not registered again %s, even after a restart: %s: %s", st.Container.Name, st.Host, chk.EndpointIP, row, st.Cause, v.Problem, v.Detail)
}

// StatusSources lists the deployments of the nodes status shows (rows,
// keyed "HOST NAME"), each with the framework its t_node_info is read
// through: status reads each once, and none whose nodes it does not show.
func StatusSources(all []HostState, rows map[string]bool) []RegistrationSource {
	depOf := nodeDeployment(all)
	seen := map[string]bool{}
	var out []RegistrationSource
	for _, s := range all {
		for _, c := range s.Containers {
			if c.Role != images.RoleNode || !rows[c.Host+" "+c.Name] {
				continue
			}
			if dep, _ := depOf(c); dep != "" && !seen[dep] {
				seen[dep] = true
				out = append(out, sourceOf(dep, all))
			}
		}
	}
	return out
}

// NodeReg is a node's registration in status.
type NodeReg struct {
	State         string
	LastHeartbeat time.Time
	// Detail says why the state is RegUnknown.
	Detail string
}

// NodeRegistrations gives every node of a deployment that was read its
// registration, keyed by host and container name ("HOST NAME"); the nodes
// of a deployment whose read failed are RegUnknown, with why. Why not
// empty: an operator must tell "the database did not answer" from "not
// a node".
func NodeRegistrations(all []HostState, regs Registrations) map[string]NodeReg {
	depOf := nodeDeployment(all)
	out := map[string]NodeReg{}
	for _, s := range all {
		for _, c := range s.Containers {
			if c.Role != images.RoleNode || swapname.IsTemporary(c.Name) {
				continue
			}
			dep, _ := depOf(c)
			reg, ok := regs[dep]
			switch {
			case !ok:
			case reg.Off != "":
				out[c.Host+" "+c.Name] = NodeReg{State: RegUnknown, Detail: reg.Off}
			default:
				state, hb := NodeRegistration(c, reg.Read.Rows)
				out[c.Host+" "+c.Name] = NodeReg{State: state, LastHeartbeat: hb}
			}
		}
	}
	return out
}
