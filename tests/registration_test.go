//go:build e2e

package tests

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// TestRegistrationOffWithoutDatabase: where no database answers (here the
// bed's stand-in, which only accepts connections), the registration check
// is off for that deployment, the report says so once and why, and the run
// goes on; an operator who asked for the check (--register-timeout given)
// gets exit 2, and nothing changed.
func TestRegistrationOffWithoutDatabase(t *testing.T) {
	bed.Parallel(t, regEngineSlot)
	ctx := t.Context()
	e, flags := regEngine(t)
	d := bed.On(ctx, t, e)
	p := uniq("regoff-")
	// Nodes already at v3.0.16: the framework may move there alone.
	node := floatingNode(t, ctx, "regoff-"+bed.RunID, "v3.0.16")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: p, Subnet: e.Subnet(160), Nodes: 1, NodeImage: node})
	args := append(append([]string{"upgrade", "--to", "v3.0.16", "--only", dep.Framework.Name}, flags...), gateFlags...)

	r := tarsup(t, ctx, append(args, "--dry-run")...)
	off := "registration check off for deployment " + dep.DB.IP + ":3306 (" + dep.Framework.Name + " on " + e.Host + "): "
	requireExit(t, r, 0, off)
	if n := strings.Count(r.Stdout, "registration check off"); n != 1 {
		t.Errorf("the report says %d times that the check is off, want once:\n%s", n, r.Stdout)
	}
	if strings.Contains(r.Stdout, "reregister") {
		t.Errorf("a registration check planned without a database:\n%s", r.Stdout)
	}

	before := snapshot(t, ctx, e, p)
	r = tarsup(t, ctx, append(args, "--register-timeout", "30s")...)
	requireExit(t, r, 2, off, "--register-timeout 0", "nothing was changed")
	requireUnchanged(t, before, snapshot(t, ctx, e, p))
}

// regEngine is the extra engine these tests run on (slot 8, over TCP and
// TLS, so the database is read through a remote engine), with the flags
// that reach it. Why an engine of their own: their runs wait for
// registrations, and other tests' long runs hold the main engine's lock.
func regEngine(t *testing.T) (*testbed.Engine, []string) {
	t.Helper()
	return extraEngine(t, t.Context(), regEngineSlot)
}

// regEngineSlot is the extra engine of these tests; they wait for
// heartbeats, so they run beside the other engines' tests (bed.Parallel).
const regEngineSlot = 8

// regDeployment lays a deployment out on e's real MariaDB (k is its
// subnet), with nodes at v3.0.16 already, so that the framework may move
// there alone; it waits until every node is active in t_node_info.
func regDeployment(t *testing.T, d *testbed.Deployer, e *testbed.Engine, prefix string, k, nodes int) *testbed.TarsDeployment {
	t.Helper()
	ctx := t.Context()
	maria, err := bed.MariaDB(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	node := floatingNode(t, ctx, prefix+bed.RunID, "v3.0.16")
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq(prefix), Subnet: e.Subnet(k), Nodes: nodes, NodeImage: node, MariaDB: maria})
	for _, n := range dep.Nodes {
		d.WaitNodeActive(dep, n.IP)
	}
	return dep
}

// nodeVariant pushes a node image at v3.0.16 whose fake tarsnode has env
// (FAKE_REGISTER_IP, FAKE_NO_HEARTBEAT), under a tag of its own.
func nodeVariant(t *testing.T, tag string, env ...string) string {
	t.Helper()
	ref, _, err := bed.Images.Push(t.Context(), testbed.ImageSpec{Repo: testbed.NodeRepo, Tag: tag + "-" + bed.RunID, Role: testbed.RoleNode, Version: "v3.0.16", Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// upgradeJSON is what the registration tests read of upgrade's JSON report.
type upgradeJSON struct {
	Registration struct {
		Checks []struct {
			Container, After, Result, Problem string
			NodeName                          string `json:"node_name"`
			EndpointIP                        string `json:"endpoint_ip"`
		} `json:"checks"`
	} `json:"registration"`
}

// TestRegistrationAfterUpgrade: after an upgrade of the framework and the
// nodes, every node that was active is active again, at the same IP, with a
// heartbeat newer than the run: tarsup checked each after the framework
// steps and after the node steps (the dry run shows those steps), and the
// status shows each node's registration and last heartbeat.
func TestRegistrationAfterUpgrade(t *testing.T) {
	bed.Parallel(t, regEngineSlot)
	ctx := t.Context()
	e, flags := regEngine(t)
	d := bed.On(ctx, t, e)
	dep := regDeployment(t, d, e, "regup-", 161, 2)
	newNode := nodeVariant(t, "regup-new", "REG_VARIANT=new")
	args := append(append([]string{"upgrade", "--to", "v3.0.16", "--node-image", newNode, "--register-timeout", "60s",
		"--only", dep.Framework.Name, "--only", dep.Nodes[0].Name, "--only", dep.Nodes[1].Name}, flags...), gateFlags...)

	r := tarsup(t, ctx, append(args, "--dry-run")...)
	requireExit(t, r, 0, "# registration after the framework", "# registration after the nodes",
		dep.Nodes[0].Name+": reregister: active again at "+dep.Nodes[0].IP+" in db_tars.t_node_info and heartbeating, within 1m0s")

	rowsBefore := len(d.NodeRows(dep))
	since := d.DBNow(dep)
	r = tarsup(t, ctx, append(args, "--format", "json")...)
	requireExit(t, r, 0)
	var rep upgradeJSON
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, r.Stdout)
	}
	got := map[string]string{}
	for _, c := range rep.Registration.Checks {
		got[c.Container+" "+c.After] = c.Result + " " + c.EndpointIP
	}
	for _, n := range dep.Nodes {
		for _, after := range []string{"after the framework steps", "after the node steps"} {
			if g := got[n.Name+" "+after]; g != "ok "+n.IP {
				t.Errorf("check of %s %s: %q, want ok at %s (checks %v)", n.Name, after, g, n.IP, got)
			}
		}
		row, ok := d.NodeRow(dep, n.IP)
		if !ok || row.PresentState != "active" || row.EndpointIP != n.IP || row.LastHeartbeat <= since {
			t.Errorf("%s: row %+v, want active at %s with a heartbeat after %s", n.Name, row, n.IP, since)
		}
	}
	if n := len(d.NodeRows(dep)); n != rowsBefore {
		t.Errorf("t_node_info has %d rows, had %d: a node came back as a new one", n, rowsBefore)
	}

	r = tarsup(t, ctx, append([]string{"status", "--format", "json"}, flags...)...)
	requireExit(t, r, 0)
	var rows []struct {
		Name, Role, Registration string
		LastHeartbeat            string `json:"last_heartbeat"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.Stdout)
	}
	seen := 0
	for _, row := range rows {
		switch row.Name {
		case dep.Nodes[0].Name, dep.Nodes[1].Name:
			seen++
			if _, err := time.Parse(time.RFC3339, row.LastHeartbeat); row.Registration != "active" || err != nil {
				t.Errorf("status of %s: registration %q, last_heartbeat %q (%v), want active and an RFC 3339 time", row.Name, row.Registration, row.LastHeartbeat, err)
			}
		case dep.Framework.Name, dep.DB.Name:
			if row.Registration != "" || row.LastHeartbeat != "" {
				t.Errorf("status of %s (%s): registration %q, last_heartbeat %q, want them empty", row.Name, row.Role, row.Registration, row.LastHeartbeat)
			}
		}
	}
	if seen != 2 {
		t.Errorf("status listed %d of the 2 nodes:\n%s", seen, r.Stdout)
	}
	r = tarsup(t, ctx, append([]string{"status"}, flags...)...)
	requireExit(t, r, 0, "REGISTRATION", "LAST HEARTBEAT")
}

// TestRegistrationNamesBadNodes: a node that comes back with another IP
// (a new row in Tars) and one that registers but never heartbeats are
// restarted once, then named with their host, node IP and what was wrong:
// exit 1.
func TestRegistrationNamesBadNodes(t *testing.T) {
	bed.Parallel(t, regEngineSlot)
	for _, tc := range []struct {
		name, problem string
		k             int
		env           func(subnet string) string
	}{
		{name: "another IP", problem: "other IP", k: 162, env: func(subnet string) string {
			return "FAKE_REGISTER_IP=" + testbed.HostIP(subnet, 99)
		}},
		{name: "no heartbeat", problem: "", k: 163, env: func(string) string { return "FAKE_NO_HEARTBEAT=true" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			e, flags := regEngine(t)
			d := bed.On(ctx, t, e)
			dep := regDeployment(t, d, e, "regbad"+strconv.Itoa(tc.k)+"-", tc.k, 1)
			n := dep.Nodes[0]
			img := nodeVariant(t, "regbad"+strconv.Itoa(tc.k), tc.env(e.Subnet(tc.k)))
			r := tarsup(t, ctx, append(append([]string{"upgrade", "--only", n.Name, "--node-image", img, "--register-timeout", "20s"}, flags...), gateFlags...)...)
			named := "node " + n.Name + " on " + e.Host + " (node IP " + n.IP + ") is not registered again after the node steps, even after a restart: "
			requireExit(t, r, 1, named+tc.problem, "registration in db_tars.t_node_info:", "restarting")
			if tc.problem == "" && !strings.Contains(r.Stderr, named+"inactive") && !strings.Contains(r.Stderr, named+"old heartbeat") {
				t.Errorf("stderr does not say inactive or old heartbeat:\n%s", r.Stderr)
			}
		})
	}
}
