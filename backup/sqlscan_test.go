package backup

import (
	"os"
	"strings"
	"testing"
)

// scan runs the scanner over sql, written in pieces of n bytes (the
// scanner must not depend on how the stream is cut).
func scan(sql string, n int, dbs ...string) error {
	s := newSQLScan(dbs)
	for len(sql) > 0 {
		k := min(n, len(sql))
		_, _ = s.Write([]byte(sql[:k]))
		sql = sql[k:]
	}
	return s.err()
}

// TestSQLScanRealDump: mariadb-dump's own dump of a database with a
// trigger, a procedure, a view and an event (testdata, taken with
// tarsdb.DumpArgs) passes, whatever the write sizes.
func TestSQLScanRealDump(t *testing.T) {
	data, err := os.ReadFile("testdata/mariadb-dump.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 7, 4096, len(data)} {
		if err := scan(string(data), n, "db_tars", "db_tars_web"); err != nil {
			t.Errorf("write size %d: %v", n, err)
		}
	}
	// The same dump, restored as a snapshot of db_tars alone, names
	// db_tars_web: refused.
	if err := scan(string(data), 4096, "db_tars"); err == nil || !strings.Contains(err.Error(), "db_tars_web") {
		t.Errorf("db_tars_web not refused: %v", err)
	}
}

// TestSQLScanRefuses: a dump with a faked manifest must not touch the
// server's own schema, another database, accounts or files, however it
// hides it (executable comments, two statements on a line, a
// procedure's body, case).
func TestSQLScanRefuses(t *testing.T) {
	head := "USE `db_tars`;\n"
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS `mysql`;\n",
		"drop schema mysql;\n",
		"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;\n",
		"USE `mysql`;\nDELETE FROM user;\n",
		head + "SELECT 1;\n",
		head + "INSERT INTO mysql.user VALUES (1);\n",
		head + "INSERT INTO `mysql` . `user` VALUES (1);\n",
		head + "INSERT INTO t VALUES (1); DROP DATABASE `mysql`;\n",
		head + "/*!40101 DROP DATABASE mysql */;\n",
		head + "/*M!100101 USE mysql */;\n",
		head + "DELIMITER ;;\nCREATE PROCEDURE p() BEGIN DROP DATABASE shop; END;;\nDELIMITER ;\n",
		head + "CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW DELETE FROM shop.orders.id;\n",
		head + "CREATE USER 'x'@'%' IDENTIFIED BY 'y';\n",
		head + "DROP USER root;\n",
		head + "SET PASSWORD FOR root = PASSWORD('x');\n",
		head + "SET GLOBAL read_only = 1;\n",
		head + "SET @@global.max_connections = 1;\n",
		head + "/*!50003 CREATE FUNCTION f RETURNS INTEGER SONAME 'x.so' */;\n",
		head + "GRANT ALL ON *.* TO x;\n",
		head + "\\! rm -rf /\n",
		head + "system rm -rf /\n",
		head + "CREATE TABLE t (a int) DATA DIRECTORY='/x'; INSERT INTO t SELECT * FROM performance_schema.threads;\n",
	} {
		if err := scan(sql, 3, "db_tars"); err == nil {
			t.Errorf("not refused:\n%s", sql)
		}
	}
}

// TestSQLScanKeepsStringsApart: names, comments and delimiters inside
// strings and comments are data, not statements.
func TestSQLScanKeepsStringsApart(t *testing.T) {
	for _, sql := range []string{
		"USE `db_tars`;\nINSERT INTO `t` VALUES ('DROP DATABASE mysql; USE mysql;','a\\';mysql.user'),(\"x;GRANT\");\n",
		"-- DROP DATABASE mysql;\n# USE mysql;\n/* GRANT ALL; */USE `db_tars`;\n",
		"/*M!999999\\- enable the sandbox mode */ \n/*!40101 SET NAMES utf8mb4 */;\n",
		"USE db_tars;\nCREATE TABLE `t` (`user` int COMMENT 'mysql.user; grant');\n",
	} {
		if err := scan(sql, 2, "db_tars"); err != nil {
			t.Errorf("%v:\n%s", err, sql)
		}
	}
}
