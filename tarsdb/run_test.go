package tarsdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/owner"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

// located returns the fake bed's target by alias and a client on it.
func located(t *testing.T) (*fakeEngine, Target, *Client) {
	f, fw, _ := bed(t, "MYSQL_HOST=mysql", "MYSQL_ROOT_PASSWORD="+secret)
	tg, err := LocateWith(t.Context(), f, fw, LocateOptions{Host: "local"})
	if err != nil {
		t.Fatal(err)
	}
	return f, tg, &Client{Engine: f, Self: owner.Owner{Machine: "m", PID: 7, Start: "1"}}
}

func TestCreateRequest(t *testing.T) {
	f, tg, c := located(t)
	var stdinSeen string
	f.run = func(_ context.Context, _ request, stdin io.Reader) (string, string, int) {
		b, _ := io.ReadAll(stdin)
		stdinSeen = string(b)
		return "10.11.19-MariaDB\n", "", 0
	}
	v, err := c.ServerVersion(t.Context(), tg)
	if err != nil || v != "10.11.19-MariaDB" {
		t.Fatalf("version %q, %v", v, err)
	}
	if stdinSeen != "SELECT VERSION();\n" {
		t.Errorf("the SQL went in as %q", stdinSeen)
	}
	if len(f.created) != 1 {
		t.Fatalf("%d containers created", len(f.created))
	}
	for id, r := range f.created {
		cfg, hc := r.Config, r.Host
		all := strings.Join(append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...), " ")
		if strings.Contains(all, secret) {
			t.Errorf("the password is on the command line: %q", all)
		}
		if len(cfg.Env) != 0 || r.Password != secret {
			t.Errorf("env %q and password line %q, want no env and the password as stdin's first line", cfg.Env, r.Password)
		}
		if hc.LogConfig.Type != "none" {
			t.Errorf("log driver %q, want none: the engine must keep no copy of the output", hc.LogConfig.Type)
		}
		wantCmd := []string{"mariadb", "mysql", "--protocol=TCP", "-h127.0.0.1", "-P3306", "-uroot", "--batch", "--skip-column-names"}
		if cfg.Entrypoint[0] != "sh" || cfg.Entrypoint[1] != "-c" || !reflect.DeepEqual([]string(cfg.Cmd), wantCmd) {
			t.Errorf("entrypoint %q cmd %q, want sh -c and %q", cfg.Entrypoint, cfg.Cmd, wantCmd)
		}
		if cfg.Image != tg.Image || !strings.HasPrefix(tg.Image, "sha256:") {
			t.Errorf("image %q, want the database's image ID %q", cfg.Image, tg.Image)
		}
		if hc.NetworkMode != container.NetworkMode("container:"+tg.DBID) || !hc.AutoRemove || hc.RestartPolicy.Name != container.RestartPolicyDisabled {
			t.Errorf("host config %+v", hc)
		}
		if !cfg.OpenStdin || !cfg.StdinOnce || !cfg.AttachStdin || cfg.Tty {
			t.Errorf("stdin: open %v once %v attach %v tty %v", cfg.OpenStdin, cfg.StdinOnce, cfg.AttachStdin, cfg.Tty)
		}
		l := cfg.Labels
		if l[LabelClient] == "" || l[plan.LabelProbe] == "" || l[images.RoleLabel] != "ignore" || l[plan.LabelTxnOwner] != "m/7/1" {
			t.Errorf("labels %v", l)
		}
		if _, err := time.Parse(time.RFC3339, l[plan.LabelTxnStarted]); err != nil {
			t.Errorf("started label: %v", err)
		}
		if len(f.removed) != 1 || f.removed[0] != id {
			t.Errorf("removed %v, want %s", f.removed, id)
		}
	}
	if left := f.clients(); len(left) != 0 {
		t.Errorf("client containers left: %v", left)
	}
	if f.removeWaits != 1 {
		t.Errorf("%d waits for the removal, want 1: tarsup must not end while the engine still removes a client", f.removeWaits)
	}
}

// The client's tool script picks the MariaDB name, else the MySQL one.
func TestDumpRequest(t *testing.T) {
	f, tg, c := located(t)
	var dumps []request
	f.run = func(_ context.Context, r request, stdin io.Reader) (string, string, int) {
		if r.Config.Cmd[0] == "mariadb-dump" {
			if b, _ := io.ReadAll(stdin); len(b) != 0 {
				t.Errorf("the dump got %q on stdin after the password", b)
			}
			dumps = append(dumps, r)
			return "-- dump\nCREATE DATABASE db_tars;\n", "", 0
		}
		return "10.11.19-MariaDB\n", "", 0
	}
	var out bytes.Buffer
	info, err := c.Dump(t.Context(), tg, []string{DBTars, DBStat}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != int64(out.Len()) || out.String() != "-- dump\nCREATE DATABASE db_tars;\n" || info.ServerVersion != "10.11.19-MariaDB" {
		t.Errorf("info %+v, dump %q", info, out.String())
	}
	want := []string{"mariadb-dump", "mysqldump", "--protocol=TCP", "-h127.0.0.1", "-P3306", "-uroot",
		"--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--skip-dump-date", "--databases", "db_tars", "tars_stat"}
	if len(dumps) != 1 || !reflect.DeepEqual([]string(dumps[0].Config.Cmd), want) {
		t.Errorf("dump commands %v, want %q", dumps, want)
	}
	if _, err := c.Dump(t.Context(), tg, []string{"db_tars; DROP"}, io.Discard); !errors.Is(err, fault.BadInput) {
		t.Errorf("a bad database name: %v", err)
	}
}

// A refused password: the error names the container and the variable, is
// exit 2, and shows no password even where the client's stderr had it.
func TestScrubbing(t *testing.T) {
	f, tg, c := located(t)
	f.run = func(context.Context, request, io.Reader) (string, string, int) {
		return "", "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES) " + secret + "\n", 1
	}
	_, err := c.Query(t.Context(), tg, "SELECT 1;")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, secret) {
		t.Errorf("the password is in the error: %s", msg)
	}
	for _, w := range []string{"tars-mysql", "MYSQL_ROOT_PASSWORD", "tars-framework", "Access denied", "exited 1"} {
		if !strings.Contains(msg, w) {
			t.Errorf("the error lacks %q: %s", w, msg)
		}
	}
	if fault.ExitCode(err) != fault.ExitBadInput || !IsAccessDenied(err) {
		t.Errorf("exit %d, access denied %v", fault.ExitCode(err), IsAccessDenied(err))
	}
	if got := scrubErr(errors.New("x "+secret+" y"), secret).Error(); got != "x ***** y" {
		t.Errorf("scrubErr: %q", got)
	}
	f.run = func(context.Context, request, io.Reader) (string, string, int) {
		return "", "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)\n", 1
	}
	if _, err := c.Query(t.Context(), tg, "SELECT 1;"); !errors.Is(err, fault.Unreachable) || !strings.Contains(err.Error(), "port 3306") {
		t.Errorf("unreachable: %v", err)
	}
	f.run = func(context.Context, request, io.Reader) (string, string, int) {
		return "", "tarsdb: neither mariadb nor mysql is in this image\n", 127
	}
	if _, err := c.Query(t.Context(), tg, "SELECT 1;"); err == nil || !strings.Contains(err.Error(), "no MySQL client tools") {
		t.Errorf("no tools: %v", err)
	}
}

// A cancelled run ends the client and removes its container.
func TestRunCancelled(t *testing.T) {
	f, tg, c := located(t)
	started := make(chan struct{})
	f.run = func(life context.Context, _ request, _ io.Reader) (string, string, int) {
		close(started)
		<-life.Done() // until removed
		return "", "", 137
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	_, err := c.Dump(ctx, tg, []string{DBTars}, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if left := f.clients(); len(left) != 0 {
		t.Errorf("client containers left: %v", left)
	}
}

// Load streams its input; an input that fails to read is an error even
// when the client, seeing the end of its input, exits 0.
func TestLoad(t *testing.T) {
	f, tg, c := located(t)
	var got string
	var cmd []string
	f.run = func(_ context.Context, r request, stdin io.Reader) (string, string, int) {
		b, _ := io.ReadAll(stdin)
		got, cmd = string(b), r.Config.Cmd
		return "", "", 0
	}
	dump := strings.Repeat("INSERT INTO t VALUES (1);\n", 10000)
	if err := c.Load(t.Context(), tg, strings.NewReader(dump)); err != nil || got != dump {
		t.Errorf("load: %v, %d of %d bytes arrived", err, len(got), len(dump))
	}
	// Why: a dump's "system ..." line would otherwise run a shell.
	if !slices.Contains(cmd, "--binary-mode") {
		t.Errorf("load command %q: without --binary-mode the client runs the dump's own commands", cmd)
	}
	broken := io.MultiReader(strings.NewReader("INSERT"), errReader{})
	if err := c.Load(t.Context(), tg, broken); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a broken input: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("gzip: truncated") }

func TestParseBatch(t *testing.T) {
	got := parseBatch("a\tb\\tc\tNULL\nx\\ny\t\\\\\t\n")
	want := [][]string{{"a", "b\tc", "NULL"}, {"x\ny", `\`, ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := parseBatch(""); got != nil {
		t.Errorf("empty output: %q", got)
	}
}

func TestSchemaFingerprint(t *testing.T) {
	f, tg, c := located(t)
	cols := "db_tars\tt_node_info\tid\tint(11)\t1\n"
	var sql string
	f.run = func(_ context.Context, _ request, stdin io.Reader) (string, string, int) {
		b, _ := io.ReadAll(stdin)
		sql = string(b)
		return cols, "", 0
	}
	a, err := c.SchemaFingerprint(t.Context(), tg, CoreDatabases())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, "IN ('db_tars', 'db_tars_web', 'db_user_system', 'db_cache_web')") || !strings.Contains(sql, "ORDER BY") {
		t.Errorf("sql %q", sql)
	}
	cols += "db_tars\tt_node_info\tnode_name\tvarchar(128)\t2\n"
	b, err := c.SchemaFingerprint(t.Context(), tg, CoreDatabases())
	if err != nil || a == b || len(a) != 64 {
		t.Errorf("fingerprints %q and %q (%v): a new column must change it", a, b, err)
	}
}

// An operator's password (quotes, spaces, $, backslashes, non-ASCII) reaches
// the client intact as stdin's first line, and never its environment or
// command line; one with a line break, which no line can carry, is refused
// before any container is created, naming the variable and not the password.
func TestOddPasswords(t *testing.T) {
	for _, pw := range []string{`it's "q" $HOME \n\\ `, " lead and trail ", "pässwörd-密码", `$(id)` + "`id`"} {
		f, tg, c := located(t)
		tg = tg.WithPassword("MYSQL_ROOT_PASSWORD", pw)
		var got []string
		f.run = func(_ context.Context, r request, _ io.Reader) (string, string, int) {
			got = append(got, r.Password)
			if strings.Contains(strings.Join(append(r.Config.Env, r.Config.Cmd...), " "), pw) {
				t.Errorf("password %q in the env or command line", pw)
			}
			return "1\n", "", 0
		}
		if _, err := c.ServerVersion(t.Context(), tg); err != nil || len(got) != 1 || got[0] != pw {
			t.Errorf("password %q arrived as %q (%v)", pw, got, err)
		}
	}
	for _, pw := range []string{"two\nlines", "cr\r"} {
		f, tg, c := located(t)
		tg = tg.WithPassword("MYSQL_ROOT_PASSWORD", pw)
		_, err := c.ServerVersion(t.Context(), tg)
		if !errors.Is(err, fault.BadInput) || !strings.Contains(fmt.Sprint(err), "MYSQL_ROOT_PASSWORD") || strings.Contains(fmt.Sprint(err), pw) {
			t.Errorf("password with a line break: %v", err)
		}
		if len(f.created) != 0 {
			t.Errorf("%d containers created for a password that cannot be given", len(f.created))
		}
	}
}
