package testbed

import (
	"fmt"
	"net"
	"path/filepath"
)

// TarsLayout describes a deployment laid out as TarsDocs installation/docker.md
// does it: a bridge network with a subnet and static IPs, the database (.2),
// the master framework (.3, /data/tars on a volume, web published if asked),
// optionally a second framework host (.4, SLAVE=true) and nodes (.5, .6, ...)
// with WEB_HOST pointing at the framework, all with a restart policy.
type TarsLayout struct {
	// Prefix starts every name: <Prefix>internal (the network),
	// <Prefix>mysql, <Prefix>framework, <Prefix>slave, <Prefix>node1,
	// <Prefix>node2, ... Use something unique per test (container names are
	// engine-wide).
	Prefix string
	// Subnet of the network, e.g. Engine.Subnet(1). Required.
	Subnet string
	// Images; empty means the Deployer's standard v3.0.15 framework,
	// tars-node:latest and mysql:5.7 (the fake's `db` stand-in, which only
	// accepts connections: the framework then keeps its data as files).
	FrameworkImage, NodeImage, DBImage string
	// MariaDB, when set, is the bed's MariaDB image (Bed.MariaDB): the
	// database is then a real one (Deployer.MariaDB, MYSQL_ROOT_PASSWORD
	// tars2015, data on <Prefix>mysql-data) instead of DBImage, and the fake
	// framework keeps the Tars databases in it; see TarsDeployment.NodeRows.
	MariaDB string
	// Slave adds a second framework host at .4 with SLAVE=true on the same
	// database (its own /data/tars): registry and node, no web.
	Slave bool
	// FrameworkEnv is added after the layout's own framework variables
	// (later entries win in Docker), e.g. "REBUILD=true"; it goes to the
	// slave too, before the slave's SLAVE=true.
	FrameworkEnv []string
	// NodeEnv is added after each node's WEB_HOST, e.g.
	// "FAKE_HEARTBEAT_INTERVAL=1s".
	NodeEnv []string
	// Nodes is the number of node containers.
	Nodes int
	// PublishWeb publishes the framework's 3000 in `-p` syntax, e.g.
	// "3000:3000" or "127.0.0.1::3000"; empty publishes nothing.
	PublishWeb string
	// BindDir, when set, mounts host folders BindDir/framework, BindDir/nodeN
	// and BindDir/mysql (the docs' ./framework/data) instead of named volumes.
	BindDir string
	// Restart is the restart policy; empty means "always", as in the docs.
	Restart string
	// NoWait returns without waiting for the framework and nodes to answer.
	NoWait bool
}

// TarsDeployment is what TarsDocs created.
type TarsDeployment struct {
	Network   string // the network's name
	DB        *Container
	Framework *Container
	Slave     *Container // nil without TarsLayout.Slave
	Nodes     []*Container
	// WebHost is the nodes' WEB_HOST: http://<framework IP>:3000.
	WebHost string
	// MariaDB is TarsLayout.MariaDB: the database image, "" for the stand-in.
	MariaDB string
	// DBPassword is the database's root password (MYSQL_ROOT_PASSWORD).
	DBPassword string
	// The specs the containers were run from, to run one again by hand
	// (Deployer.Replace), e.g. the framework with REBUILD=true.
	FrameworkSpec ContainerSpec
	SlaveSpec     ContainerSpec
	NodeSpecs     []ContainerSpec
}

// DB, framework, slave and first-node host numbers in the subnet, as in the docs.
const (
	dbHost        = 2
	frameworkHost = 3
	slaveHost     = 4
	firstNodeHost = 5
)

// TarsDocs lays out the deployment l describes and, unless l.NoWait, waits
// until the framework hosts answer on 17890 (the master also GET
// /get_tarsnode) and every node on 19385 (probed at their bridge IPs from
// this process); on MariaDB also until every framework host and node is
// active in db_tars.t_node_info.
func (d *Deployer) TarsDocs(l TarsLayout) *TarsDeployment {
	d.t.Helper()
	if l.Subnet == "" {
		d.t.Fatal("TarsDocs: Subnet is required (static IPs need one)")
	}
	if l.FrameworkImage == "" || l.NodeImage == "" || (l.DBImage == "" && l.MariaDB == "") {
		if d.Images == nil {
			d.t.Fatal("TarsDocs: no images given and the Deployer has no standard Images")
		}
		l.FrameworkImage = or(l.FrameworkImage, d.Images.Framework3015)
		l.NodeImage = or(l.NodeImage, d.Images.NodeLatest)
		l.DBImage = or(l.DBImage, d.Images.MySQL)
	}
	netName := l.Prefix + "internal"
	d.Network(netName, l.Subnet)
	dep := &TarsDeployment{Network: netName, MariaDB: l.MariaDB, DBPassword: tarsDBPassword}
	dep.DB = d.runTarsDB(l, netName)

	fwIP := HostIP(l.Subnet, frameworkHost)
	dep.FrameworkSpec = l.frameworkSpec("framework", fwIP, dep.DB.IP, netName)
	if l.PublishWeb != "" {
		dep.FrameworkSpec.Ports = []string{l.PublishWeb}
	}
	dep.Framework = d.Run(dep.FrameworkSpec)
	dep.WebHost = "http://" + fwIP + ":3000"
	if l.Slave {
		// Why after the master: a slave exits when db_tars is missing.
		d.waitFramework(l, dep, dep.Framework, true)
		dep.SlaveSpec = l.frameworkSpec("slave", HostIP(l.Subnet, slaveHost), dep.DB.IP, netName)
		dep.SlaveSpec.Env = append(dep.SlaveSpec.Env, "SLAVE=true")
		dep.Slave = d.Run(dep.SlaveSpec)
	}
	for i := 0; i < l.Nodes; i++ {
		name := fmt.Sprintf("node%d", i+1)
		spec := ContainerSpec{
			Name:     l.Prefix + name,
			Image:    l.NodeImage,
			Env:      append([]string{"WEB_HOST=" + dep.WebHost}, l.NodeEnv...),
			Volumes:  []string{l.data(name, "/data/tars")},
			Networks: []Attachment{{Network: netName, IPv4: HostIP(l.Subnet, firstNodeHost+i)}},
			Restart:  or(l.Restart, "always"),
		}
		dep.NodeSpecs = append(dep.NodeSpecs, spec)
		dep.Nodes = append(dep.Nodes, d.Run(spec))
	}
	if !l.NoWait {
		d.waitTarsDocs(l, dep)
	}
	return dep
}

// data is the -v entry of a container's data: a named volume
// <Prefix><name>-data, or BindDir/<name>.
func (l TarsLayout) data(name, path string) string {
	if l.BindDir != "" {
		return filepath.Join(l.BindDir, name) + ":" + path
	}
	return l.Prefix + name + "-data:" + path
}

// runTarsDB runs the database container: the stand-in (DBImage) or MariaDB.
func (d *Deployer) runTarsDB(l TarsLayout, netName string) *Container {
	d.t.Helper()
	dbIP := HostIP(l.Subnet, dbHost)
	if l.MariaDB != "" {
		spec := MariaDBSpec{Name: l.Prefix + "mysql", Image: l.MariaDB, Network: netName, IPv4: dbIP,
			Aliases: []string{"mysql"}, RootPassword: tarsDBPassword, Restart: l.Restart, NoWait: l.NoWait}
		if l.BindDir != "" {
			spec.Volume = filepath.Join(l.BindDir, "mysql")
		}
		return d.MariaDB(spec)
	}
	return d.Run(ContainerSpec{
		Name:     l.Prefix + "mysql",
		Image:    l.DBImage,
		Env:      []string{"MYSQL_ROOT_PASSWORD=" + tarsDBPassword},
		Volumes:  []string{l.data("mysql", "/var/lib/mysql")},
		Networks: []Attachment{{Network: netName, IPv4: dbIP, Aliases: []string{"mysql"}}},
		Restart:  or(l.Restart, "always"),
	})
}

// frameworkSpec is the spec of framework host name (framework, slave) at ip.
func (l TarsLayout) frameworkSpec(name, ip, dbIP, netName string) ContainerSpec {
	return ContainerSpec{
		Name:  l.Prefix + name,
		Image: l.FrameworkImage,
		Env: append([]string{
			"MYSQL_HOST=" + dbIP,
			"MYSQL_ROOT_PASSWORD=" + tarsDBPassword,
			"MYSQL_USER=root",
			"MYSQL_PORT=3306",
			"REBUILD=false",
			"INET=eth0",
			"SLAVE=false",
		}, l.FrameworkEnv...),
		Volumes:  []string{l.data(name, "/data/tars")},
		Networks: []Attachment{{Network: netName, IPv4: ip, Aliases: []string{name}}},
		Restart:  or(l.Restart, "always"),
	}
}

// waitFramework waits until framework host c answers (a master: its web too).
func (d *Deployer) waitFramework(l TarsLayout, dep *TarsDeployment, c *Container, master bool) {
	d.t.Helper()
	if l.NoWait {
		return
	}
	d.WaitTCP(net.JoinHostPort(c.IP, "17890"))
	if master {
		d.WaitHTTP(dep.WebHost + "/get_tarsnode")
	}
}

// waitTarsDocs waits until every container of dep answers and, on MariaDB,
// is active in t_node_info.
func (d *Deployer) waitTarsDocs(l TarsLayout, dep *TarsDeployment) {
	d.t.Helper()
	d.waitFramework(l, dep, dep.Framework, true)
	hosts := []*Container{dep.Framework}
	if dep.Slave != nil {
		d.waitFramework(l, dep, dep.Slave, false)
		hosts = append(hosts, dep.Slave)
	}
	for _, n := range dep.Nodes {
		d.WaitTCP(net.JoinHostPort(n.IP, "19385"))
	}
	if dep.MariaDB == "" {
		return
	}
	for _, c := range append(hosts, dep.Nodes...) {
		d.WaitNodeActive(dep, c.IP)
	}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
