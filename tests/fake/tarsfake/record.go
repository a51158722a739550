package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strconv"
)

// adapter is one endpoint of a framework service in t_adapter_conf.
type adapter struct {
	name, servant string
	port          int
}

// frameworkService is one of the framework's own tars.* services.
type frameworkService struct {
	name     string
	adapters []adapter
}

// hostServices run on every framework host (tars_servers.sql).
var hostServices = []frameworkService{
	{"tarsregistry", []adapter{
		{"tars.tarsregistry.QueryObjAdapter", "tars.tarsregistry.QueryObj", 17890},
		{"tars.tarsregistry.RegistryObjAdapter", "tars.tarsregistry.RegistryObj", 17891},
	}},
	{"tarsqueryproperty", []adapter{{"tars.tarsqueryproperty.QueryObjAdapter", "tars.tarsqueryproperty.QueryObj", 18693}}},
	{"tarsconfig", []adapter{{"tars.tarsconfig.ConfigObjAdapter", "tars.tarsconfig.ConfigObj", 18193}}},
	{"tarsnotify", []adapter{{"tars.tarsnotify.NotifyObjAdapter", "tars.tarsnotify.NotifyObj", 18593}}},
	{"tarsquerystat", []adapter{{"tars.tarsquerystat.QueryObjAdapter", "tars.tarsquerystat.QueryObj", 18393}}},
}

// masterServices run on the master only (tars_servers_master.sql).
var masterServices = []frameworkService{
	{"tarspatch", []adapter{{"tars.tarspatch.PatchObjAdapter", "tars.tarspatch.PatchObj", 18793}}},
	{"tarsAdminRegistry", []adapter{{"tars.tarsAdminRegistry.AdminRegObjAdapter", "tars.tarsAdminRegistry.AdminRegObj", 12000}}},
	{"tarsstat", []adapter{{"tars.tarsstat.StatObjAdapter", "tars.tarsstat.StatObj", 18293}}},
	{"tarsproperty", []adapter{{"tars.tarsproperty.PropertyObjAdapter", "tars.tarsproperty.PropertyObj", 18493}}},
}

// logService is created with db_tars only (tars_servers_logs.sql): an
// operator may move tarslog to another host, and a restart must not undo it.
var logService = frameworkService{"tarslog", []adapter{{"tars.tarslog.LogObjAdapter", "tars.tarslog.LogObj", 18993}}}

// registryServants are the registry's rows in t_registry_info.
var registryServants = []adapter{
	{"", "tars.tarsregistry.QueryObj", 17890},
	{"", "tars.tarsregistry.RegistryObj", 17891},
}

// recordSelf writes what every start of a framework host writes with its
// IP: its services' rows (tarslog too when newTars: db_tars was created by
// this start) in t_server_conf and t_adapter_conf (REPLACE, as
// the real SQL files do), its own tarsnode's row in t_node_info and its
// registry's rows in t_registry_info.
func recordSelf(ctx context.Context, db *sql.DB, fc frameworkConfig, newTars bool) error {
	services := hostServices
	if !fc.slave {
		services = append(append([]frameworkService(nil), hostServices...), masterServices...)
	}
	if newTars {
		services = append(services, logService)
	}
	for _, s := range services {
		if err := recordService(ctx, db, fc, s); err != nil {
			return err
		}
	}
	if err := registerNode(ctx, db, fc.ip, fc.k.version); err != nil {
		return err
	}
	if err := recordRegistry(ctx, db, fc); err != nil {
		return err
	}
	log.Printf("recorded %s in db_tars: %d services, its node and its registry", fc.ip, len(services))
	return nil
}

// recordService REPLACEs one service's t_server_conf and t_adapter_conf rows.
func recordService(ctx context.Context, db *sql.DB, fc frameworkConfig, s frameworkService) error {
	_, err := db.ExecContext(ctx, "REPLACE INTO db_tars.t_server_conf (application, server_name, node_group, node_name,"+
		" registry_timestamp, base_path, exe_path, template_name, bak_flag, setting_state, present_state, process_id,"+
		" patch_version, patch_time, patch_user, tars_version, posttime, lastuser, server_type, profile)"+
		" VALUES ('tars', ?, '', ?, now(), '', ?, ?, 0, 'active', 'active', 0, ?, now(), '', ?, now(), 'admin', 'tars_cpp', '')",
		s.name, fc.ip, "/usr/local/app/tars/"+s.name+"/bin/"+s.name, "tars."+s.name, fc.k.version, fc.k.version)
	if err != nil {
		return fmt.Errorf("record tars.%s on %s: %w", s.name, fc.ip, err)
	}
	for _, a := range s.adapters {
		_, err := db.ExecContext(ctx, "REPLACE INTO db_tars.t_adapter_conf (application, server_name, node_name, adapter_name,"+
			" registry_timestamp, thread_num, endpoint, max_connections, allow_ip, servant, queuecap, queuetimeout, posttime, lastuser, protocol, handlegroup)"+
			" VALUES ('tars', ?, ?, ?, now(), 5, ?, 100000, '', ?, 100000, 60000, now(), 'admin', 'tars', '')",
			s.name, fc.ip, a.name, endpoint(fc.ip, a.port), a.servant)
		if err != nil {
			return fmt.Errorf("record adapter %s on %s: %w", a.name, fc.ip, err)
		}
	}
	return nil
}

// endpoint is a Tars endpoint string, as t_adapter_conf holds them.
func endpoint(ip string, port int) string {
	return "tcp -h " + ip + " -t 60000 -p " + strconv.Itoa(port)
}

// registerNode is the registry's registerNode (RegistryServer/DbHandle.cpp):
// the node's row is REPLACEd (a new id; group_id and label back to their
// defaults) with last_reg_time and last_heartbeat now and present_state
// active; only template_name is carried over.
func registerNode(ctx context.Context, db *sql.DB, ip, version string) error {
	var template string
	err := db.QueryRowContext(ctx, "SELECT template_name FROM db_tars.t_node_info WHERE node_name = ?", ip).Scan(&template)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("register node %s: %w", ip, err)
	}
	_, err = db.ExecContext(ctx, "REPLACE INTO db_tars.t_node_info (node_name, node_obj, endpoint_ip, endpoint_port, data_dir,"+
		" load_avg1, load_avg5, load_avg15, last_reg_time, last_heartbeat, setting_state, present_state, tars_version, template_name)"+
		" VALUES (?, ?, ?, ?, '/usr/local/app/tars/tarsnode/data', 0, 0, 0, now(), now(), 'active', 'active', ?, ?)",
		ip, "tars.tarsnode.NodeObj@tcp -h "+ip+" -p "+strconv.Itoa(nodePort)+" -t 60000", ip, nodePort, version, template)
	if err != nil {
		return fmt.Errorf("register node %s: %w", ip, err)
	}
	return nil
}

// recordRegistry is the registry's updateRegistryInfo2Db: one row per
// servant, locator_id IP:17890, heartbeat now.
func recordRegistry(ctx context.Context, db *sql.DB, fc frameworkConfig) error {
	for _, a := range registryServants {
		_, err := db.ExecContext(ctx, "INSERT INTO db_tars.t_registry_info (locator_id, servant, endpoint, last_heartbeat, present_state, tars_version)"+
			" VALUES (?, ?, ?, now(), 'active', ?)"+
			" ON DUPLICATE KEY UPDATE endpoint = VALUES(endpoint), last_heartbeat = now(), present_state = 'active', tars_version = VALUES(tars_version)",
			fc.ip+":"+strconv.Itoa(registryPort), a.servant, endpoint(fc.ip, a.port), fc.k.version)
		if err != nil {
			return fmt.Errorf("record registry %s in t_registry_info: %w", fc.ip, err)
		}
	}
	return nil
}
