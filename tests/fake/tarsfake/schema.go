package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"regexp"
	"strconv"

	"github.com/go-sql-driver/mysql"
)

// The tables each database gets when the master creates it. Their columns
// are those of TarsFramework deploy/framework/sql/db_tars.sql and TarsWeb
// sql/*.sql (db_tars: the tables tarsup cares about), and the t_ecstatus
// that tarsstat and tarsproperty create in theirs.
var schema = map[string][]string{
	"db_tars": {
		"CREATE TABLE `t_adapter_conf` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `application` varchar(50) DEFAULT '',\n" +
			"  `server_name` varchar(128) DEFAULT '',\n" +
			"  `node_name` varchar(50) DEFAULT '',\n" +
			"  `adapter_name` varchar(100) DEFAULT '',\n" +
			"  `registry_timestamp` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
			"  `thread_num` int(11) DEFAULT '1',\n" +
			"  `endpoint` varchar(128) DEFAULT '',\n" +
			"  `max_connections` int(11) DEFAULT '1000',\n" +
			"  `allow_ip` varchar(255) NOT NULL DEFAULT '',\n" +
			"  `servant` varchar(128) DEFAULT '',\n" +
			"  `queuecap` int(11) DEFAULT NULL,\n" +
			"  `queuetimeout` int(11) DEFAULT NULL,\n" +
			"  `posttime` datetime DEFAULT NULL,\n" +
			"  `lastuser` varchar(30) DEFAULT NULL,\n" +
			"  `protocol` varchar(64) DEFAULT 'tars',\n" +
			"  `handlegroup` varchar(64) DEFAULT '',\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  UNIQUE KEY `application` (`application`,`server_name`,`node_name`,`adapter_name`),\n" +
			"  KEY `adapter_conf_endpoint_index` (`endpoint`),\n" +
			"  KEY `index_regtime_1` (`registry_timestamp`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		"CREATE TABLE `t_config_files` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `server_name` varchar(128) DEFAULT '',\n" +
			"  `set_name` varchar(16) NOT NULL DEFAULT '',\n" +
			"  `set_area` varchar(16) NOT NULL DEFAULT '',\n" +
			"  `set_group` varchar(16) NOT NULL DEFAULT '',\n" +
			"  `host` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `filename` varchar(128) DEFAULT NULL,\n" +
			"  `config` longtext,\n" +
			"  `posttime` datetime DEFAULT NULL,\n" +
			"  `lastuser` varchar(50) DEFAULT NULL,\n" +
			"  `level` int(11) DEFAULT '2',\n" +
			"  `config_flag` int(10) NOT NULL DEFAULT '0',\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  UNIQUE KEY `application` (`server_name`,`filename`,`host`,`level`,`set_name`,`set_area`,`set_group`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		"CREATE TABLE `t_machine_tars_info` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `application` varchar(100) NOT NULL DEFAULT '',\n" +
			"  `server_name` varchar(100) NOT NULL DEFAULT '',\n" +
			"  `app_server_name` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `node_name` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `location` varchar(255) NOT NULL DEFAULT '',\n" +
			"  `machine_type` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `update_time` datetime DEFAULT NULL,\n" +
			"  `update_person` varchar(64) NOT NULL DEFAULT '',\n" +
			"  PRIMARY KEY (`application`,`server_name`,`node_name`),\n" +
			"  UNIQUE KEY `id` (`id`),\n" +
			"  KEY `tmachine_i_2` (`node_name`,`server_name`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		"CREATE TABLE `t_node_info` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `node_name` varchar(128) DEFAULT '',\n" +
			"  `node_obj` varchar(128) DEFAULT '',\n" +
			"  `endpoint_ip` varchar(50) DEFAULT '',\n" +
			"  `endpoint_port` int(11) DEFAULT '0',\n" +
			"  `data_dir` varchar(128) DEFAULT '',\n" +
			"  `load_avg1` float DEFAULT '0',\n" +
			"  `load_avg5` float DEFAULT '0',\n" +
			"  `load_avg15` float DEFAULT '0',\n" +
			"  `last_reg_time` datetime DEFAULT NULL,\n" +
			"  `last_heartbeat` datetime DEFAULT NULL,\n" +
			"  `setting_state` enum('active','inactive') DEFAULT 'inactive',\n" +
			"  `present_state` enum('active','inactive') DEFAULT 'inactive',\n" +
			"  `tars_version` varchar(128) NOT NULL DEFAULT '',\n" +
			"  `template_name` varchar(128) NOT NULL DEFAULT '',\n" +
			"  `modify_time` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
			"  `group_id` int(11) DEFAULT '-1',\n" +
			"  `label` TEXT,\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  UNIQUE KEY `node_name` (`node_name`),\n" +
			"  KEY `indx_node_info_1` (`last_heartbeat`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		"CREATE TABLE `t_profile_template` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `template_name` varchar(128) DEFAULT '',\n" +
			"  `parents_name` varchar(128) DEFAULT '',\n" +
			"  `profile` text NOT NULL,\n" +
			"  `posttime` datetime DEFAULT NULL,\n" +
			"  `lastuser` varchar(30) DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  UNIQUE KEY `template_name` (`template_name`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		"CREATE TABLE `t_registry_info` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `locator_id` varchar(128) NOT NULL DEFAULT '',\n" +
			"  `servant` varchar(128) NOT NULL DEFAULT '',\n" +
			"  `endpoint` varchar(128) NOT NULL DEFAULT '',\n" +
			"  `last_heartbeat` datetime DEFAULT NULL,\n" +
			"  `present_state` enum('active','inactive') DEFAULT 'inactive',\n" +
			"  `tars_version` varchar(128) NOT NULL DEFAULT '',\n" +
			"  `modify_time` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
			"  `enable_group` char(1) DEFAULT 'N',\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  UNIQUE KEY `locator_id` (`locator_id`,`servant`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		serverConfDDL,
		"CREATE TABLE `t_server_patchs` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `server` varchar(50) DEFAULT NULL,\n" +
			"  `version` varchar(1000) DEFAULT '',\n" +
			"  `tgz` text,\n" +
			"  `update_text` varchar(255) DEFAULT NULL,\n" +
			"  `reason_select` varchar(255) DEFAULT NULL,\n" +
			"  `is_server_group` tinyint(2) NOT NULL DEFAULT '0',\n" +
			"  `publish` tinyint(3) DEFAULT NULL,\n" +
			"  `publish_time` datetime DEFAULT NULL,\n" +
			"  `publish_user` varchar(30) DEFAULT NULL,\n" +
			"  `upload_time` datetime DEFAULT NULL,\n" +
			"  `upload_user` varchar(30) DEFAULT NULL,\n" +
			"  `posttime` datetime DEFAULT NULL,\n" +
			"  `lastuser` varchar(30) DEFAULT NULL,\n" +
			"  `is_release_version` enum('true','false') DEFAULT 'true',\n" +
			"  `package_type` tinyint(4) DEFAULT '0',\n" +
			"  `group_id` varchar(64) NOT NULL DEFAULT '',\n" +
			"  `default_version` tinyint(4) DEFAULT '0',\n" +
			"  `md5` varchar(40) DEFAULT NULL,\n" +
			"  `svn_version` varchar(50) DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  KEY `server_patchs_server_index` (`server`),\n" +
			"  KEY `index_patchs_i1` (`server`),\n" +
			"  KEY `index_i_2` (`tgz`(50))\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
		"INSERT INTO `t_profile_template` (`template_name`, `parents_name`, `profile`, `posttime`, `lastuser`) VALUES\n" +
			"  ('tars.default', '', '<tars>\\n  <application>\\n  </application>\\n</tars>\\n', now(), 'admin'),\n" +
			"  ('tars.tarsnode', 'tars.default', '<tars>\\n  <application>\\n    <server>\\n      logLevel=DEBUG\\n    </server>\\n  </application>\\n</tars>\\n', now(), 'admin')",
	},
	"tars_stat":     {ecstatusDDL},
	"tars_property": {ecstatusDDL},
	"db_tars_web": {
		"CREATE TABLE `t_application` (\n" +
			"  `f_id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `f_name` varchar(64) NOT NULL DEFAULT '',\n" +
			"  `f_create_person` varchar(64) NOT NULL DEFAULT '',\n" +
			"  `f_create_time` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
			"  `f_update_person` varchar(64) NOT NULL DEFAULT '',\n" +
			"  `f_update_time` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
			"  PRIMARY KEY (`f_id`),\n" +
			"  UNIQUE KEY `f_name` (`f_name`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	},
	"db_user_system": {
		"CREATE TABLE `t_auth` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `flag` varchar(128) DEFAULT NULL,\n" +
			"  `role` varchar(128) DEFAULT NULL,\n" +
			"  `uid` varchar(128) DEFAULT NULL,\n" +
			"  `create_time` datetime DEFAULT NULL,\n" +
			"  `update_time` datetime DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
		"CREATE TABLE `t_user_info` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `uid` varchar(128) DEFAULT NULL,\n" +
			"  `password` varchar(128) NOT NULL,\n" +
			"  `update_time` datetime DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  UNIQUE KEY `user_name` (`uid`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
		"CREATE TABLE `t_token` (\n" +
			"  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,\n" +
			"  `uid` varchar(128) DEFAULT NULL,\n" +
			"  `token` varchar(255) DEFAULT NULL,\n" +
			"  `valid` int(11) DEFAULT NULL,\n" +
			"  `expire_time` datetime DEFAULT NULL,\n" +
			"  `update_time` datetime DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`),\n" +
			"  KEY `uid` (`uid`),\n" +
			"  KEY `token` (`token`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC",
		"INSERT INTO `t_auth` (`id`, `flag`, `role`, `uid`, `create_time`, `update_time`) VALUES (8, NULL, 'admin', 'admin', now(), NULL)",
		"INSERT INTO `t_user_info` (`id`, `uid`, `password`, `update_time`) VALUES (1, 'admin', '', now())",
	},
	"db_cache_web": {
		"CREATE TABLE `t_apply_app_base` (\n" +
			"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
			"  `status` int(4) NOT NULL DEFAULT '1',\n" +
			"  `idc_area` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `set_area` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `admin` varchar(255) NOT NULL DEFAULT '',\n" +
			"  `name` varchar(100) NOT NULL DEFAULT '',\n" +
			"  `create_person` varchar(50) NOT NULL DEFAULT '',\n" +
			"  `modify_time` datetime DEFAULT NULL,\n" +
			"  PRIMARY KEY (`id`)\n" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8",
	},
}

// serverConfDDL is t_server_conf as db_tars.sql creates it: with run_type
// and base_image_id (which tars_upgrade.conf also adds to older ones), and
// without sha, which only the upgrade adds.
const serverConfDDL = "CREATE TABLE `t_server_conf` (\n" +
	"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
	"  `application` varchar(128) DEFAULT '',\n" +
	"  `server_name` varchar(128) DEFAULT '',\n" +
	"  `node_group` varchar(50) NOT NULL DEFAULT '',\n" +
	"  `node_name` varchar(50) NOT NULL DEFAULT '',\n" +
	"  `registry_timestamp` timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,\n" +
	"  `base_path` varchar(128) DEFAULT '',\n" +
	"  `exe_path` varchar(128) NOT NULL DEFAULT '',\n" +
	"  `template_name` varchar(128) NOT NULL DEFAULT '',\n" +
	"  `bak_flag` int(11) NOT NULL DEFAULT '0',\n" +
	"  `setting_state` enum('active','inactive') NOT NULL DEFAULT 'inactive',\n" +
	"  `present_state` enum('active','inactive','activating','deactivating','destroyed') NOT NULL DEFAULT 'inactive',\n" +
	"  `process_id` int(11) NOT NULL DEFAULT '0',\n" +
	"  `patch_version` varchar(128) NOT NULL DEFAULT '',\n" +
	"  `patch_time` datetime DEFAULT NULL,\n" +
	"  `patch_user` varchar(128) NOT NULL DEFAULT '',\n" +
	"  `tars_version` varchar(128) NOT NULL DEFAULT '',\n" +
	"  `posttime` datetime DEFAULT NULL,\n" +
	"  `lastuser` varchar(30) DEFAULT NULL,\n" +
	"  `server_type` enum('tars_cpp','not_tars','tars_java','tars_nodejs','tars_php','tars_go') NOT NULL DEFAULT 'tars_cpp',\n" +
	"  `start_script_path` varchar(128) DEFAULT NULL,\n" +
	"  `stop_script_path` varchar(128) DEFAULT NULL,\n" +
	"  `monitor_script_path` varchar(128) DEFAULT NULL,\n" +
	"  `enable_group` char(1) DEFAULT 'N',\n" +
	"  `enable_set` char(1) NOT NULL DEFAULT 'N',\n" +
	"  `set_name` varchar(16) DEFAULT NULL,\n" +
	"  `set_area` varchar(16) DEFAULT NULL,\n" +
	"  `set_group` varchar(64) DEFAULT NULL,\n" +
	"  `ip_group_name` varchar(64) DEFAULT NULL,\n" +
	"  `profile` text,\n" +
	"  `source` text,\n" +
	"  `config_center_port` int(11) NOT NULL DEFAULT '0',\n" +
	"  `async_thread_num` int(11) DEFAULT '3',\n" +
	"  `server_important_type` enum('0','1','2','3','4','5') DEFAULT '0',\n" +
	"  `grid_flag` varchar(16) NOT NULL DEFAULT 'NORMAL',\n" +
	"  `flow_state` enum('active','inactive') NOT NULL DEFAULT 'active',\n" +
	"  `run_type` varchar(32) NOT NULL DEFAULT '',\n" +
	"  `base_image_id` int(11) DEFAULT '0',\n" +
	"  PRIMARY KEY (`id`),\n" +
	"  UNIQUE KEY `application` (`application`,`server_name`,`node_name`),\n" +
	"  KEY `node_name` (`node_name`),\n" +
	"  KEY `index_i_3` (`setting_state`,`server_type`,`application`,`server_name`,`node_name`),\n" +
	"  KEY `index_regtime` (`registry_timestamp`)\n" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8"

// ecstatusDDL is the status table tarsstat and tarsproperty create
// (StatServer/StatDbManager.cpp): a MEMORY table, empty after a restart.
const ecstatusDDL = "CREATE TABLE `t_ecstatus` (\n" +
	"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
	"  `appname` varchar(64) NOT NULL DEFAULT '',\n" +
	"  `action` tinyint(4) NOT NULL DEFAULT '0',\n" +
	"  `checkint` smallint(6) NOT NULL DEFAULT '10',\n" +
	"  `lasttime` varchar(16) NOT NULL DEFAULT '',\n" +
	"  PRIMARY KEY (`appname`,`action`),\n" +
	"  UNIQUE KEY `id` (`id`)\n" +
	") ENGINE=MEMORY DEFAULT CHARSET=utf8"

// schemaUpgrade is one entry of tars_upgrade.conf: add column to
// database.table unless it is there. since is the first framework version
// that knows it ("" for every version).
type schemaUpgrade struct {
	since, database, table, column, ddl string
}

// upgrades are the fake's tars_upgrade.conf. The first two are no-ops on a
// schema this fake created (its t_server_conf has both), as on a real one;
// sha is what v3.0.16 adds.
var upgrades = []schemaUpgrade{
	{"", "db_tars", "t_server_conf", "run_type", "ALTER TABLE `db_tars`.`t_server_conf` ADD `run_type` VARCHAR(128) DEFAULT ''"},
	{"", "db_tars", "t_server_conf", "base_image_id", "ALTER TABLE `db_tars`.`t_server_conf` ADD `base_image_id` INT(11) DEFAULT '0'"},
	{"v3.0.16", "db_tars", "t_server_conf", "sha", "ALTER TABLE `db_tars`.`t_server_conf` ADD `sha` VARCHAR(255) DEFAULT ''"},
}

// databaseExists tells whether the server has the named database.
func databaseExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for database %s on %s: %w", name, mysqlAddr(), err)
	}
	return n > 0, nil
}

// dropDatabases is REBUILD=true: the six databases go, with every row.
func dropDatabases(ctx context.Context, db *sql.DB) error {
	for _, name := range databases {
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			return fmt.Errorf("REBUILD=true: drop database %s: %w", name, err)
		}
	}
	log.Printf("REBUILD=true: dropped databases db_tars, tars_stat, tars_property, db_tars_web, db_user_system, db_cache_web on %s", mysqlAddr())
	return nil
}

// createDatabases creates each of the six databases that is missing, with
// its tables and first rows, as the master's entrypoint does. One that
// exists is left as it is (the schema upgrade is upgradeSchema's). It
// tells whether db_tars was among them.
func createDatabases(ctx context.Context, db *sql.DB, version string) (newTars bool, err error) {
	for _, name := range databases {
		ok, err := databaseExists(ctx, db, name)
		if err != nil {
			return false, err
		}
		if ok {
			continue
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			return false, fmt.Errorf("create database %s: %w", name, err)
		}
		err = createDatabase(ctx, conn, name)
		conn.Close()
		if err != nil {
			return false, err
		}
		log.Printf("created database %s (framework %s)", name, version)
		newTars = newTars || name == "db_tars"
	}
	return newTars, nil
}

// createDatabase runs CREATE DATABASE and the database's schema on one
// connection (USE holds for that connection only).
func createDatabase(ctx context.Context, conn *sql.Conn, name string) error {
	stmts := append([]string{"CREATE DATABASE IF NOT EXISTS `" + name + "` DEFAULT CHARACTER SET utf8", "USE `" + name + "`"}, schema[name]...)
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

// upgradeSchema applies every upgrade that version knows and the schema
// lacks; re-running it changes nothing. Two framework hosts starting at
// once may race to add a column: the loser's "duplicate column" is success.
func upgradeSchema(ctx context.Context, db *sql.DB, version string) error {
	for _, u := range upgrades {
		if !versionAtLeast(version, u.since) {
			continue
		}
		var n int
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
			u.database, u.table, u.column).Scan(&n)
		if err != nil {
			return fmt.Errorf("schema upgrade: look for %s.%s.%s: %w", u.database, u.table, u.column, err)
		}
		if n > 0 {
			continue
		}
		_, err = db.ExecContext(ctx, u.ddl)
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1060 { // ER_DUP_FIELDNAME
			err = nil
		}
		if err != nil {
			return fmt.Errorf("schema upgrade: add %s.%s.%s: %w", u.database, u.table, u.column, err)
		}
		log.Printf("schema upgrade: added %s.%s.%s", u.database, u.table, u.column)
	}
	return nil
}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// versionAtLeast tells whether version (v3.0.16, v3.0.16-slow) is at least
// min; every version is at least "", and one that does not parse is older
// than any other.
func versionAtLeast(version, min string) bool {
	if min == "" {
		return true
	}
	v, m := versionRE.FindStringSubmatch(version), versionRE.FindStringSubmatch(min)
	if v == nil || m == nil {
		return false
	}
	for i := 1; i <= 3; i++ {
		a, _ := strconv.Atoi(v[i])
		b, _ := strconv.Atoi(m[i])
		if a != b {
			return a > b
		}
	}
	return true
}
