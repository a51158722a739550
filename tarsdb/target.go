// Package tarsdb reaches a Tars deployment's MySQL/MariaDB database through
// its Docker Engine: Locate finds, from a framework container's MYSQL_*
// variables, the database container on the same engine and how to reach it;
// a Client then runs the database image's own client (mariadb or mysql) or
// dump tool (mariadb-dump or mysqldump) in a short-lived container there,
// with stdin and stdout streamed. tarsup itself never dials MySQL, so this
// works on remote engines (tcp:// with TLS) and on private bridges, and the
// password is never on a command line (it travels as MYSQL_PWD).
//
// The database container is only read: nothing here stops, renames,
// recreates or starts it.
package tarsdb

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/images"
	"github.com/tarsup/tarsup/orchestrator/engine"
	"github.com/tarsup/tarsup/orchestrator/lock"
	"github.com/tarsup/tarsup/orchestrator/plan"
	"github.com/tarsup/tarsup/swapname"
)

// DefaultPort and DefaultUser are what the framework uses when MYSQL_PORT
// and MYSQL_USER are unset (TARS.md).
const (
	DefaultPort = "3306"
	DefaultUser = "root"
)

// Target says where a deployment's database is and how a client container
// reaches it. Its String and every error of this package name the password's
// variable, never the password.
type Target struct {
	// Host is the engine's name in reports.
	Host string
	// FrameworkID and Framework are the framework container the target was
	// read from (its name without the leading slash).
	FrameworkID, Framework string
	// DBID, DB and DBImage are the database container (its ID, name and the
	// image it runs, the image client containers are created from); all ""
	// when MYSQL_HOST is not a container on that engine.
	DBID, DB, DBImage string
	// MatchedBy says how MYSQL_HOST named the database container: "name",
	// "alias" or "ip" ("" without a container).
	MatchedBy string
	// DBHost and DBPort are the framework's MYSQL_HOST and MYSQL_PORT.
	DBHost, DBPort string
	// NetworkMode is the client containers' network mode: container:<DBID>
	// (then Addr is 127.0.0.1), or one of the framework's networks (then
	// Addr is DBHost).
	NetworkMode string
	// Addr and Port are what the client connects to.
	Addr, Port string
	// User is MYSQL_USER (root when unset).
	User string
	// PasswordVar names the framework variable the password came from
	// (MYSQL_ROOT_PASSWORD, MYSQL_PASSWORD or the legacy DBPassword); ""
	// when the framework sets none (an empty password).
	PasswordVar string
	// Image is the image client containers are created from: DBImage, or
	// the ClientImage of LocateOptions when there is no database container.
	Image string

	password string
}

// String describes the target without the password, for logs and errors.
func (t Target) String() string {
	where := fmt.Sprintf("%s:%s (MYSQL_HOST of %s)", t.DBHost, t.DBPort, t.Framework)
	if t.DB != "" {
		where = fmt.Sprintf("database container %s (MYSQL_HOST %s of %s)", t.DB, t.DBHost, t.Framework)
	}
	pw := "no password"
	if t.PasswordVar != "" {
		pw = "password from " + t.PasswordVar
	}
	return fmt.Sprintf("%s on %s as %s, %s", where, t.Host, t.User, pw)
}

// GoString keeps %#v from printing the password.
func (t Target) GoString() string { return "tarsdb.Target{" + t.String() + "}" }

// WithPassword returns t with another password (tests, and a password given
// by the operator), and the variable it is said to come from.
func (t Target) WithPassword(variable, password string) Target {
	t.PasswordVar, t.password = variable, password
	return t
}

// LocateOptions are Locate's optional inputs.
type LocateOptions struct {
	// Host is the engine's name in reports.
	Host string
	// ClientImage is an image with mariadb/mysql and their dump tools, used
	// when MYSQL_HOST is not a container on the engine (a database on
	// another machine); without it that case is an error.
	ClientImage string
}

// dbVars are the framework variables of the database: the current image's,
// then the legacy tarsdocker/tars image's.
var dbVars = []struct {
	host, port, user string
	passwords        []string
}{
	{"MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", []string{"MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD"}},
	{"DBIP", "DBPort", "DBUser", []string{"DBPassword"}},
}

// Locate is LocateWith without options.
func Locate(ctx context.Context, eng engine.Engine, framework container.InspectResponse) (Target, error) {
	return LocateWith(ctx, eng, framework, LocateOptions{})
}

// LocateWith reads the framework's database variables and finds the database
// container on the same engine: one whose name is MYSQL_HOST, or whose
// network alias or IP on one of the framework's networks is (on any of its
// networks when the framework uses the host's network). tarsup's own
// containers (probes, locks, database clients, a swap's temporary ones) are
// never it. Errors are fault.BadInput (exit 2) and name the framework, the
// variable and the fix.
func LocateWith(ctx context.Context, eng engine.Engine, framework container.InspectResponse, o LocateOptions) (Target, error) {
	t, err := fromEnv(framework, o.Host)
	if err != nil {
		return Target{}, err
	}
	list, err := eng.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return Target{}, fault.Mark(fault.Unreachable, fmt.Errorf("find the database of %s on %s: list containers: %w", t.Framework, t.Host, err))
	}
	var cands []container.InspectResponse
	for _, s := range list {
		if s.ID == framework.ID || ownContainer(s.Labels, s.Names) {
			continue
		}
		in, err := eng.ContainerInspect(ctx, s.ID)
		if err != nil {
			continue // removed while we looked
		}
		cands = append(cands, in)
	}
	db, by, err := matchDB(t, framework, cands)
	if err != nil {
		return Target{}, err
	}
	if db == nil {
		if namesItself(t, framework) {
			return Target{}, fault.Mark(fault.BadInput, fmt.Errorf("MYSQL_HOST %q of framework %s on %s names that framework itself, which runs no database: "+
				"point MYSQL_HOST at the database container's name or network alias", t.DBHost, t.Framework, t.Host))
		}
		return viaNetwork(t, framework, o.ClientImage)
	}
	return viaContainer(t, *db, by)
}

// fromEnv fills a target from the framework's environment.
func fromEnv(framework container.InspectResponse, host string) (Target, error) {
	env := map[string]string{}
	if framework.Config != nil {
		for _, kv := range framework.Config.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	t := Target{Host: host, FrameworkID: framework.ID, Framework: strings.TrimPrefix(nameOf(framework), "/")}
	for _, vs := range dbVars {
		if env[vs.host] == "" {
			continue
		}
		t.DBHost, t.DBPort, t.User = env[vs.host], or(env[vs.port], DefaultPort), or(env[vs.user], DefaultUser)
		for _, p := range vs.passwords {
			if v, ok := env[p]; ok {
				t.PasswordVar, t.password = p, v
				break
			}
		}
		return t, nil
	}
	return Target{}, fault.Mark(fault.BadInput, fmt.Errorf("framework %s on %s has no MYSQL_HOST: tarsup cannot tell where its database is; "+
		"set MYSQL_HOST (and MYSQL_ROOT_PASSWORD) on it as TarsDocs does, or label the framework %s=ignore", t.Framework, host, images.RoleLabel))
}

// ownContainer reports whether a listed container is one of tarsup's own.
func ownContainer(labels map[string]string, names []string) bool {
	if labels[plan.LabelProbe] != "" || labels[lock.LabelLock] != "" || labels[plan.LabelTxn] != "" || labels[LabelClient] != "" {
		return true
	}
	for _, n := range names {
		if swapname.IsTemporary(strings.TrimPrefix(n, "/")) {
			return true
		}
	}
	return false
}

// matchDB picks the container MYSQL_HOST names among cands: a name match
// wins, then an alias or IP on a network the framework shares; two that
// match the same way are ambiguous.
func matchDB(t Target, framework container.InspectResponse, cands []container.InspectResponse) (*container.InspectResponse, string, error) {
	fwNets, hostMode := frameworkNetworks(framework)
	for _, by := range []string{"name", "alias", "ip"} {
		var hits []*container.InspectResponse
		for i := range cands {
			if matches(t.DBHost, by, cands[i], fwNets, hostMode) {
				hits = append(hits, &cands[i])
			}
		}
		switch len(hits) {
		case 0:
			continue
		case 1:
			return hits[0], by, nil
		}
		names := make([]string, len(hits))
		for i, h := range hits {
			names[i] = strings.TrimPrefix(nameOf(*h), "/")
		}
		sort.Strings(names)
		return nil, "", fault.Mark(fault.BadInput, fmt.Errorf("MYSQL_HOST %q of framework %s on %s names several containers by %s (%s): tarsup cannot tell which is the database; "+
			"give the database a unique network alias and point MYSQL_HOST at it", t.DBHost, t.Framework, t.Host, by, strings.Join(names, ", ")))
	}
	return nil, "", nil
}

// matches reports whether c is named host in the way by says, on a network
// the framework shares with it. Why a shared network for a name too: the
// engine's DNS resolves a container name only on the networks both are on,
// so a container of that name elsewhere (a user's, on another network) is
// not the framework's database, and reading or restoring it would be wrong.
func matches(host, by string, c container.InspectResponse, fwNets map[string]bool, hostMode bool) bool {
	if c.NetworkSettings == nil {
		return false
	}
	for netName, ep := range c.NetworkSettings.Networks {
		if ep == nil || !(hostMode || fwNets[netName] || (ep.NetworkID != "" && fwNets[ep.NetworkID])) {
			continue
		}
		if by == "name" && strings.TrimPrefix(nameOf(c), "/") == host {
			return true
		}
		if by == "ip" && (ep.IPAddress == host || ep.GlobalIPv6Address == host || staticIP(ep) == host) {
			return true
		}
		if by == "alias" {
			for _, a := range append(append([]string{}, ep.Aliases...), ep.DNSNames...) {
				if a == host {
					return true
				}
			}
		}
	}
	return false
}

// staticIP is the address an endpoint asked for: the engine keeps it on a
// stopped container, which has no IPAddress. Why: a database stopped by
// hand must be named as such ("is exited: start it"), not as no container.
func staticIP(ep *network.EndpointSettings) string {
	if ep.IPAMConfig == nil {
		return ""
	}
	return ep.IPAMConfig.IPv4Address
}

// namesItself reports whether the framework's MYSQL_HOST is its own name,
// alias or IP.
func namesItself(t Target, framework container.InspectResponse) bool {
	fwNets, _ := frameworkNetworks(framework)
	for _, by := range []string{"name", "alias", "ip"} {
		if matches(t.DBHost, by, framework, fwNets, false) {
			return true
		}
	}
	return false
}

// frameworkNetworks returns the framework's networks by name and ID, and
// whether it uses the host's network (it then reaches every bridge).
func frameworkNetworks(framework container.InspectResponse) (map[string]bool, bool) {
	nets := map[string]bool{}
	if framework.HostConfig != nil && framework.HostConfig.NetworkMode.IsHost() {
		return nets, true
	}
	if framework.NetworkSettings != nil {
		for name, ep := range framework.NetworkSettings.Networks {
			nets[name] = true
			if ep != nil && ep.NetworkID != "" {
				nets[ep.NetworkID] = true
			}
		}
	}
	return nets, false
}

// viaContainer completes a target whose database container was found: the
// clients share its network namespace and connect to 127.0.0.1.
func viaContainer(t Target, db container.InspectResponse, by string) (Target, error) {
	t.DBID, t.DB, t.MatchedBy = db.ID, strings.TrimPrefix(nameOf(db), "/"), by
	if db.Config != nil {
		t.DBImage = db.Config.Image
	}
	t.Image = t.DBImage
	if db.Image != "" {
		t.Image = db.Image // the image ID: a tag moved since does not matter
	}
	if db.State == nil || !db.State.Running || db.State.Restarting {
		state := "not running"
		if db.State != nil && db.State.Status != "" {
			state = db.State.Status
		}
		return Target{}, fault.Mark(fault.Unreachable, fmt.Errorf("database container %s on %s (MYSQL_HOST of %s) is %s: tarsup never starts or restarts the database; "+
			"start it (docker start %s) and run again", t.DB, t.Host, t.Framework, state, t.DB))
	}
	t.NetworkMode, t.Addr, t.Port = "container:"+db.ID, "127.0.0.1", t.DBPort
	return t, nil
}

// viaNetwork completes a target whose MYSQL_HOST is no container on the
// engine: the clients join the framework's network and connect to
// MYSQL_HOST:MYSQL_PORT as the framework does.
func viaNetwork(t Target, framework container.InspectResponse, image string) (Target, error) {
	if image == "" {
		return Target{}, fault.Mark(fault.BadInput, fmt.Errorf("MYSQL_HOST %q of framework %s on %s is no container on that engine (by name, network alias or IP on a network of the framework), "+
			"and no image with a MySQL client was named to reach it: run the database as a container on the framework's engine and point MYSQL_HOST at its name or alias, "+
			"or name a client image (a stopped container with an engine-assigned IP has none: if the database is stopped, start it)", t.DBHost, t.Framework, t.Host))
	}
	t.Image, t.Addr, t.Port = image, t.DBHost, t.DBPort
	t.NetworkMode = "bridge"
	if framework.HostConfig != nil {
		if m := framework.HostConfig.NetworkMode; m.IsHost() || m.IsContainer() {
			t.NetworkMode = string(m)
			return t, nil
		}
	}
	if framework.NetworkSettings != nil && len(framework.NetworkSettings.Networks) > 0 {
		var names []string
		for n := range framework.NetworkSettings.Networks {
			names = append(names, n)
		}
		sort.Strings(names)
		t.NetworkMode = names[0]
		if framework.HostConfig != nil && framework.NetworkSettings.Networks[string(framework.HostConfig.NetworkMode)] != nil {
			t.NetworkMode = string(framework.HostConfig.NetworkMode)
		}
	}
	return t, nil
}

func nameOf(c container.InspectResponse) string {
	if c.ContainerJSONBase == nil {
		return ""
	}
	return c.Name
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
