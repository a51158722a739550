package testbed

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// NodeRow is a row of db_tars.t_node_info. Times are the database's
// (DATETIME, "2006-01-02 15:04:05"; "" for NULL): compare them with each
// other or with DBNow, never with this process's clock.
type NodeRow struct {
	ID            int
	Name          string // node_name: the node's IP as it registered
	EndpointIP    string
	EndpointPort  int
	PresentState  string // active or inactive
	LastRegTime   string
	LastHeartbeat string
	TarsVersion   string
}

// nodeColumns are NodeRow's columns, in its order.
const nodeColumns = "id, node_name, endpoint_ip, endpoint_port, present_state, last_reg_time, last_heartbeat, tars_version"

// tarsDB fails the test unless dep runs on MariaDB, and returns its
// database container's name.
func (d *Deployer) tarsDB(dep *TarsDeployment) string {
	d.t.Helper()
	if dep.MariaDB == "" {
		d.t.Fatal("the deployment has no real database: lay it out with TarsLayout.MariaDB")
	}
	return dep.DB.Name
}

// TarsSQL runs statements in dep's database (see Deployer.SQL) and returns
// what the client printed: tab-separated rows, NULL as "NULL".
func (d *Deployer) TarsSQL(dep *TarsDeployment, statements string) string {
	d.t.Helper()
	return d.SQL(d.tarsDB(dep), dep.DBPassword, statements)
}

// TarsDump dumps dep's database with mariadb-dump (see Deployer.MariaDBDump);
// args such as "--databases", "db_tars".
func (d *Deployer) TarsDump(dep *TarsDeployment, args ...string) string {
	d.t.Helper()
	d.tarsDB(dep)
	return d.MariaDBDump(dep.DB, dep.MariaDB, dep.DBPassword, args...)
}

// NodeRows returns every row of db_tars.t_node_info, by id.
func (d *Deployer) NodeRows(dep *TarsDeployment) []NodeRow {
	d.t.Helper()
	rows, err := d.nodeRows(d.ctx, dep, "")
	if err != nil {
		d.t.Fatal(err)
	}
	return rows
}

// NodeRow returns the t_node_info row whose node_name is name, and whether
// there is one.
func (d *Deployer) NodeRow(dep *TarsDeployment, name string) (NodeRow, bool) {
	d.t.Helper()
	rows, err := d.nodeRows(d.ctx, dep, name)
	if err != nil {
		d.t.Fatal(err)
	}
	if len(rows) == 0 {
		return NodeRow{}, false
	}
	return rows[0], true
}

func (d *Deployer) nodeRows(ctx context.Context, dep *TarsDeployment, name string) ([]NodeRow, error) {
	q := "SELECT " + nodeColumns + " FROM db_tars.t_node_info"
	if name != "" {
		q += " WHERE node_name = " + sqlString(name)
	}
	out, err := d.sqlCtx(ctx, d.tarsDB(dep), dep.DBPassword, q+" ORDER BY id;")
	if err != nil {
		return nil, err
	}
	var rows []NodeRow
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			return nil, fmt.Errorf("t_node_info: unexpected row %q", line)
		}
		for i := range f {
			if f[i] == "NULL" {
				f[i] = ""
			}
		}
		id, _ := strconv.Atoi(f[0])
		port, _ := strconv.Atoi(f[3])
		rows = append(rows, NodeRow{ID: id, Name: f[1], EndpointIP: f[2], EndpointPort: port,
			PresentState: f[4], LastRegTime: f[5], LastHeartbeat: f[6], TarsVersion: f[7]})
	}
	return rows, nil
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

var tableRE = regexp.MustCompile(`^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$`)

// CountRows returns the number of rows of table (database.table, e.g.
// db_tars.t_server_conf) that match where ("" for all), e.g.
// CountRows(dep, "db_tars.t_server_conf", "node_name = '10.0.0.3'").
func (d *Deployer) CountRows(dep *TarsDeployment, table, where string) int {
	d.t.Helper()
	if !tableRE.MatchString(table) {
		d.t.Fatalf("CountRows: %q is not database.table", table)
	}
	q := "SELECT COUNT(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	out := strings.TrimSpace(d.TarsSQL(dep, q+";"))
	n, err := strconv.Atoi(out)
	if err != nil {
		d.t.Fatalf("CountRows %s: %q", table, out)
	}
	return n
}

// HasColumn tells whether database.table has column.
func (d *Deployer) HasColumn(dep *TarsDeployment, table, column string) bool {
	d.t.Helper()
	db, tbl, ok := strings.Cut(table, ".")
	if !ok {
		d.t.Fatalf("HasColumn: %q is not database.table", table)
	}
	q := "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " + sqlString(db) +
		" AND TABLE_NAME = " + sqlString(tbl) + " AND COLUMN_NAME = " + sqlString(column) + ";"
	return strings.TrimSpace(d.TarsSQL(dep, q)) == "1"
}

// DBNow is the database's clock now (DATETIME), to compare with NodeRow times.
func (d *Deployer) DBNow(dep *TarsDeployment) string {
	d.t.Helper()
	return strings.TrimSpace(d.TarsSQL(dep, "SELECT now();"))
}

// WaitNodeActive waits until node name (node_name, its IP) has a
// t_node_info row with present_state active, and returns it.
func (d *Deployer) WaitNodeActive(dep *TarsDeployment, name string) NodeRow {
	d.t.Helper()
	return d.WaitNode(dep, name, "node "+name+" active", func(r NodeRow) bool { return r.PresentState == "active" })
}

// WaitNodeInactive waits until node name's row has present_state inactive:
// its heartbeats stopped for longer than the registry's node timeout.
func (d *Deployer) WaitNodeInactive(dep *TarsDeployment, name string) NodeRow {
	d.t.Helper()
	return d.WaitNode(dep, name, "node "+name+" inactive", func(r NodeRow) bool { return r.PresentState == "inactive" })
}

// WaitHeartbeatAfter waits until node name is active with a last_heartbeat
// later than since (a database time, e.g. from DBNow).
func (d *Deployer) WaitHeartbeatAfter(dep *TarsDeployment, name, since string) NodeRow {
	d.t.Helper()
	return d.WaitNode(dep, name, "node "+name+" active with a heartbeat after "+since, func(r NodeRow) bool {
		return r.PresentState == "active" && r.LastHeartbeat > since
	})
}

// WaitNode waits until node name's row exists and ok says yes (what names
// the wait in the failure, with the last row seen), and returns it.
func (d *Deployer) WaitNode(dep *TarsDeployment, name, what string, ok func(NodeRow) bool) NodeRow {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, waitTimeout)
	defer cancel()
	last := "no t_node_info row named " + name
	for {
		// Why 10 s a try: an exec in the database container can take
		// seconds on a loaded machine.
		tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
		rows, err := d.nodeRows(tctx, dep, name)
		tcancel()
		switch {
		case err != nil && ctx.Err() == nil:
			last = err.Error()
		case err == nil && len(rows) > 0 && ok(rows[0]):
			return rows[0]
		case err == nil && len(rows) > 0:
			last = fmt.Sprintf("t_node_info row %+v", rows[0])
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("wait for %s: %s (gave up after %s)", what, last, waitTimeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sqlCtx is SQL with a context and an error instead of a failed test.
func (d *Deployer) sqlCtx(ctx context.Context, name, password, statements string) (string, error) {
	r, err := d.exec(ctx, name, mariadbEnv(password), strings.NewReader(statements),
		"mariadb", "-h127.0.0.1", "-uroot", "--batch", "--skip-column-names")
	if err != nil {
		return "", fmt.Errorf("SQL in %s on %s: %w", name, d.Engine.Host, err)
	}
	if r.ExitCode != 0 {
		return "", fmt.Errorf("SQL in %s on %s: exit %d: %s", name, d.Engine.Host, r.ExitCode, strings.TrimSpace(r.Stderr))
	}
	return r.Stdout, nil
}

// Replace removes the container named spec.Name (forced; its named volumes
// stay) and runs spec in its place: a framework run again by hand with
// other variables, a node that comes back with another address.
func (d *Deployer) Replace(spec ContainerSpec) *Container {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	if err := d.Engine.Client.ContainerRemove(ctx, spec.Name, container.RemoveOptions{Force: true}); err != nil {
		d.t.Fatalf("remove %s on %s: %v", spec.Name, d.Engine.Host, err)
	}
	return d.Run(spec)
}
