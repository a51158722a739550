package tarsdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/tarsup/tarsup/fault"
)

// The Tars databases (TARS.md): the core ones every snapshot holds, and the
// monitoring ones, which can be large.
const (
	DBTars       = "db_tars"
	DBTarsWeb    = "db_tars_web"
	DBUserSystem = "db_user_system"
	DBCacheWeb   = "db_cache_web"
	DBStat       = "tars_stat"
	DBProperty   = "tars_property"
)

// CoreDatabases are what a snapshot holds by default (a new slice each call).
func CoreDatabases() []string { return []string{DBTars, DBTarsWeb, DBUserSystem, DBCacheWeb} }

// MonitoringDatabases are what --backup-all adds (a new slice each call).
func MonitoringDatabases() []string { return []string{DBStat, DBProperty} }

// AllDatabases returns the core databases and, with monitoring, the
// monitoring ones too.
func AllDatabases(monitoring bool) []string {
	out := CoreDatabases()
	if monitoring {
		out = append(out, MonitoringDatabases()...)
	}
	return out
}

// DumpArgs are the dump tool's options before --databases: one consistent
// transaction, everything a Tars database holds besides rows, binary data
// as hex, and no date, so that two dumps of the same data are equal.
func DumpArgs() []string {
	return []string{"--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--skip-dump-date"}
}

// dbName is what a database name may be here: the Tars names and their kin.
// Why so strict: names go into SQL and onto the dump's command line.
var dbName = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

func checkNames(dbs []string) error {
	if len(dbs) == 0 {
		return fault.Mark(fault.BadInput, fmt.Errorf("no database named"))
	}
	for _, d := range dbs {
		if !dbName.MatchString(d) {
			return fault.Mark(fault.BadInput, fmt.Errorf("database name %q: use letters, digits, _ and $ only", d))
		}
	}
	return nil
}

// Query runs sql (statements, on stdin) with the client in batch mode and
// returns the rows of its output, without column names: tab-separated
// fields, unescaped (NULL is the string "NULL").
func (c *Client) Query(ctx context.Context, t Target, sql string) ([][]string, error) {
	var out bytes.Buffer
	if err := c.Run(ctx, t, Shell, []string{"--batch", "--skip-column-names"}, strings.NewReader(sql), &out); err != nil {
		return nil, err
	}
	return parseBatch(out.String()), nil
}

// parseBatch splits the client's batch output into rows and fields.
func parseBatch(s string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" && s == "" {
			break
		}
		fields := strings.Split(line, "\t")
		for i, f := range fields {
			fields[i] = unescape(f)
		}
		rows = append(rows, fields)
	}
	return rows
}

// unescape undoes the batch mode's escapes: \\ \t \n \0.
func unescape(f string) string {
	if !strings.Contains(f, `\`) {
		return f
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '\\' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// ServerVersion returns SELECT VERSION() (such as 10.11.19-MariaDB-0+deb12u1).
func (c *Client) ServerVersion(ctx context.Context, t Target) (string, error) {
	rows, err := c.Query(ctx, t, "SELECT VERSION();\n")
	if err != nil {
		return "", err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return "", fmt.Errorf("SELECT VERSION() on %s: unexpected answer %q", t, rows)
	}
	return rows[0][0], nil
}

// Existing returns those of dbs that exist on the server, in dbs's order.
func (c *Client) Existing(ctx context.Context, t Target, dbs []string) ([]string, error) {
	if err := checkNames(dbs); err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, t, "SELECT schema_name FROM information_schema.SCHEMATA WHERE schema_name IN ("+quoted(dbs)+");\n")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r[0]] = true
	}
	var out []string
	for _, d := range dbs {
		if have[d] {
			out = append(out, d)
		}
	}
	return out, nil
}

// DumpInfo is what Dump tells of a dump.
type DumpInfo struct {
	// Bytes is how much was written to w.
	Bytes int64
	// ServerVersion is SELECT VERSION() before the dump.
	ServerVersion string
	// Databases are the databases dumped.
	Databases []string
}

// Dump streams a dump of dbs (DumpArgs, then --databases dbs) to w. Each
// database must exist (see Existing). On an error w may hold part of a dump.
func (c *Client) Dump(ctx context.Context, t Target, dbs []string, w io.Writer) (DumpInfo, error) {
	if err := checkNames(dbs); err != nil {
		return DumpInfo{}, err
	}
	info := DumpInfo{Databases: append([]string{}, dbs...)}
	v, err := c.ServerVersion(ctx, t)
	if err != nil {
		return info, err
	}
	info.ServerVersion = v
	cw := &countingWriter{w: w}
	args := append(append(DumpArgs(), "--databases"), dbs...)
	err = c.Run(ctx, t, Dumper, args, nil, cw)
	info.Bytes = cw.n
	return info, err
}

// LoadArgs are the client's options for a load: --binary-mode, in which a
// client reading its input from a pipe runs none of its own commands but
// DELIMITER (no `system` or `\!` shell, no `source` of a file, no
// `connect` elsewhere), whatever the dump holds.
func LoadArgs() []string { return []string{"--binary-mode"} }

// Load streams a dump (or any statements) from r into the server with the
// client, which stops at the first failing statement.
func (c *Client) Load(ctx context.Context, t Target, r io.Reader) error {
	return c.Run(ctx, t, Shell, LoadArgs(), r, io.Discard)
}

// SchemaFingerprint is a SHA-256, in hex, over the columns of dbs's tables
// (schema, table, column, type, position), ordered: it changes when a
// table, a column or a column's type does, and with nothing else.
func (c *Client) SchemaFingerprint(ctx context.Context, t Target, dbs []string) (string, error) {
	if err := checkNames(dbs); err != nil {
		return "", err
	}
	rows, err := c.Query(ctx, t, "SELECT table_schema, table_name, column_name, column_type, ordinal_position FROM information_schema.COLUMNS "+
		"WHERE table_schema IN ("+quoted(dbs)+") ORDER BY table_schema, table_name, ordinal_position;\n")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, r := range rows {
		fmt.Fprintf(h, "%s\n", strings.Join(r, "\t"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// quoted lists checked names as SQL strings.
func quoted(dbs []string) string {
	q := make([]string, len(dbs))
	for i, d := range dbs {
		q[i] = "'" + d + "'"
	}
	return strings.Join(q, ", ")
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
