//go:build e2e

package tests

import (
	"context"
	"encoding/json"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tarsup/tarsup/tests/testbed"
)

// statusRow is one object of `tarsup status --format json` (issue 2).
type statusRow struct {
	Host    string   `json:"host"`
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Role    string   `json:"role"`
	Slave   bool     `json:"slave"`
	Image   string   `json:"image"`
	Version string   `json:"version"`
	State   string   `json:"state"`
	Health  string   `json:"health"`
	Rebuild bool     `json:"rebuild"`
	IPs     []string `json:"ips"`
}

// wantRow is what status must say of one container of the fixture.
type wantRow struct {
	id, role, image, version, state, health, ip string
	slave, rebuild                              bool
}

// statusFixture lays out on e what issue 2 names: a master framework, a slave
// framework with REBUILD=true, a running and a stopped node, a db container
// and an unrelated container. It returns what status must report for each
// Tars container, by name, and the name of the unrelated one.
func statusFixture(t *testing.T, ctx context.Context, e *testbed.Engine, prefix, subnet string) (map[string]wantRow, string) {
	t.Helper()
	d := bed.On(ctx, t, e)
	im := bed.Images
	dep := d.TarsDocs(testbed.TarsLayout{Prefix: prefix, Subnet: subnet, Nodes: 2})

	slaveIP := testbed.HostIP(subnet, 4)
	slave := d.Run(testbed.ContainerSpec{
		Name:  prefix + "slave",
		Image: im.Framework3015,
		Env: []string{"MYSQL_HOST=" + dep.DB.IP, "MYSQL_ROOT_PASSWORD=tars2015", "MYSQL_USER=root",
			"MYSQL_PORT=3306", "SLAVE=true", "REBUILD=true", "INET=eth0"},
		Volumes:  []string{prefix + "slave-data:/data/tars"},
		Networks: []testbed.Attachment{{Network: dep.Network, IPv4: slaveIP}},
		Restart:  "always",
	})
	d.WaitTCP(net.JoinHostPort(slaveIP, "17890"))

	running, stopped := dep.Nodes[0], dep.Nodes[1]
	d.Stop(stopped.Name)

	other := d.Run(testbed.ContainerSpec{
		Name:     prefix + "nginx",
		Image:    im.Nginx,
		Networks: []testbed.Attachment{{Network: dep.Network, IPv4: testbed.HostIP(subnet, 9)}},
		Restart:  "unless-stopped",
	})

	want := map[string]wantRow{
		dep.Framework.Name: {id: dep.Framework.ID, role: "framework", image: im.Framework3015, version: "v3.0.15",
			state: "running", health: "healthy", ip: dep.Framework.IP},
		slave.Name: {id: slave.ID, role: "framework", image: im.Framework3015, version: "v3.0.15",
			state: "running", health: "healthy", ip: slaveIP, slave: true, rebuild: true},
		running.Name: {id: running.ID, role: "node", image: im.NodeLatest,
			state: "running", health: "healthy", ip: running.IP},
		stopped.Name: {id: stopped.ID, role: "node", image: im.NodeLatest,
			state: "exited", health: "stopped"},
		dep.DB.Name: {id: dep.DB.ID, role: "db", image: im.MySQL, state: "running", ip: dep.DB.IP},
	}
	return want, other.Name
}

// tlsArgs are the docker-CLI-style TLS flags for an extra engine.
func tlsArgs(e *testbed.Engine) []string {
	return []string{"--tlsverify", "--tlscacert", e.TLS.CA, "--tlscert", e.TLS.Cert, "--tlskey", e.TLS.Key}
}

// extraEngine starts (or reuses) the extra engine of that slot and returns
// it with the flags tarsup needs to reach it (TLS, direct probes: the test
// process reaches every container by its bridge IP).
func extraEngine(t testing.TB, ctx context.Context, index int) (*testbed.Engine, []string) {
	t.Helper()
	e, err := bed.Engine(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	return e, append(append([]string{"--host", e.Host}, tlsArgs(e)...), "--probe", "direct")
}

// statusJSON runs `tarsup status --format json` and decodes its rows.
func statusJSON(t *testing.T, ctx context.Context, args ...string) []statusRow {
	t.Helper()
	res := testbed.Run(ctx, bed.Tarsup(t), append([]string{"status", "--format", "json"}, args...)...)
	if res.ExitCode != 0 {
		t.Fatalf("tarsup status %v: %s", args, res)
	}
	var rows []statusRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		t.Fatalf("tarsup status --format json: not a JSON array of rows: %v\n%s", err, res)
	}
	return rows
}

// checkRows compares the rows of one host whose names start with prefix
// (other tests may share the engine) with want: exactly those containers, and
// none named other.
func checkRows(t *testing.T, rows []statusRow, host, prefix string, want map[string]wantRow, other string) {
	t.Helper()
	got := map[string]statusRow{}
	for _, r := range rows {
		if r.Host != host || !strings.HasPrefix(r.Name, prefix) {
			continue
		}
		if _, dup := got[r.Name]; dup {
			t.Errorf("%s listed twice on %s", r.Name, host)
		}
		got[r.Name] = r
	}
	if _, ok := got[other]; ok {
		t.Errorf("the unrelated container %s is listed: %+v", other, got[other])
	}
	if len(got) != len(want) {
		t.Errorf("status on %s lists %d containers named %s*, want exactly %d: %v", host, len(got), prefix, len(want), sortedKeys(got))
	}
	for name, w := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("%s on %s missing from status", name, host)
			continue
		}
		if r.ID == "" || len(r.ID) < 12 || !strings.HasPrefix(w.id, r.ID) {
			t.Errorf("%s: id %q is not a prefix of %s", name, r.ID, w.id)
		}
		if r.Role != w.role || r.Slave != w.slave || r.Rebuild != w.rebuild {
			t.Errorf("%s: role %q slave %t rebuild %t, want %q %t %t", name, r.Role, r.Slave, r.Rebuild, w.role, w.slave, w.rebuild)
		}
		if r.Image != w.image {
			t.Errorf("%s: image %q, want %q", name, r.Image, w.image)
		}
		if w.version != "" && r.Version != w.version {
			t.Errorf("%s: version %q, want %q", name, r.Version, w.version)
		}
		if r.State != w.state {
			t.Errorf("%s: state %q, want %q", name, r.State, w.state)
		}
		if w.health != "" && r.Health != w.health {
			t.Errorf("%s: health %q, want %q", name, r.Health, w.health)
		}
		if w.ip != "" && !contains(r.IPs, w.ip) {
			t.Errorf("%s: ips %v, want %s among them", name, r.IPs, w.ip)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]statusRow) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestStatusOneEngine: the five Tars containers of one engine, with their
// roles, slave, rebuild and health; the unrelated container left out.
func TestStatusOneEngine(t *testing.T) {
	ctx := t.Context()
	prefix := uniq("st1-")
	want, other := statusFixture(t, ctx, bed.Local, prefix, bed.Local.Subnet(10))
	rows := statusJSON(t, ctx, "--host", bed.Local.Host)
	checkRows(t, rows, bed.Local.Host, prefix, want, other)
}

// TestStatusTwoEngines: the local socket and a TLS engine in one command.
func TestStatusTwoEngines(t *testing.T) {
	ctx := t.Context()
	remote, err := bed.Engine(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	localPrefix, remotePrefix := uniq("st2l-"), uniq("st2r-")
	wantLocal, otherLocal := statusFixture(t, ctx, bed.Local, localPrefix, bed.Local.Subnet(11))
	wantRemote, otherRemote := statusFixture(t, ctx, remote, remotePrefix, remote.Subnet(11))

	args := append([]string{"--host", bed.Local.Host, "--host", remote.Host}, tlsArgs(remote)...)
	rows := statusJSON(t, ctx, args...)
	checkRows(t, rows, bed.Local.Host, localPrefix, wantLocal, otherLocal)
	checkRows(t, rows, remote.Host, remotePrefix, wantRemote, otherRemote)
	for _, r := range rows {
		if r.Host != bed.Local.Host && r.Host != remote.Host {
			t.Errorf("row for %s names host %q, neither of the two given", r.Name, r.Host)
		}
	}
}

// TestStatusUnreachableEngine: an engine that refuses connections, and one
// that accepts them and never answers, end the command with exit 2 and the
// URL in the message, without hanging.
func TestStatusUnreachableEngine(t *testing.T) {
	closed := freeLoopbackPort(t)
	silent := silentListener(t)

	for _, url := range []string{"tcp://" + closed, "tcp://" + silent} {
		t.Run(url, func(t *testing.T) {
			// Generous: issue 2 asks for 10 s; this only keeps a hang from
			// blocking the run, and a killed run fails the exit-code check.
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			res := testbed.Run(ctx, bed.Tarsup(t), "status", "--format", "json", "--host", url)
			if res.ExitCode != 2 {
				t.Fatalf("status against %s: want exit 2, got %s", url, res)
			}
			if !strings.Contains(res.Stderr, strings.TrimPrefix(url, "tcp://")) {
				t.Errorf("the message does not name %s:\n%s", url, res.Stderr)
			}
		})
	}

	// One engine down fails the whole command, even with a good one beside it.
	ctx := t.Context()
	res := testbed.Run(ctx, bed.Tarsup(t), "status", "--format", "json", "--host", bed.Local.Host, "--host", "tcp://"+closed)
	if res.ExitCode != 2 || !strings.Contains(res.Stderr, closed) {
		t.Errorf("status with one engine down: want exit 2 naming %s, got %s", closed, res)
	}
}

// TestStatusRefusesPlainRemoteTCP: a plain tcp:// engine on a non-loopback
// address without TLS is refused before anything is dialled.
func TestStatusRefusesPlainRemoteTCP(t *testing.T) {
	ctx := t.Context()
	const url = "tcp://192.0.2.1:2375"
	res := testbed.Run(ctx, bed.Tarsup(t), "status", "--format", "json", "--host", url)
	if res.ExitCode != 2 {
		t.Fatalf("status --host %s without TLS: want exit 2 (refused), got %s", url, res)
	}
	if !strings.Contains(res.Stderr, "192.0.2.1:2375") {
		t.Errorf("the refusal does not name the engine:\n%s", res.Stderr)
	}

	// The refusal happens before dialling: a listener on one of this
	// machine's own non-loopback addresses sees no connection at all.
	ip := nonLoopbackIPv4(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	res = testbed.Run(ctx, bed.Tarsup(t), "status", "--format", "json", "--host", "tcp://"+addr)
	if res.ExitCode != 2 {
		t.Errorf("status --host tcp://%s without TLS: want exit 2 (refused), got %s", addr, res)
	}
	// A connection made during the run waits in the backlog: Accept finds it.
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Errorf("tarsup connected to %s before refusing it", addr)
	}

	// --insecure allows it: then the engine is dialled, which the same
	// listener sees (so the check above can see a connection when there is one).
	res = testbed.Run(ctx, bed.Tarsup(t), "status", "--format", "json", "--insecure", "--host", "tcp://"+addr)
	if res.ExitCode == 0 {
		t.Errorf("status against a listener that is no engine succeeded: %s", res)
	}
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("with --insecure, tarsup did not dial %s: %v (%s)", addr, err, res)
	}
	c.Close()
}

// freeLoopbackPort returns 127.0.0.1:port where nothing listens.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentListener accepts connections and never answers, until the test ends.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// nonLoopbackIPv4 returns an IPv4 address of this machine that is not a
// loopback address (docker0's gateway at worst).
func nonLoopbackIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	t.Fatal("no non-loopback IPv4 address on this machine")
	return ""
}
