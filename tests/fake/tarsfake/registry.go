package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The registry's QueryObj port, where the fake registry also answers HTTP,
// and the port of a node's NodeObj.
const (
	registryPort = 17890
	nodePort     = 19385
)

// queryObj is the registry servant a locator names.
const queryObj = "tars.tarsregistry.QueryObj"

// registry is what a framework's tarsregistry does for nodes: tell them the
// registries, register them and take their heartbeats.
type registry interface {
	// registries are the addresses (IP:port) of the locator, this one first.
	registries(ctx context.Context) []string
	// register records node ip (its t_node_info row) at version.
	register(ctx context.Context, ip, version string) error
	// keepAlive records a heartbeat of node ip; false means no such node is
	// registered, and the node registers again.
	keepAlive(ctx context.Context, ip string) (bool, error)
}

// fileRegistry is the registry in file mode: it answers and records nothing.
type fileRegistry struct{ ip string }

func (f fileRegistry) registries(context.Context) []string {
	return []string{net.JoinHostPort(f.ip, strconv.Itoa(registryPort))}
}

func (fileRegistry) register(context.Context, string, string) error { return nil }

func (fileRegistry) keepAlive(context.Context, string) (bool, error) { return true, nil }

// registryHandler is the registry's HTTP face on 17890, which a node uses
// in place of the Tars protocol:
//
//	POST /registry/register?ip=IP&version=V   200, or 500 when the database fails
//	POST /registry/keepalive?ip=IP            200; 404 when IP is not registered
//
// A 200 carries the current locator ("locator=..."), so a node learns of
// registries that joined after it started.
func registryHandler(reg registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /registry/register", func(w http.ResponseWriter, r *http.Request) {
		ip := r.URL.Query().Get("ip")
		if ip == "" {
			http.Error(w, "register: no ip", http.StatusBadRequest)
			return
		}
		if err := reg.register(r.Context(), ip, r.URL.Query().Get("version")); err != nil {
			log.Printf("register node %s: %v", ip, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		log.Printf("registered node %s", ip)
		fmt.Fprintf(w, "locator=%s\n", formatLocator(reg.registries(r.Context())))
	})
	mux.HandleFunc("POST /registry/keepalive", func(w http.ResponseWriter, r *http.Request) {
		ip := r.URL.Query().Get("ip")
		found, err := reg.keepAlive(r.Context(), ip)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !found:
			http.Error(w, "node "+ip+" is not registered", http.StatusNotFound)
		default:
			fmt.Fprintf(w, "locator=%s\n", formatLocator(reg.registries(r.Context())))
		}
	})
	return mux
}

// formatLocator writes addresses as a Tars locator:
// tars.tarsregistry.QueryObj@tcp -h A -p 17890:tcp -h B -p 17890.
func formatLocator(addrs []string) string {
	eps := make([]string, 0, len(addrs))
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		eps = append(eps, "tcp -h "+host+" -p "+port)
	}
	return queryObj + "@" + strings.Join(eps, ":")
}

// parseLocator reads the addresses (IP:port) of a locator formatLocator
// wrote; endpoints without -h are skipped, those without -p get 17890.
func parseLocator(s string) []string {
	_, eps, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok {
		return nil
	}
	var out []string
	for _, ep := range strings.Split(eps, ":") {
		f := strings.Fields(ep)
		host, port := "", strconv.Itoa(registryPort)
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "-h":
				host = f[i+1]
			case "-p":
				port = f[i+1]
			}
		}
		if host != "" {
			out = append(out, net.JoinHostPort(host, port))
		}
	}
	return out
}

// sqlRegistry is the registry on the real database.
type sqlRegistry struct {
	db  *sql.DB
	cfg frameworkConfig
}

func (s *sqlRegistry) self() string { return net.JoinHostPort(s.cfg.ip, strconv.Itoa(registryPort)) }

// registries are this registry and the other active ones of t_registry_info.
func (s *sqlRegistry) registries(ctx context.Context) []string {
	out := []string{s.self()}
	rows, err := s.db.QueryContext(ctx, "SELECT locator_id FROM db_tars.t_registry_info"+
		" WHERE servant = ? AND present_state = 'active' AND locator_id <> ? ORDER BY locator_id", queryObj, s.self())
	if err != nil {
		log.Printf("read t_registry_info: %v", err)
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func (s *sqlRegistry) register(ctx context.Context, ip, version string) error {
	return registerNode(ctx, s.db, ip, version)
}

// keepAlive is the registry's keepAlive (RegistryServer/DbHandle.cpp).
func (s *sqlRegistry) keepAlive(ctx context.Context, ip string) (bool, error) {
	res, err := s.db.ExecContext(ctx, "UPDATE db_tars.t_node_info SET last_heartbeat = now(), present_state = 'active',"+
		" load_avg1 = 0, load_avg5 = 0, load_avg15 = 0 WHERE node_name = ?", ip)
	if err != nil {
		return false, fmt.Errorf("heartbeat of node %s: %w", ip, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("heartbeat of node %s: %w", ip, err)
	}
	return n > 0, nil
}

// maintain runs until ctx ends: every heartbeat interval the framework's
// own tarsnode heartbeats (registering again when its row is gone), the
// registry refreshes its t_registry_info rows, and the sweeper marks
// inactive the nodes (and their services) and registries whose last
// heartbeat is older than the node timeout, as every real tarsregistry's
// CheckNodeThread does. Database errors are logged when they change and
// never end the framework.
func (s *sqlRegistry) maintain(ctx context.Context) {
	t := time.NewTicker(s.cfg.heartbeat)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		msg := ""
		if err := s.tick(ctx); err != nil {
			msg = err.Error()
		}
		if msg != last && ctx.Err() == nil {
			if msg == "" {
				log.Printf("registry: database writes work again")
			} else {
				log.Printf("registry: %s", msg)
			}
			last = msg
		}
	}
}

func (s *sqlRegistry) tick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.heartbeat+5*time.Second)
	defer cancel()
	found, err := s.keepAlive(ctx, s.cfg.ip)
	if err != nil {
		return err
	}
	if !found {
		if err := registerNode(ctx, s.db, s.cfg.ip, s.cfg.k.version); err != nil {
			return err
		}
	}
	if err := recordRegistry(ctx, s.db, s.cfg); err != nil {
		return err
	}
	return s.sweep(ctx)
}

// sweep is checkNodeTimeout and checkRegistryTimeout.
func (s *sqlRegistry) sweep(ctx context.Context) error {
	secs := int((s.cfg.nodeTimeout + time.Second - 1) / time.Second)
	cutoff := fmt.Sprintf("date_sub(now(), INTERVAL %d SECOND)", secs)
	rows, err := s.db.QueryContext(ctx, "SELECT node_name FROM db_tars.t_node_info WHERE last_heartbeat < "+cutoff+" AND present_state = 'active'")
	if err != nil {
		return fmt.Errorf("sweep nodes: %w", err)
	}
	var stale []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			stale = append(stale, n)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("sweep nodes: %w", err)
	}
	if len(stale) > 0 {
		_, err = s.db.ExecContext(ctx, "UPDATE db_tars.t_node_info AS node LEFT JOIN db_tars.t_server_conf AS server USING (node_name)"+
			" SET node.present_state = 'inactive', server.present_state = 'inactive', server.process_id = 0"+
			" WHERE node.last_heartbeat < "+cutoff+" AND node.present_state = 'active'")
		if err != nil {
			return fmt.Errorf("sweep nodes: %w", err)
		}
		log.Printf("nodes %s inactive: no heartbeat for %ds", strings.Join(stale, ", "), secs)
	}
	_, err = s.db.ExecContext(ctx, "UPDATE db_tars.t_registry_info SET present_state = 'inactive' WHERE last_heartbeat < "+cutoff+" AND present_state = 'active'")
	if err != nil {
		return fmt.Errorf("sweep registries: %w", err)
	}
	return nil
}
