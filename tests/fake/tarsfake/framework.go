package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// dbDir holds the fake framework "database": one file per database that
// REBUILD=true drops, plus the tables tests look at.
const dbDir = "/data/tars/db"

// databases are the databases that REBUILD=true drops and recreates (TARS.md).
var databases = []string{"db_tars", "tars_stat", "tars_property", "db_tars_web", "db_user_system", "db_cache_web"}

// runFramework plays the tarscloud/framework entrypoint.
func runFramework(ctx context.Context, k knobs) error {
	slave := os.Getenv("SLAVE") == "true"
	rebuild := os.Getenv("REBUILD") == "true"

	ip := os.Getenv("DOMAIN")
	if ip == "" {
		inet := envOr("INET", "eth0")
		ip = interfaceIPv4(inet)
		if ip == "" || ip == "127.0.0.1" {
			return fmt.Errorf("INET=%s has no usable IPv4 address (got %q): the framework cannot record its own IP", inet, ip)
		}
	}
	log.Printf("starting: version=%s ip=%s slave=%t rebuild=%t", k.version, ip, slave, rebuild)

	if err := waitForMySQL(ctx); err != nil {
		return err
	}
	if err := setUpDatabase(k.version, ip, slave, rebuild); err != nil {
		return err
	}
	return serveRole(ctx, k, func(ctx context.Context) error {
		return serveFramework(ctx, k.version, slave)
	})
}

// waitForMySQL waits, as the real entrypoint does, until MYSQL_HOST answers on
// MYSQL_PORT. Without MYSQL_HOST there is nothing to wait for.
func waitForMySQL(ctx context.Context) error {
	host := os.Getenv("MYSQL_HOST")
	if host == "" {
		return nil
	}
	addr := net.JoinHostPort(host, envOr("MYSQL_PORT", "3306"))
	for i := 0; ; i++ {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			log.Printf("MySQL at %s answers", addr)
			return nil
		}
		if i%10 == 0 {
			log.Printf("waiting for MySQL at %s: %v", addr, err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// setUpDatabase does to the files under dbDir what the real entrypoint does to
// MySQL: REBUILD=true drops everything; otherwise databases are created only
// when missing. Every start appends a record to "starts" and rewrites
// t_node_info with the recorded IP.
func setUpDatabase(version, ip string, slave, rebuild bool) error {
	if rebuild {
		log.Printf("REBUILD=true: dropped db_tars, tars_stat, tars_property, db_tars_web, db_user_system, db_cache_web")
		if err := os.RemoveAll(dbDir); err != nil {
			return fmt.Errorf("drop databases: %w", err)
		}
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dbDir, err)
	}
	if slave {
		_, err := os.Stat(filepath.Join(dbDir, "db_tars"))
		switch {
		case err == nil:
		case errors.Is(err, os.ErrNotExist) && os.Getenv("FAKE_SLAVE_REQUIRE_DB") == "true":
			return fmt.Errorf("SLAVE=true and db_tars is missing: %w", err)
		case errors.Is(err, os.ErrNotExist):
			// Why not exit as the real slave does: a fake slave has its own
			// volume, not the master's database, so it would never start.
			log.Printf("SLAVE=true: db_tars is missing (ignored; set FAKE_SLAVE_REQUIRE_DB=true to exit)")
		default:
			return fmt.Errorf("check db_tars: %w", err)
		}
	} else {
		for _, db := range databases {
			p := filepath.Join(dbDir, db)
			if _, err := os.Stat(p); err == nil {
				continue
			}
			line := fmt.Sprintf("created by %s at %s\n", version, time.Now().UTC().Format(time.RFC3339Nano))
			if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
				return fmt.Errorf("create database %s: %w", db, err)
			}
			log.Printf("created database %s", db)
		}
	}
	if err := os.WriteFile(filepath.Join(dbDir, "t_node_info"), []byte(ip+"\n"), 0o644); err != nil {
		return fmt.Errorf("record t_node_info: %w", err)
	}
	record := fmt.Sprintf("version=%s ip=%s slave=%t rebuild=%t time=%s\n",
		version, ip, slave, rebuild, time.Now().UTC().Format(time.RFC3339Nano))
	return appendFile(filepath.Join(dbDir, "starts"), record)
}

// serveFramework listens on the registry port and, on a master, the web port.
func serveFramework(ctx context.Context, version string, slave bool) error {
	errc := make(chan error, 2)
	go func() { errc <- listenAndDrop(ctx, ":17890") }()
	if slave {
		log.Printf("SLAVE=true: no web on 3000")
	} else {
		go func() { errc <- serveWeb(ctx, ":3000", version) }()
	}
	// Why return on the first error: a framework whose port is gone is down.
	return <-errc
}

// serveWeb answers what tarsweb answers that a node or a probe uses.
func serveWeb(ctx context.Context, addr, version string) error {
	var mu sync.Mutex // serialises appends to the nodes file
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get_tarsnode", func(w http.ResponseWriter, r *http.Request) {
		ip := r.URL.Query().Get("ip")
		if ip != "" {
			mu.Lock()
			err := appendFile(filepath.Join(dbDir, "nodes"), ip+"\n")
			mu.Unlock()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			log.Printf("registered node %s", ip)
		}
		fmt.Fprintf(w, "#!/bin/sh\n# tarsnode installer from framework %s for %q\n", version, ip)
	})
	mux.HandleFunc("GET /files/tarsnode.tgz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		fmt.Fprintf(w, "fake tarsnode.tgz from framework %s\n", version)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version)
	})

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Printf("web listening on %s", addr)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err = srv.Serve(ln)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("serve web: %w", err)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
