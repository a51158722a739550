package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
)

// greetingTimeout is how long the framework waits for the server's first
// packet after a TCP connect. A MySQL or MariaDB server sends its greeting
// at once; the `tarsfake db` stand-in closes the connection instead.
const greetingTimeout = 2 * time.Second

// mysqlAddr is MYSQL_HOST:MYSQL_PORT (3306 by default).
func mysqlAddr() string {
	return net.JoinHostPort(os.Getenv("MYSQL_HOST"), envOr("MYSQL_PORT", "3306"))
}

// waitForMySQL waits, as the real entrypoint does, for the database at
// MYSQL_HOST. Without MYSQL_HOST there is nothing to wait for and it
// returns nil: file mode. Otherwise it waits until the address accepts a
// TCP connection and then looks at what answers: a server that greets in
// the MySQL protocol is waited for until MYSQL_USER (root) gets in with
// MYSQL_ROOT_PASSWORD, and returned (SQL mode); anything else, such as the
// `tarsfake db` stand-in that only accepts connections, leaves the fake in
// file mode (nil), as before there was a real database in the test bed.
func waitForMySQL(ctx context.Context) (*sql.DB, error) {
	if os.Getenv("MYSQL_HOST") == "" {
		return nil, nil
	}
	addr := mysqlAddr()
	for i := 0; ; i++ {
		speaks, err := greets(ctx, addr)
		if err == nil {
			log.Printf("MySQL at %s answers", addr)
		}
		if err == nil && !speaks {
			log.Printf("MySQL at %s sent no MySQL greeting: keeping the database as files under %s", addr, dbDir)
			return nil, nil
		}
		if err == nil {
			break
		}
		if i%10 == 0 {
			log.Printf("waiting for MySQL at %s: %v", addr, err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
	return login(ctx, addr)
}

// greets connects to addr and tells whether the first packet is a MySQL
// handshake (protocol 10) or error packet. A refused or failed connect is
// an error: keep waiting.
func greets(ctx context.Context, addr string) (bool, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(greetingTimeout)); err != nil {
		return false, fmt.Errorf("greeting from %s: %w", addr, err)
	}
	return isGreeting(c), nil
}

// isGreeting reads a packet header (3 bytes length, sequence 0) and its
// first byte: 10 for a handshake, 0xff for an error (too many connections,
// host blocked), both from a MySQL server.
func isGreeting(r io.Reader) bool {
	var b [5]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return false
	}
	return b[3] == 0 && (b[4] == 10 || b[4] == 0xff)
}

// dsn is the driver's data source name for MYSQL_USER and
// MYSQL_ROOT_PASSWORD at addr. clientFoundRows makes an UPDATE report the
// rows it matched, so that a heartbeat within the same second as the last
// one still finds its node.
func dsn(addr string) string {
	cfg := mysql.NewConfig()
	cfg.User = envOr("MYSQL_USER", "root")
	cfg.Passwd = os.Getenv("MYSQL_ROOT_PASSWORD")
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.Timeout = 5 * time.Second
	cfg.ReadTimeout = 10 * time.Second
	cfg.WriteTimeout = 10 * time.Second
	cfg.ClientFoundRows = true
	return cfg.FormatDSN()
}

// login waits until the server at addr lets MYSQL_USER in, logging the
// reason (wrong password, server starting) now and then.
func login(ctx context.Context, addr string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn(addr))
	if err != nil {
		return nil, fmt.Errorf("MySQL at %s: %w", addr, err)
	}
	db.SetMaxOpenConns(4)
	// Why a lifetime: a database restarted under the framework leaves dead
	// connections in the pool.
	db.SetConnMaxLifetime(time.Minute)
	for i := 0; ; i++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			log.Printf("MySQL at %s lets %s in", addr, envOr("MYSQL_USER", "root"))
			return db, nil
		}
		if i%10 == 0 {
			log.Printf("waiting for a MySQL login at %s as %s: %v", addr, envOr("MYSQL_USER", "root"), err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			db.Close()
			return nil, err
		}
	}
}
