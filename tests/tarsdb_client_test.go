//go:build e2e

package tests

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/tarsdb"
	"github.com/tarsup/tarsup/tests/testbed"
)

// tarsdbPassword needs quoting in SQL and in a shell, so that a client that
// put it on a command line or in a script would show it or break.
const tarsdbPassword = `Tdb'p@ss"w0rd $x\`

// connectBed connects tarsup's engine package to a bed engine, TLS and all.
func connectBed(t *testing.T, ctx context.Context, e *testbed.Engine) *engine.Host {
	t.Helper()
	spec := engine.HostSpec{URL: e.Host}
	if e.TLS != nil {
		spec.TLS = engine.TLSOptions{Verify: true, CACert: e.TLS.CA, Cert: e.TLS.Cert, Key: e.TLS.Key}
	}
	h, err := engine.Connect(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// tarsdbSetup runs a database on network netName of d's engine and a
// framework container with env (created, not started: tarsdb reads only its
// environment and networks) on the same network, and locates the database
// from it.
func tarsdbSetup(t *testing.T, d *testbed.Deployer, h *engine.Host, netName string, db testbed.MariaDBSpec, env ...string) (*testbed.Container, tarsdb.Target) {
	t.Helper()
	ctx := t.Context()
	c := d.MariaDB(db)
	d.SQL(c.Name, tarsdbPassword, mariadbSchema)
	fw := d.Run(testbed.ContainerSpec{Name: db.Name + "-framework", Image: bed.Images.Framework3015, Env: env,
		Networks: []testbed.Attachment{{Network: netName}}, NoStart: true})
	return c, locate(t, ctx, h, fw.ID)
}

func locate(t *testing.T, ctx context.Context, h *engine.Host, frameworkID string) tarsdb.Target {
	t.Helper()
	in, err := h.Engine.ContainerInspect(ctx, frameworkID)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := tarsdb.LocateWith(ctx, h.Engine, in, tarsdb.LocateOptions{Host: h.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// dbState is what must not change of the database container.
func dbState(t *testing.T, ctx context.Context, e *testbed.Engine, id string) string {
	t.Helper()
	in, err := e.Client.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return in.ID + " " + in.Name + " " + in.State.StartedAt + " " + in.State.Status
}

// clientsOf lists the tarsdb client containers in db's network namespace.
func clientsOf(t *testing.T, ctx context.Context, e *testbed.Engine, dbID string) []string {
	t.Helper()
	list, err := e.Client.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", tarsdb.LabelClient))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		if c.HostConfig.NetworkMode == "container:"+dbID {
			out = append(out, c.ID[:12]+" "+strings.Join(c.Names, ","))
		}
	}
	return out
}

// TestTarsDBClient checks tarsdb on the main engine against the bed's real
// MariaDB: a database found by its network alias, a query, a dump equal to
// one taken by hand, a load that brings back a deleted row, the schema
// fingerprint, a wrong password named by its variable, the password never
// in `ps`, a cancelled dump that leaves no container, and the database
// container untouched throughout.
func TestTarsDBClient(t *testing.T) {
	ctx := t.Context()
	ref, err := bed.MariaDB(ctx, bed.Local)
	if err != nil {
		t.Fatal(err)
	}
	d := bed.On(ctx, t, bed.Local)
	h := connectBed(t, ctx, bed.Local)
	netName := uniq("tdb-net")
	d.Network(netName, bed.Local.Subnet(150))
	spec := testbed.MariaDBSpec{Name: uniq("tdb-mysql"), Image: ref, Network: netName, Aliases: []string{"mysql"}, RootPassword: tarsdbPassword}
	db, tg := tarsdbSetup(t, d, h, netName, spec, "MYSQL_HOST=mysql", "MYSQL_ROOT_PASSWORD="+tarsdbPassword)
	before := dbState(t, ctx, bed.Local, db.ID)
	if tg.DB != db.Name || tg.DBID != db.ID || tg.MatchedBy != "alias" || tg.NetworkMode != "container:"+db.ID || tg.PasswordVar != "MYSQL_ROOT_PASSWORD" {
		t.Fatalf("located %+v", tg)
	}
	c := tarsdb.NewClient(h.Engine)

	rows, err := c.Query(ctx, tg, "SELECT node_name, endpoint_ip, present_state, tars_version FROM db_tars.t_node_info ORDER BY id;")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "10.0.0.5" || rows[2][3] != `v3.0.14 'quoted' "and" \backslash` {
		t.Errorf("rows %q", rows)
	}

	var dump bytes.Buffer
	info, err := c.Dump(ctx, tg, []string{tarsdb.DBTars}, &dump)
	if err != nil {
		t.Fatal(err)
	}
	byHand := d.MariaDBDump(db, ref, tarsdbPassword, "--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--databases", "db_tars")
	if dump.String() != byHand {
		t.Errorf("tarsdb's dump differs from mariadb-dump's: %s", firstDiff(byHand, dump.String()))
	}
	if info.Bytes != int64(dump.Len()) || !strings.Contains(info.ServerVersion, "MariaDB") {
		t.Errorf("dump info %+v (%d bytes written)", info, dump.Len())
	}
	var again bytes.Buffer
	if _, err := c.Dump(ctx, tg, []string{tarsdb.DBTars}, &again); err != nil || again.String() != dump.String() {
		t.Errorf("a second dump of the same data differs (%v): %s", err, firstDiff(dump.String(), again.String()))
	}

	// A load of the dump brings back what was deleted since.
	d.SQL(db.Name, tarsdbPassword, "DELETE FROM db_tars.t_node_info WHERE node_name = '10.0.0.6';")
	if err := c.Load(ctx, tg, bytes.NewReader(dump.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Query(ctx, tg, "SELECT count(*) FROM db_tars.t_node_info;"); err != nil || len(got) != 1 || got[0][0] != "3" {
		t.Errorf("after the load: %q, %v", got, err)
	}

	fp1, err := c.SchemaFingerprint(ctx, tg, tarsdb.CoreDatabases())
	if err != nil {
		t.Fatal(err)
	}
	fp2, err := c.SchemaFingerprint(ctx, tg, tarsdb.CoreDatabases())
	d.SQL(db.Name, tarsdbPassword, "ALTER TABLE db_tars.t_node_info ADD COLUMN load_avg1 float DEFAULT NULL;")
	fp3, err3 := c.SchemaFingerprint(ctx, tg, tarsdb.CoreDatabases())
	if err != nil || err3 != nil || fp1 != fp2 || fp3 == fp1 {
		t.Errorf("fingerprints %s, %s, after a new column %s (%v, %v)", fp1, fp2, fp3, err, err3)
	}

	tarsdbWrongPassword(t, d, h, netName, db)
	tarsdbNotInPS(t, d, c, tg, db)
	tarsdbCancel(t, c, tg, db)

	if after := dbState(t, ctx, bed.Local, db.ID); after != before {
		t.Errorf("the database container changed: %s, was %s", after, before)
	}
	if left := clientsOf(t, ctx, bed.Local, db.ID); len(left) != 0 {
		t.Errorf("client containers left behind: %v", left)
	}
}

// tarsdbWrongPassword: a framework with a wrong password gets an exit-2
// error that names the database container and the variable, not a password.
func tarsdbWrongPassword(t *testing.T, d *testbed.Deployer, h *engine.Host, netName string, db *testbed.Container) {
	ctx := t.Context()
	wrong := "wrong-" + bed.RunID
	fw := d.Run(testbed.ContainerSpec{Name: uniq("tdb-wrong-framework"), Image: bed.Images.Framework3015,
		Env: []string{"MYSQL_HOST=" + db.Name, "MYSQL_ROOT_PASSWORD=" + wrong}, Networks: []testbed.Attachment{{Network: netName}}, NoStart: true})
	tg := locate(t, ctx, h, fw.ID)
	_, err := tarsdb.NewClient(h.Engine).Query(ctx, tg, "SELECT 1;")
	if err == nil {
		t.Fatal("a wrong password was let in")
	}
	msg := err.Error()
	if fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(msg, db.Name) || !strings.Contains(msg, "MYSQL_ROOT_PASSWORD") || !strings.Contains(msg, "Access denied") {
		t.Errorf("exit %d: %s", fault.ExitCode(err), msg)
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, tarsdbPassword) {
		t.Errorf("a password is in the error: %s", msg)
	}
}

// gateWriter holds the first write until released: the dump (and its
// process) stays alive while the test looks.
type gateWriter struct {
	w       io.Writer
	once    sync.Once
	first   chan struct{}
	release chan struct{}
}

func newGate(w io.Writer) *gateWriter {
	return &gateWriter{w: w, first: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.first); <-g.release })
	return g.w.Write(p)
}

// bigDatabase fills tars_stat with about 13 MB, more than every buffer
// between the dump tool and the test: a held dump blocks its process.
func bigDatabase(d *testbed.Deployer, db *testbed.Container) {
	d.SQL(db.Name, tarsdbPassword, `CREATE DATABASE IF NOT EXISTS tars_stat;
CREATE TABLE IF NOT EXISTS tars_stat.t_big (id int AUTO_INCREMENT PRIMARY KEY, v varchar(1000));
SET SESSION max_recursive_iterations = 1000000;
INSERT INTO tars_stat.t_big (v) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 20000) SELECT REPEAT(MD5(n), 20) FROM s;`)
}

// tarsdbNotInPS: while a dump runs, its process is on the host and no
// process's arguments hold the password.
func tarsdbNotInPS(t *testing.T, d *testbed.Deployer, c *tarsdb.Client, tg tarsdb.Target, db *testbed.Container) {
	ctx := t.Context()
	bigDatabase(d, db)
	g := newGate(io.Discard)
	done := make(chan error, 1)
	var info tarsdb.DumpInfo
	go func() {
		var err error
		info, err = c.Dump(ctx, tg, []string{tarsdb.DBStat}, g)
		done <- err
	}()
	select {
	case <-g.first:
	case err := <-done:
		t.Fatalf("the dump ended before it wrote: %v", err)
	}
	seen := false
	for deadline := time.Now().Add(30 * time.Second); !seen && time.Now().Before(deadline); {
		out, err := exec.CommandContext(ctx, "ps", "-eo", "args").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, tarsdbPassword) {
				t.Errorf("ps shows the password: %s", line)
			}
			if strings.HasPrefix(line, "mariadb-dump ") && strings.Contains(line, "--hex-blob") && strings.Contains(line, "tars_stat") {
				seen = true
			}
		}
		if !seen {
			time.Sleep(100 * time.Millisecond)
		}
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Errorf("no mariadb-dump process was seen in ps while the dump was held")
	}
	if info.Bytes < 10_000_000 {
		t.Errorf("the dump of tars_stat has %d bytes, want over 10 MB", info.Bytes)
	}
}

// tarsdbCancel: a dump cancelled mid-way returns the cancellation and
// leaves no client container.
func tarsdbCancel(t *testing.T, c *tarsdb.Client, tg tarsdb.Target, db *testbed.Container) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g := newGate(io.Discard)
	done := make(chan error, 1)
	go func() {
		_, err := c.Dump(ctx, tg, []string{tarsdb.DBStat}, g)
		done <- err
	}()
	select {
	case <-g.first:
	case err := <-done:
		t.Fatalf("the dump ended before it wrote: %v", err)
	}
	if left := clientsOf(t, t.Context(), bed.Local, db.ID); len(left) != 1 {
		t.Errorf("while the dump runs: client containers %v, want one", left)
	}
	cancel()
	close(g.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled dump returned %v", err)
	}
	if left := clientsOf(t, t.Context(), bed.Local, db.ID); len(left) != 0 {
		t.Errorf("client containers left after a cancelled dump: %v", left)
	}
}

// TestTarsDBClientRemoteEngine dumps a database on an extra engine, reached
// over tcp:// with TLS, on a private bridge with no published port, found
// by its container name: tarsup never dials MySQL itself.
func TestTarsDBClientRemoteEngine(t *testing.T) {
	ctx := t.Context()
	e, _ := extraEngine(t, ctx, 7)
	ref, err := bed.MariaDB(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	d := bed.On(ctx, t, e)
	h := connectBed(t, ctx, e)
	if !h.Remote || e.TLS == nil {
		t.Fatalf("engine %s: remote %v, TLS %v", e.Host, h.Remote, e.TLS)
	}
	netName := uniq("tdb-private")
	d.Network(netName, e.Subnet(151))
	name := uniq("tdb-far-mysql")
	db, tg := tarsdbSetup(t, d, h, netName, testbed.MariaDBSpec{Name: name, Image: ref, Network: netName, RootPassword: tarsdbPassword},
		"MYSQL_HOST="+name, "MYSQL_ROOT_PASSWORD="+tarsdbPassword)
	before := dbState(t, ctx, e, db.ID)
	if tg.DB != name || tg.MatchedBy != "name" || tg.Host != e.Host {
		t.Fatalf("located %+v", tg)
	}
	var dump bytes.Buffer
	info, err := tarsdb.NewClient(h.Engine).Dump(ctx, tg, []string{tarsdb.DBTars}, &dump)
	if err != nil {
		t.Fatal(err)
	}
	byHand := d.MariaDBDump(db, ref, tarsdbPassword, "--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--databases", "db_tars")
	if dump.String() != byHand || info.Bytes != int64(dump.Len()) {
		t.Errorf("the dump over TLS differs from mariadb-dump's (%d bytes): %s", info.Bytes, firstDiff(byHand, dump.String()))
	}
	if after := dbState(t, ctx, e, db.ID); after != before {
		t.Errorf("the database container changed: %s, was %s", after, before)
	}
	if left := clientsOf(t, ctx, e, db.ID); len(left) != 0 {
		t.Errorf("client containers left behind on %s: %v", e.Host, left)
	}
}
