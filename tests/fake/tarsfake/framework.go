package main

import (
	"context"
	"database/sql"
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

// dbDir holds the fake framework's files: in file mode its "database" (one
// file per database that REBUILD=true drops), and in both modes the records
// tests read (starts, t_node_info, nodes).
const dbDir = "/data/tars/db"

// databases are the databases that REBUILD=true drops and recreates (TARS.md).
var databases = []string{"db_tars", "tars_stat", "tars_property", "db_tars_web", "db_user_system", "db_cache_web"}

// frameworkConfig is what the framework entrypoint reads from its environment.
type frameworkConfig struct {
	k       knobs
	ip      string // the recorded IP: DOMAIN, or INET's address
	slave   bool
	rebuild bool
	// heartbeat is how often the registry refreshes its own rows and sweeps;
	// nodeTimeout is how old a node's last heartbeat may be before it is
	// marked inactive.
	heartbeat, nodeTimeout time.Duration
}

// runFramework plays the tarscloud/framework entrypoint.
func runFramework(ctx context.Context, k knobs) error {
	fc := frameworkConfig{
		k:           k,
		slave:       os.Getenv("SLAVE") == "true",
		rebuild:     os.Getenv("REBUILD") == "true",
		heartbeat:   envDurationOr("FAKE_HEARTBEAT_INTERVAL", 2*time.Second),
		nodeTimeout: envDurationOr("FAKE_NODE_TIMEOUT", 10*time.Second),
	}
	fc.ip = os.Getenv("DOMAIN")
	if fc.ip == "" {
		inet := envOr("INET", "eth0")
		fc.ip = interfaceIPv4(inet)
		if fc.ip == "" || fc.ip == "127.0.0.1" {
			return fmt.Errorf("INET=%s has no usable IPv4 address (got %q): the framework cannot record its own IP", inet, fc.ip)
		}
	}
	log.Printf("starting: version=%s ip=%s slave=%t rebuild=%t", k.version, fc.ip, fc.slave, fc.rebuild)

	db, err := waitForMySQL(ctx)
	if err != nil {
		return err
	}
	var reg registry = fileRegistry{ip: fc.ip}
	if db != nil {
		defer db.Close()
		if err := setUpSQL(ctx, db, fc); err != nil {
			return err
		}
		reg = &sqlRegistry{db: db, cfg: fc}
	}
	if err := setUpFiles(fc, db != nil); err != nil {
		return err
	}
	return serveRole(ctx, k, func(ctx context.Context) error {
		return serveFramework(ctx, fc, reg)
	})
}

// setUpFiles does to the files under dbDir what the real entrypoint does to
// MySQL: REBUILD=true drops everything; otherwise, in file mode (sqlMode
// false), databases are created only when missing. Every start, in both
// modes, appends a record to "starts" and rewrites t_node_info with the
// recorded IP.
func setUpFiles(fc frameworkConfig, sqlMode bool) error {
	if fc.rebuild {
		if sqlMode {
			log.Printf("REBUILD=true: wiped %s", dbDir)
		} else {
			log.Printf("REBUILD=true: dropped db_tars, tars_stat, tars_property, db_tars_web, db_user_system, db_cache_web")
		}
		if err := os.RemoveAll(dbDir); err != nil {
			return fmt.Errorf("drop databases: %w", err)
		}
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dbDir, err)
	}
	if !sqlMode {
		if err := setUpFileDatabases(fc); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dbDir, "t_node_info"), []byte(fc.ip+"\n"), 0o644); err != nil {
		return fmt.Errorf("record t_node_info: %w", err)
	}
	record := fmt.Sprintf("version=%s ip=%s slave=%t rebuild=%t time=%s\n",
		fc.k.version, fc.ip, fc.slave, fc.rebuild, time.Now().UTC().Format(time.RFC3339Nano))
	return appendFile(filepath.Join(dbDir, "starts"), record)
}

// setUpFileDatabases creates the files that stand for the databases: a
// master creates the missing ones; a slave checks for db_tars.
func setUpFileDatabases(fc frameworkConfig) error {
	if fc.slave {
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
		return nil
	}
	for _, db := range databases {
		p := filepath.Join(dbDir, db)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		line := fmt.Sprintf("created by %s at %s\n", fc.k.version, time.Now().UTC().Format(time.RFC3339Nano))
		if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
			return fmt.Errorf("create database %s: %w", db, err)
		}
		log.Printf("created database %s", db)
	}
	return nil
}

// serveFramework runs the registry on 17890 and, on a master, the web on
// 3000; in SQL mode also the registry's own heartbeat and node sweeper.
func serveFramework(ctx context.Context, fc frameworkConfig, reg registry) error {
	errc := make(chan error, 3)
	go func() { errc <- serveHTTP(ctx, ":17890", "registry", registryHandler(reg)) }()
	if fc.slave {
		log.Printf("SLAVE=true: no web on 3000")
	} else {
		go func() { errc <- serveHTTP(ctx, ":3000", "web", webHandler(fc.k.version, reg)) }()
	}
	if r, ok := reg.(*sqlRegistry); ok {
		go r.maintain(ctx)
	}
	// Why return on the first error: a framework whose port is gone is down.
	return <-errc
}

// webHandler answers what tarsweb answers that a node or a probe uses. The
// installer /get_tarsnode returns carries the registry locator (a line
// "locator=tars.tarsregistry.QueryObj@tcp -h IP -p 17890:..."), which the
// fake node reads.
func webHandler(version string, reg registry) http.Handler {
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
			log.Printf("node %s fetched the installer", ip)
		}
		fmt.Fprintf(w, "#!/bin/sh\n# tarsnode installer from framework %s for %q\n", version, ip)
		fmt.Fprintf(w, "locator=%s\n", formatLocator(reg.registries(r.Context())))
	})
	mux.HandleFunc("GET /files/tarsnode.tgz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		fmt.Fprintf(w, "fake tarsnode.tgz from framework %s\n", version)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version)
	})
	return mux
}

// serveHTTP serves h on addr until ctx ends. A plain TCP connect (a port
// probe) is as welcome as a request.
func serveHTTP(ctx context.Context, addr, what string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Printf("%s listening on %s", what, addr)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err = srv.Serve(ln)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("serve %s: %w", what, err)
}

// setUpSQL does what the real entrypoint does to MySQL (deploy/tars-install.sh):
// a master drops the six databases when REBUILD=true and creates the
// missing ones; a slave requires db_tars. Then both apply their version's
// schema upgrade and record their own IP.
func setUpSQL(ctx context.Context, db *sql.DB, fc frameworkConfig) error {
	newTars := false
	if fc.slave {
		ok, err := databaseExists(ctx, db, "db_tars")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("SLAVE=true and db_tars is missing on %s: install (start) the master first", mysqlAddr())
		}
	} else {
		if fc.rebuild {
			if err := dropDatabases(ctx, db); err != nil {
				return err
			}
		}
		var err error
		if newTars, err = createDatabases(ctx, db, fc.k.version); err != nil {
			return err
		}
	}
	if err := upgradeSchema(ctx, db, fc.k.version); err != nil {
		return err
	}
	return recordSelf(ctx, db, fc, newTars)
}

// envDurationOr is envDuration with a default for unset or bad values.
func envDurationOr(name string, def time.Duration) time.Duration {
	if d := envDuration(name); d > 0 {
		return d
	}
	return def
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
