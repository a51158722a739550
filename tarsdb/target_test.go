package tarsdb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/plan"
)

const secret = "s3cr3t-pw"

func ep(id, ip string, aliases ...string) *network.EndpointSettings {
	return &network.EndpointSettings{NetworkID: id, IPAddress: ip, Aliases: aliases}
}

// bed is an engine with a framework on network "tars" (and "other" for the
// database "far"), a database "tars-mysql" on "tars" at 172.25.0.2 with the
// alias "mysql", and decoys: a probe and a swap's temporary container that
// also carry the alias, and a stranger on "other" at 172.26.0.2.
func bed(t *testing.T, env ...string) (*fakeEngine, container.InspectResponse, *container.InspectResponse) {
	f := newFake(t)
	db := f.add("tars-mysql", "mysql:5.7", []string{"MYSQL_ROOT_PASSWORD=" + secret},
		map[string]*network.EndpointSettings{"tars": ep("n1", "172.25.0.2", "mysql")})
	probe := f.add("probe", "tarsup-probe:1", nil, map[string]*network.EndpointSettings{"tars": ep("n1", "172.25.0.9", "mysql2")})
	probe.Config.Labels[plan.LabelProbe] = "1"
	f.add("tars-mysql2.tarsup-old", "mysql:5.7", nil, map[string]*network.EndpointSettings{"tars": ep("n1", "172.25.0.8", "mysql2")})
	f.add("stranger", "mysql:8", nil, map[string]*network.EndpointSettings{"other": ep("n2", "172.26.0.2", "far")})
	fw := f.add("tars-framework", "tarscloud/framework:v3.0.15", env, map[string]*network.EndpointSettings{"tars": ep("n1", "172.25.0.3")})
	return f, *fw, db
}

func TestLocateMatches(t *testing.T) {
	for _, tc := range []struct {
		host, by string
	}{
		{"tars-mysql", "name"},
		{"mysql", "alias"},
		{"172.25.0.2", "ip"},
	} {
		t.Run(tc.by, func(t *testing.T) {
			f, fw, db := bed(t, "MYSQL_HOST="+tc.host, "MYSQL_ROOT_PASSWORD="+secret)
			got, err := LocateWith(t.Context(), f, fw, LocateOptions{Host: "local"})
			if err != nil {
				t.Fatal(err)
			}
			want := Target{Host: "local", FrameworkID: fw.ID, Framework: "tars-framework", DBID: db.ID, DB: "tars-mysql", DBImage: "mysql:5.7",
				MatchedBy: tc.by, DBHost: tc.host, DBPort: "3306", NetworkMode: "container:" + db.ID, Addr: "127.0.0.1", Port: "3306",
				User: "root", PasswordVar: "MYSQL_ROOT_PASSWORD", Image: db.Image, password: secret}
			if got != want {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
			for _, s := range []string{got.String(), fmt.Sprintf("%v %+v %#v %s", got, got, got, got)} {
				if strings.Contains(s, secret) {
					t.Errorf("the password is in %q", s)
				}
			}
		})
	}
}

func TestLocateVariables(t *testing.T) {
	f, fw, _ := bed(t, "MYSQL_HOST=mysql", "MYSQL_PORT=3307", "MYSQL_USER=tars", "MYSQL_PASSWORD=x")
	got, err := Locate(t.Context(), f, fw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Port != "3307" || got.User != "tars" || got.PasswordVar != "MYSQL_PASSWORD" || got.password != "x" {
		t.Errorf("got %+v (password %q)", got, got.password)
	}
	f, fw, _ = bed(t, "DBIP=172.25.0.2", "DBPassword=y")
	got, err = Locate(t.Context(), f, fw)
	if err != nil || got.DB != "tars-mysql" || got.PasswordVar != "DBPassword" || got.User != "root" {
		t.Errorf("legacy variables: %+v, %v", got, err)
	}
	f, fw, _ = bed(t, "MYSQL_HOST=mysql")
	got, err = Locate(t.Context(), f, fw)
	if err != nil || got.PasswordVar != "" || !strings.Contains(got.String(), "no password") {
		t.Errorf("no password variable: %s, %v", got, err)
	}
}

func TestLocateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		edit func(f *fakeEngine, db *container.InspectResponse)
		kind *fault.Kind
		want []string
	}{
		{"no MYSQL_HOST", []string{"MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{"tars-framework", "MYSQL_HOST"}},
		// Only tarsup's own containers carry mysql2: they are never the database.
		{"own containers", []string{"MYSQL_HOST=mysql2", "MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{`"mysql2"`, "no container", "client image"}},
		// far is an alias on a network the framework is not on.
		{"another network", []string{"MYSQL_HOST=far", "MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{"far", "tars-framework"}},
		// stranger is a container's NAME on a network the framework is not
		// on: the engine's DNS does not resolve it there, so it is not the
		// database (reading, or restoring into, it would be wrong).
		{"a name on another network", []string{"MYSQL_HOST=stranger", "MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{`"stranger"`, "tars-framework"}},
		{"the framework itself", []string{"MYSQL_HOST=tars-framework", "MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{"names that framework itself"}},
		{"the framework's own IP", []string{"MYSQL_HOST=172.25.0.3", "MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{"names that framework itself"}},
		{"by IP on another network", []string{"MYSQL_HOST=172.26.0.2", "MYSQL_ROOT_PASSWORD=" + secret}, nil, fault.BadInput, []string{"172.26.0.2"}},
		{"stopped", []string{"MYSQL_HOST=mysql", "MYSQL_ROOT_PASSWORD=" + secret}, func(_ *fakeEngine, db *container.InspectResponse) {
			db.State = &container.State{Status: "exited"}
		}, fault.Unreachable, []string{"tars-mysql", "exited", "docker start tars-mysql"}},
		// The engine clears a stopped container's IPAddress but keeps the
		// static address it asked for: MYSQL_HOST by IP still names it.
		{"stopped, by its static IP", []string{"MYSQL_HOST=172.25.0.2", "MYSQL_ROOT_PASSWORD=" + secret}, func(_ *fakeEngine, db *container.InspectResponse) {
			db.State = &container.State{Status: "exited"}
			ep := db.NetworkSettings.Networks["tars"]
			ep.IPAMConfig, ep.IPAddress = &network.EndpointIPAMConfig{IPv4Address: "172.25.0.2"}, ""
		}, fault.Unreachable, []string{"tars-mysql", "exited", "docker start tars-mysql"}},
		{"ambiguous", []string{"MYSQL_HOST=mysql", "MYSQL_ROOT_PASSWORD=" + secret}, func(f *fakeEngine, _ *container.InspectResponse) {
			f.add("mysql-replica", "mysql:5.7", nil, map[string]*network.EndpointSettings{"tars": ep("n1", "172.25.0.4", "mysql")})
		}, fault.BadInput, []string{"mysql-replica", "tars-mysql", "unique network alias"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, fw, db := bed(t, tc.env...)
			if tc.edit != nil {
				tc.edit(f, db)
			}
			_, err := Locate(t.Context(), f, fw)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.kind) || fault.ExitCode(err) != fault.ExitBadInput {
				t.Errorf("kind %v, exit %d: %v", fault.Of(err), fault.ExitCode(err), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the password is in the error: %v", err)
			}
		})
	}
}

// A MYSQL_HOST that is no container on the engine is reached through the
// framework's network with the client image given.
func TestLocateViaNetwork(t *testing.T) {
	f, fw, _ := bed(t, "MYSQL_HOST=db.example.com", "MYSQL_ROOT_PASSWORD="+secret)
	got, err := LocateWith(t.Context(), f, fw, LocateOptions{ClientImage: "mariadb:11"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DB != "" || got.Image != "mariadb:11" || got.NetworkMode != "tars" || got.Addr != "db.example.com" || got.Port != "3306" {
		t.Errorf("got %+v", got)
	}
	fw.HostConfig = &container.HostConfig{NetworkMode: "host"}
	got, err = LocateWith(t.Context(), f, fw, LocateOptions{ClientImage: "mariadb:11"})
	if err != nil || got.NetworkMode != "host" {
		t.Errorf("a host-networked framework: %+v, %v", got, err)
	}
	// Host networking reaches every bridge: the IP on "other" is the database.
	fw.Config.Env = []string{"MYSQL_HOST=172.26.0.2"}
	got, err = Locate(t.Context(), f, fw)
	if err != nil || got.DB != "stranger" || got.MatchedBy != "ip" {
		t.Errorf("a host-networked framework, the database by IP: %+v, %v", got, err)
	}
}
