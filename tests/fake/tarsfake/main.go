// Command tarsfake stands in for the programs inside the Tars Docker images in
// tarsup's end-to-end tests. One static binary plays every role; the first
// argument picks it:
//
//	tarsfake framework   the tarscloud/framework entrypoint (master or SLAVE=true)
//	tarsfake node        the tarscloud/tars-node entrypoint (needs WEB_HOST)
//	tarsfake db          a MySQL stand-in listening on 3306
//	tarsfake idle        an unrelated container that only waits
//	tarsfake check tcp HOST:PORT | check http URL
//	                     exit 0 when reachable (HTTP 200) within 2 s: a HEALTHCHECK
//	tarsfake hook FILE [exit=N] [sleep=DUR]
//	                     a hook exec'd in the container (tarsup.hook.* labels):
//	                     prints its environment, appends its version and
//	                     TARSUP_* variables to FILE, sleeps, exits N
//
// The behaviour follows shared/TARS.md: what the real entrypoints do with
// REBUILD, SLAVE, INET, DOMAIN, WEB_HOST and on which ports they answer.
//
// # The framework's database
//
// Without MYSQL_HOST, or when what answers at MYSQL_HOST:MYSQL_PORT accepts
// TCP connections but sends no MySQL greeting within 2 s (the `tarsfake db`
// stand-in, which closes them at once), the framework keeps its "database"
// as files under /data/tars/db: one per database REBUILD=true drops
// ("created by VERSION at TIME"), and a slave checks for db_tars only with
// FAKE_SLAVE_REQUIRE_DB=true. In both modes it also writes t_node_info (the
// recorded IP), nodes (every IP that called /get_tarsnode) and starts (one
// line per start; REBUILD=true wipes the directory first).
//
// When a MySQL or MariaDB server answers there, the framework uses it as the
// real one does (deploy/tars-install.sh; the schema is TarsFramework's
// db_tars.sql and TarsWeb's sql/*.sql, for the tables tarsup cares about):
//
//   - it waits until MYSQL_USER (root) gets in with MYSQL_ROOT_PASSWORD;
//   - a master with REBUILD=true drops db_tars, tars_stat, tars_property,
//     db_tars_web, db_user_system and db_cache_web; a master creates each one
//     that is missing, with its tables and first rows (db_tars: t_node_info,
//     t_server_conf, t_registry_info, t_adapter_conf, t_config_files,
//     t_profile_template, t_machine_tars_info, t_server_patchs; tars_stat and
//     tars_property: t_ecstatus; db_tars_web: t_application; db_user_system:
//     t_auth, t_user_info, t_token; db_cache_web: t_apply_app_base);
//   - a slave (SLAVE=true) never creates or drops anything, and exits 1
//     naming db_tars when it is missing;
//   - every start applies the schema upgrades its FAKE_VERSION knows, each
//     only when its column is missing (v3.0.16 and later add
//     db_tars.t_server_conf.sha, as tars_upgrade.conf does), so a re-run
//     changes nothing;
//   - every start records the host's IP: its tars.* rows in t_server_conf and
//     t_adapter_conf (node_name = the IP; the master's set is larger), its own
//     tarsnode's row in t_node_info and its registry's rows in
//     t_registry_info (locator_id IP:17890).
//
// # Registry and nodes
//
// Port 17890 answers HTTP (a plain TCP connect still works for probes):
// POST /registry/register?ip=IP&version=V writes the node's t_node_info row
// (node_name = endpoint_ip = IP, endpoint_port 19385, last_reg_time and
// last_heartbeat now, present_state active, tars_version V; REPLACE, as the
// real registry does), POST /registry/keepalive?ip=IP sets last_heartbeat
// and present_state active, or answers 404 when IP has no row. Every
// registry (master and slave) also heartbeats its own node and registry
// rows every FAKE_HEARTBEAT_INTERVAL (2s) and sweeps: a node (with its
// t_server_conf rows) or registry whose last_heartbeat is older than
// FAKE_NODE_TIMEOUT (10s) becomes inactive. In file mode the registry
// answers the same requests and records nothing.
//
// The installer /get_tarsnode returns carries the locator
// (locator=tars.tarsregistry.QueryObj@tcp -h IP -p 17890:tcp -h ...): the
// framework first, then the other active registries of t_registry_info. A
// node reads it (and adds TARS_REGISTRY_ADDRESS), registers, and heartbeats
// every FAKE_HEARTBEAT_INTERVAL; when its registry does not answer it tries
// the others, and when a registry answers 404 it registers again. Heartbeat
// failures are logged and never end the node. A node that comes back with
// another IP is a new row; the old one goes inactive.
//
// Knobs that only tests use, for every serving role:
//
//	FAKE_VERSION          the version the program reports (set by the image)
//	FAKE_START_DELAY      Go duration to wait before listening (a slow start)
//	FAKE_NEVER_HEALTHY    "true": run but never listen
//	FAKE_CRASH_AFTER      Go duration after listening, then exit 1
//
// and for the framework and the node:
//
//	FAKE_HEARTBEAT_INTERVAL  Go duration between heartbeats (2s)
//	FAKE_NODE_TIMEOUT        framework: heartbeat age that makes a node inactive (10s)
//	FAKE_NO_HEARTBEAT        node: "true": register once, never heartbeat
//	FAKE_REGISTER_IP         node: register (and fetch) as this IP instead of its own
//
// SIGTERM and SIGINT end every role with exit code 0 at once.
//
// It uses the standard library and a MySQL driver (pure Go), so that it
// builds with CGO_ENABLED=0 into a binary that runs in an image built FROM
// scratch.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// errUsage marks a bad command line; main turns it into exit code 2.
var errUsage = errors.New("usage: tarsfake framework|node|db|idle|check tcp HOST:PORT|check http URL|hook FILE [exit=N] [sleep=DUR]")

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	log.SetOutput(os.Stdout) // as the real entrypoints, which echo to stdout
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, errUsage)
		os.Exit(2)
	}
	role := os.Args[1]
	log.SetPrefix("tarsfake " + role + " " + os.Getenv("FAKE_VERSION") + ": ")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	err := run(ctx, role, os.Args[2:])
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case errors.Is(err, context.Canceled):
		// Why exit 0: a stop (docker stop, SIGTERM) is a normal end for every role.
		log.Printf("signalled: exiting")
		os.Exit(0)
	default:
		log.Printf("error: %v", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, role string, args []string) error {
	switch role {
	case "framework":
		return runFramework(ctx, knobsFromEnv())
	case "node":
		return runNode(ctx, knobsFromEnv())
	case "db":
		return serveRole(ctx, knobsFromEnv(), func(ctx context.Context) error {
			return listenAndDrop(ctx, ":3306")
		})
	case "idle":
		log.Printf("idle until signalled")
		<-ctx.Done()
		return ctx.Err()
	case "check":
		return runCheck(ctx, args)
	case "hook":
		return runHook(ctx, args)
	default:
		return fmt.Errorf("unknown role %q: %w", role, errUsage)
	}
}

// knobs are the FAKE_* variables that make a variant misbehave.
type knobs struct {
	version      string
	startDelay   time.Duration
	neverHealthy bool
	crashAfter   time.Duration
}

func knobsFromEnv() knobs {
	k := knobs{version: os.Getenv("FAKE_VERSION"), neverHealthy: os.Getenv("FAKE_NEVER_HEALTHY") == "true"}
	if k.version == "" {
		k.version = "unknown"
	}
	k.startDelay = envDuration("FAKE_START_DELAY")
	k.crashAfter = envDuration("FAKE_CRASH_AFTER")
	return k
}

func envDuration(name string) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		log.Printf("ignoring %s=%q: %v", name, v, err)
		return 0
	}
	return d
}

// serveRole applies the start-up knobs around serve, which blocks while the
// role answers on its ports.
func serveRole(ctx context.Context, k knobs, serve func(ctx context.Context) error) error {
	if k.startDelay > 0 {
		log.Printf("FAKE_START_DELAY=%s: waiting before listening", k.startDelay)
		if err := sleep(ctx, k.startDelay); err != nil {
			return err
		}
	}
	if k.neverHealthy {
		log.Printf("FAKE_NEVER_HEALTHY=true: running without listening")
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if k.crashAfter > 0 {
		crash := errors.New("FAKE_CRASH_AFTER: crashing")
		timer := time.AfterFunc(k.crashAfter, func() { cancel(crash) })
		defer timer.Stop()
	}
	err := serve(ctx)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// listenAndDrop accepts TCP connections on addr and closes them at once: what a
// port probe needs to see an open port.
func listenAndDrop(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Printf("listening on %s", addr)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("accept on %s: %w", addr, err)
		}
		c.Close()
	}
}

// interfaceIPv4 returns the first IPv4 address of the named interface, or ""
// when the interface is missing or has none.
func interfaceIPv4(name string) string {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return ip4.String()
			}
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
