package testbed

import (
	"fmt"
	"net"
	"path/filepath"
)

// TarsLayout describes a deployment laid out as TarsDocs installation/docker.md
// does it: a bridge network with a subnet and static IPs, the database (.2),
// the master framework (.3, /data/tars on a volume, web published if asked)
// and nodes (.5, .6, ...) with WEB_HOST pointing at the framework, all with a
// restart policy.
type TarsLayout struct {
	// Prefix starts every name: <Prefix>internal (the network),
	// <Prefix>mysql, <Prefix>framework, <Prefix>node1, <Prefix>node2, ...
	// Use something unique per test (container names are engine-wide).
	Prefix string
	// Subnet of the network, e.g. Engine.Subnet(1). Required.
	Subnet string
	// Images; empty means the Deployer's standard v3.0.15 framework,
	// tars-node:latest and mysql:5.7.
	FrameworkImage, NodeImage, DBImage string
	// FrameworkEnv is added after the layout's own framework variables
	// (later entries win in Docker), e.g. "REBUILD=true".
	FrameworkEnv []string
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
	Nodes     []*Container
	// WebHost is the nodes' WEB_HOST: http://<framework IP>:3000.
	WebHost string
}

// DB, framework and first-node host numbers in the subnet, as in the docs.
const (
	dbHost        = 2
	frameworkHost = 3
	firstNodeHost = 5
)

// TarsDocs lays out the deployment l describes and, unless l.NoWait, waits
// until the framework answers on 17890 and GET /get_tarsnode and every node on
// 19385 (probed at their bridge IPs from this process).
func (d *Deployer) TarsDocs(l TarsLayout) *TarsDeployment {
	d.t.Helper()
	if l.Subnet == "" {
		d.t.Fatal("TarsDocs: Subnet is required (static IPs need one)")
	}
	if l.FrameworkImage == "" || l.NodeImage == "" || l.DBImage == "" {
		if d.Images == nil {
			d.t.Fatal("TarsDocs: no images given and the Deployer has no standard Images")
		}
		l.FrameworkImage = or(l.FrameworkImage, d.Images.Framework3015)
		l.NodeImage = or(l.NodeImage, d.Images.NodeLatest)
		l.DBImage = or(l.DBImage, d.Images.MySQL)
	}
	restart := or(l.Restart, "always")
	netName := l.Prefix + "internal"
	d.Network(netName, l.Subnet)

	data := func(name, path string) string {
		if l.BindDir != "" {
			return filepath.Join(l.BindDir, name) + ":" + path
		}
		return l.Prefix + name + "-data:" + path
	}

	dep := &TarsDeployment{Network: netName}
	dbIP := HostIP(l.Subnet, dbHost)
	dep.DB = d.Run(ContainerSpec{
		Name:     l.Prefix + "mysql",
		Image:    l.DBImage,
		Env:      []string{"MYSQL_ROOT_PASSWORD=tars2015"},
		Volumes:  []string{data("mysql", "/var/lib/mysql")},
		Networks: []Attachment{{Network: netName, IPv4: dbIP, Aliases: []string{"mysql"}}},
		Restart:  restart,
	})

	fwIP := HostIP(l.Subnet, frameworkHost)
	fw := ContainerSpec{
		Name:  l.Prefix + "framework",
		Image: l.FrameworkImage,
		Env: append([]string{
			"MYSQL_HOST=" + dbIP,
			"MYSQL_ROOT_PASSWORD=tars2015",
			"MYSQL_USER=root",
			"MYSQL_PORT=3306",
			"REBUILD=false",
			"INET=eth0",
			"SLAVE=false",
		}, l.FrameworkEnv...),
		Volumes:  []string{data("framework", "/data/tars")},
		Networks: []Attachment{{Network: netName, IPv4: fwIP, Aliases: []string{"framework"}}},
		Restart:  restart,
	}
	if l.PublishWeb != "" {
		fw.Ports = []string{l.PublishWeb}
	}
	dep.Framework = d.Run(fw)
	dep.WebHost = "http://" + fwIP + ":3000"

	for i := 0; i < l.Nodes; i++ {
		name := fmt.Sprintf("node%d", i+1)
		dep.Nodes = append(dep.Nodes, d.Run(ContainerSpec{
			Name:     l.Prefix + name,
			Image:    l.NodeImage,
			Env:      []string{"WEB_HOST=" + dep.WebHost},
			Volumes:  []string{data(name, "/data/tars")},
			Networks: []Attachment{{Network: netName, IPv4: HostIP(l.Subnet, firstNodeHost+i)}},
			Restart:  restart,
		}))
	}

	if !l.NoWait {
		d.WaitTCP(net.JoinHostPort(fwIP, "17890"))
		d.WaitHTTP(dep.WebHost + "/get_tarsnode")
		for _, n := range dep.Nodes {
			d.WaitTCP(net.JoinHostPort(n.IP, "19385"))
		}
	}
	return dep
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
