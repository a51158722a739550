// Package testbed is tarsup's end-to-end test bed: fake Tars images built in
// process and served by a registry on 127.0.0.1, the machine's Docker Engine
// and extra engines that play other hosts, helpers that lay out deployments
// as users have them, and cleanup of all of it. Nothing is mocked: engines
// pull the images for real, and tarsup runs as a subprocess.
//
// # Use
//
// TestMain (tests/main_test.go) calls Setup once and Close at the end; a test
// then uses
//
//	bed.Local, bed.Engine(ctx, 1)       engines (extra ones start on first use)
//	d := bed.On(ctx, t, engine)         a Deployer: Run, Replace, Network, Volume, TarsDocs,
//	                                    Stop, Wait, Logs, ReadFile, WaitTCP, WaitHTTP, WaitHealth,
//	                                    MariaDB, SQL, MariaDBDump, NodeRows, WaitNodeActive, ...
//	bed.Images.Framework3015, ...       references of the standard images
//	bed.Images.Push(ctx, spec)          one more image, or a floating tag moved
//	bed.Registry.Requests()             what the registry was asked
//	testbed.Run(ctx, bed.Tarsup(t), args...)  the CLI, as Result{Stdout, Stderr, ExitCode}
//
// A program that is not a test (tests/demo, `make demo`) lays out a lab that
// outlives it with testbed.NewLabDeployer(ctx, t, labels, engine, images): its
// own labels instead of the bed's, and nothing removed at the end; t is any
// testbed.TB whose Fatal stops the work under way.
//
// Names of containers, networks and volumes are engine-wide, and several runs
// (engineers, CI) may share the machine: put the run ID in them (tests use
// uniq()). Subnets: Engine.Subnet(k), k in 1..254, gives each engine its
// own /24s.
//
// # Labels and cleanup
//
// Everything a Deployer creates carries RunLabel=<run ID> and
// CaseLabel=<test name>; tarsup copies labels to the containers it recreates.
// At the end of each test its objects are removed (containers forced, with
// their volumes, anonymous ones included), also when it failed, after the
// tail of every container's log is written to the test log. Close removes
// the whole run's objects and the images pulled from its registry, and stops
// the extra engines. A run that dies (panic, timeout, kill -9) stops its
// extra dockerds through Pdeathsig; the next run removes its containers,
// bridges, firewall rules and work dir.
//
// # Images
//
// Each image is one layer holding the static tarsfake binary
// (tests/fake/tarsfake), with an entrypoint naming its role, ENV
// FAKE_VERSION, the label org.opencontainers.image.version, the ports the
// real image exposes and, if asked, a HEALTHCHECK (1 s interval). The
// registry runs on 127.0.0.1, which Docker treats as insecure (plain HTTP)
// by default, so every engine on the machine pulls from it.
//
// # The database image
//
// Bed.MariaDB(ctx, engine) returns a real MariaDB (Debian's 10.11 packages),
// tarsup-testbed/mariadb:<recipe hash>, for tests that need real data: no
// reachable registry has a MySQL image, so the bed builds a root file system
// with mmdebstrap (essential set plus the MariaDB server and client, without
// docs, man pages, locales, perl's library or the clients tarsup does not use;
// about 106 MB) from the machine's own apt sources, and `docker import`s it
// with an entrypoint (mariadb-entrypoint.sh) that acts as the official mysql
// image's: MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD), root@'%'
// over TCP on 0.0.0.0:3306, MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD,
// /docker-entrypoint-initdb.d, data in the VOLUME /var/lib/mysql, and mariadbd
// exec'd as PID 1, so that `docker stop` shuts it down cleanly. mariadb,
// mariadb-dump and mariadb-admin (and their mysql* names) are inside. The
// recipe hash covers the package list, the apt sources (and so their
// snapshot), the entrypoint, the server config and MariaDBRecipe's builder
// version; the root file system is kept as
// /var/cache/tarsup-testbed/mariadb-<hash>.tar ($TARSUP_TESTBED_CACHE) and
// the image stays on the local engine between runs, so only the first run on
// a machine builds (mmdebstrap is apt-get installed if missing; a flock on
// the cache dir serialises builders), and each extra engine imports the tar
// in seconds. Deployer.MariaDB runs a database the TarsDocs way (network,
// static IP, a volume, MYSQL_ROOT_PASSWORD, restart always) and waits until
// root gets in over TCP; Deployer.SQL runs statements in it, and
// Deployer.MariaDBDump dumps it from a short-lived container in its network
// namespace (--network container:<db>), as tarsup's snapshots will.
//
// # A Tars deployment on the real database
//
// TarsLayout.MariaDB (the image from Bed.MariaDB) makes TarsDocs run the
// database as TarsDocs does, on MariaDB (.2, MYSQL_ROOT_PASSWORD tars2015,
// data on <Prefix>mysql-data): the fake framework (see tests/fake/tarsfake)
// then creates the six Tars databases in it with their real tables, applies
// its version's schema upgrade and records its IP, and the nodes register
// and heartbeat to its registry, which writes db_tars.t_node_info and marks
// a node inactive when its heartbeats stop (FAKE_NODE_TIMEOUT, 10 s).
// TarsLayout.Slave adds a second framework host (.4, SLAVE=true) on the same
// database, and TarsLayout.NodeEnv passes knobs to the nodes
// (FAKE_HEARTBEAT_INTERVAL, FAKE_NO_HEARTBEAT, FAKE_REGISTER_IP). TarsDocs
// then waits until every framework host and node is active:
//
//	ref, _ := bed.MariaDB(ctx, bed.Local)
//	dep := d.TarsDocs(testbed.TarsLayout{Prefix: uniq("x-"), Subnet: bed.Local.Subnet(k),
//		MariaDB: ref, Slave: true, Nodes: 2})
//	rows := d.NodeRows(dep)                       // t_node_info: Name, EndpointIP, PresentState, LastHeartbeat, ...
//	since := d.DBNow(dep)                         // the database's clock; NodeRow times are its
//	d.WaitHeartbeatAfter(dep, dep.Nodes[0].IP, since)
//	d.WaitNodeActive(dep, ip); d.WaitNodeInactive(dep, ip); d.NodeRow(dep, ip)
//	d.CountRows(dep, "db_tars.t_server_conf", "node_name = '10.240.3.3'")
//	d.HasColumn(dep, "db_tars.t_server_conf", "sha")  // v3.0.16's schema upgrade
//	d.TarsSQL(dep, "INSERT ...")                   // statements as root, tab-separated output
//	d.TarsDump(dep, "--databases", "db_tars")      // mariadb-dump, as MariaDBDump
//	spec := dep.FrameworkSpec; spec.Env = append(spec.Env, "REBUILD=true")
//	d.Replace(spec)                               // run a container again by hand
//
// Without TarsLayout.MariaDB the database is the `tarsfake db` stand-in,
// which only accepts connections, and the fake framework keeps its data as
// files under /data/tars/db, as before.
//
// # Extra engines and networking
//
// See StartEngine. In short: a second dockerd per slot, in the host's network
// namespace, with its own data root (vfs), exec root, pidfile, socket,
// managed containerd, bridge tsup<n>-0 (10.<240+n>.0.1/24), iptables off, and
// a TLS listener on 127.0.0.<10+n>:2376. Containers of any engine reach an
// extra engine's containers by IP on any port; an extra engine's containers
// reach the main engine's containers only on published ports (at the
// container IP, or at the host's address on their bridge, Engine.Gateway),
// as separate hosts would. The test process reaches every container by its
// bridge IP. Host networking is shared by all engines (one machine): only one
// host-networked framework fits on it.
package testbed
