package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/health"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/swapname"
)

// AddRequest describes a Tars container to put on an engine that has none of
// that role: a tarsnode on a new node host, or a framework host with
// SLAVE=true against the existing database (TarsDocs installation/expand.md).
type AddRequest struct {
	Role  images.Role // RoleNode or RoleFramework
	Name  string
	Image string
	// Env is the Tars environment (WEB_HOST, TARS_REGISTRY_ADDRESS, MYSQL_*,
	// SLAVE, REBUILD, DOMAIN ...).
	Env map[string]string
	// Network is "host" or a network name; "" is the default bridge.
	Network string
	// IP is a static IPv4 address on Network.
	IP string
	// Volume is a named volume or an absolute host folder mounted on /data/tars.
	Volume string
	// Restart is the restart policy that replaces the docs' crontab monitor.
	Restart string
	Labels  map[string]string

	// Domain is DOMAIN, the IP or name the container registers with; ""
	// means IP when one is given, else the container's own eth0 address.
	Domain string
	// WebHost is a node's framework web (WEB_HOST: http://FRAMEWORK:3000).
	WebHost string
	// Registries are a node's framework registries (IP or IP:PORT), for
	// TARS_REGISTRY_ADDRESS.
	Registries []string
	// MySQL is a framework host's database: the master's.
	MySQL MySQL
	// Inet is a framework host's INET: the interface whose IP it records.
	Inet string
}

// MySQL is the framework database a framework host joins.
type MySQL struct {
	Host     string
	Port     int    // 0: 3306
	User     string // "": root
	Password string
}

// Prepare applies the add rules and returns the request as it will run:
// the Tars environment of its role (a node's WEB_HOST and registries; a
// framework host's database, and always SLAVE=true and REBUILD=false),
// DOMAIN, and a volume named after the container unless one is given.
// A missing input of the role is ErrBadInput; Validate checks the rest.
func (r AddRequest) Prepare() (AddRequest, error) {
	env := maps.Clone(r.Env)
	if env == nil {
		env = map[string]string{}
	}
	switch r.Role {
	case images.RoleNode:
		web := r.WebHost
		if web == "" || !(strings.HasPrefix(web, "http://") || strings.HasPrefix(web, "https://")) {
			return r, fault.Mark(fault.BadInput, fmt.Errorf("--web-host http://FRAMEWORK:3000 is required: the node fetches its tarsnode from the framework's web"))
		}
		env["WEB_HOST"] = strings.TrimRight(web, "/")
		if len(r.Registries) > 0 {
			env["TARS_REGISTRY_ADDRESS"] = RegistryAddress(r.Registries)
		}
	case images.RoleFramework:
		if r.MySQL.Host == "" {
			return r, fault.Mark(fault.BadInput, fmt.Errorf("--mysql-host is required: a framework host shares the master's database"))
		}
		port, user := r.MySQL.Port, r.MySQL.User
		if port == 0 {
			port = 3306
		}
		if user == "" {
			user = "root"
		}
		env["MYSQL_HOST"], env["MYSQL_PORT"] = r.MySQL.Host, fmt.Sprint(port)
		env["MYSQL_USER"], env["MYSQL_ROOT_PASSWORD"] = user, r.MySQL.Password
		// Why both: a second framework host joins the existing database;
		// REBUILD=true would drop it for everyone.
		env["SLAVE"], env["REBUILD"] = "true", "false"
		if r.Inet != "" {
			env["INET"] = r.Inet
		}
	}
	if r.Domain != "" {
		env["DOMAIN"] = r.Domain
	} else if r.IP != "" {
		env["DOMAIN"] = r.IP
	}
	r.Env = env
	if r.Volume == "" {
		r.Volume = r.Name + "-data"
	}
	return r, nil
}

// Validate checks an add request before anything is touched.
func (r AddRequest) Validate() error {
	if r.Name == "" || r.Image == "" {
		return fault.Mark(fault.BadInput, fmt.Errorf("add %s: a name and an image are needed", r.Role))
	}
	if _, err := images.Parse(r.Image); err != nil {
		return fault.Mark(fault.BadInput, fmt.Errorf("--image: %w", err))
	}
	if r.Env["REBUILD"] == "true" {
		return fault.Mark(fault.Refused, fmt.Errorf("refused: REBUILD=true would drop %s", plan.RebuildDrops))
	}
	if r.IP != "" && (r.Network == "" || r.Network == "host" || r.Network == "bridge") {
		return fault.Mark(fault.BadInput, fmt.Errorf("--ip %s needs --network NAME of a user-defined network with a subnet (Docker gives static addresses only there)", r.IP))
	}
	switch container.RestartPolicyMode(r.Restart) {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped, container.RestartPolicyOnFailure, container.RestartPolicyDisabled:
	default:
		return fault.Mark(fault.BadInput, fmt.Errorf("--restart %q: use always, unless-stopped, on-failure or no", r.Restart))
	}
	return nil
}

// Add puts a new Tars container on h: it refuses (fault.Refused) when the engine
// already runs one of that role, pulls the image first, creates and starts the
// container, and gates it on health; a container that fails its gate is
// removed again (its volume is kept).
func Add(ctx context.Context, h *engine.Host, x *Executor, kc authn.Keychain, req AddRequest) (string, error) {
	if err := req.Validate(); err != nil {
		return "", err
	}
	cs, err := Observe(ctx, h)
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		if c.Role == req.Role && !swapname.IsTemporary(c.Name) {
			return "", fault.Mark(fault.Refused, fmt.Errorf("refused: %s already runs %s %s (%s); one %s per engine", h.Name(), req.Role, c.Name, c.Image, req.Role))
		}
		if c.Name == req.Name {
			return "", fault.Mark(fault.BadInput, fmt.Errorf("a container named %s already exists on %s; pick another --name", req.Name, h.Name()))
		}
	}
	if _, err := pullOne(ctx, h, kc, req.Image, UpgradeOptions{}); err != nil {
		return "", err
	}
	ref, _ := images.Parse(req.Image)
	env := make([]string, 0, len(req.Env))
	for _, k := range slices.Sorted(maps.Keys(req.Env)) {
		env = append(env, k+"="+req.Env[k])
	}
	cfg := &container.Config{Image: ref.String(), Env: env, Labels: req.Labels}
	hc := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(req.Restart)}}
	if req.Volume != "" {
		hc.Binds = []string{req.Volume + ":/data/tars"}
	}
	nc := &network.NetworkingConfig{}
	if req.Network != "" {
		hc.NetworkMode = container.NetworkMode(req.Network)
		if req.Network != "host" {
			ep := &network.EndpointSettings{}
			if req.IP != "" {
				ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: req.IP}
			}
			nc.EndpointsConfig = map[string]*network.EndpointSettings{req.Network: ep}
		}
	}
	created, err := h.Engine.ContainerCreate(ctx, cfg, hc, nc, nil, req.Name)
	if err != nil {
		return "", fault.Mark(fault.BadInput, fmt.Errorf("create %s on %s: %w", req.Name, h.Name(), err))
	}
	ctx = context.WithoutCancel(ctx)
	x.report(Event{Host: h.Name(), Container: req.Name, Action: "add", To: ref.String(), Result: "created"})
	fail := func(err error) (string, error) {
		x.discard(ctx, h, created.ID)
		x.report(Event{Host: h.Name(), Container: req.Name, Action: "add", Result: "removed again", Detail: err.Error()})
		return "", fault.Mark(fault.RolledBack, fmt.Errorf("add %s on %s: %w (the container was removed again; its volume is kept)", req.Name, h.Name(), err))
	}
	if err := h.Engine.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fail(fmt.Errorf("start: %w", err))
	}
	if err := x.Opts.Gate.Wait(ctx, h, created.ID, req.Role); err != nil {
		return fail(fmt.Errorf("health gate: %w", err))
	}
	x.report(Event{Host: h.Name(), Container: req.Name, Action: "add", To: ref.String(), Result: "healthy"})
	return created.ID, nil
}

// RegistryAddress formats a Tars registry list ("ip:port;ip:port") from
// addresses given as IP or IP:PORT (port 17890 by default).
func RegistryAddress(addrs []string) string {
	var out []string
	for _, a := range addrs {
		for _, p := range strings.Split(a, ";") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !strings.Contains(p, ":") {
				p = fmt.Sprintf("%s:%d", p, health.PortRegistry)
			}
			out = append(out, p)
		}
	}
	return strings.Join(out, ";")
}
