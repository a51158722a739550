package plan

import (
	"reflect"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/tarsup/tarsup/images"
)

func imageWith(env []string, labels map[string]string, cmd []string, vols ...string) image.InspectResponse {
	cfg := &dockerspec.DockerOCIImageConfig{}
	cfg.Env, cfg.Labels, cfg.Cmd = env, labels, cmd
	cfg.ExposedPorts = map[string]struct{}{"17890/tcp": {}}
	cfg.Volumes = map[string]struct{}{}
	for _, v := range vols {
		cfg.Volumes[v] = struct{}{}
	}
	return image.InspectResponse{ID: "sha256:img", Config: cfg}
}

func TestDerive(t *testing.T) {
	oldImg := imageWith([]string{"PATH=/bin", "FAKE_VERSION=v3.0.15"}, map[string]string{"org.opencontainers.image.version": "v3.0.15"}, []string{"/start"}, "/var/lib/anon")
	newImg := imageWith([]string{"PATH=/bin", "FAKE_VERSION=v3.0.16", "REBUILD=true"}, map[string]string{"org.opencontainers.image.version": "v3.0.16"}, []string{"/start"})
	old := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: "0123456789abcdef0123",
			HostConfig: &container.HostConfig{
				Binds:         []string{"/srv/tars:/data/tars:rw", "named:/named"},
				NetworkMode:   "internal",
				RestartPolicy: container.RestartPolicy{Name: "always"},
				PortBindings:  nat.PortMap{"3000/tcp": {{HostIP: "127.0.0.1", HostPort: "3000"}}},
				Links:         []string{"/tars-mysql:/tars-framework/db"},
				Resources:     container.Resources{Memory: 256 << 20, PidsLimit: ptr(int64(200))},
			},
		},
		Mounts: []container.MountPoint{
			{Type: mount.TypeBind, Source: "/srv/tars", Destination: "/data/tars", RW: true},
			{Type: mount.TypeVolume, Name: "named", Destination: "/named", RW: true},
			{Type: mount.TypeVolume, Name: "4f3a9e", Destination: "/var/lib/anon", RW: true},
			{Type: mount.TypeVolume, Name: "77aa01", Destination: "/cache", RW: false},
		},
		Config: &container.Config{
			Hostname:     "0123456789ab",
			Image:        "tarscloud/framework:v3.0.15",
			Env:          []string{"PATH=/bin", "FAKE_VERSION=v3.0.15", "MYSQL_HOST=tars-mysql", "REBUILD=false"},
			Labels:       map[string]string{"org.opencontainers.image.version": "v3.0.15", "ops": "yes", LabelTxn: "old-txn", LabelPrevious: "x"},
			Cmd:          []string{"/start"},
			ExposedPorts: nat.PortSet{"17890/tcp": {}, "9000/tcp": {}},
			Volumes:      map[string]struct{}{"/var/lib/anon": {}, "/cache": {}},
			MacAddress:   "02:42:ac:19:00:03",
		},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"internal": {NetworkID: "n1", IPAddress: "172.25.0.3", IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "172.25.0.3"},
				Aliases: []string{"framework", "0123456789ab"}},
			"other": {NetworkID: "n2", IPAddress: "10.9.0.2", Aliases: []string{"fw"}},
		}},
	}
	s := Derive(DeriveInput{Old: old, OldImage: oldImg, NewImage: newImg, NewRef: "tarscloud/framework:v3.0.16", Role: images.RoleFramework, APIVersion: "1.41"})

	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("image", s.Config.Image, "tarscloud/framework:v3.0.16")
	// Image defaults dropped (the new image's apply); the operator's kept;
	// REBUILD=true from the new image's default overridden.
	check("env", s.Config.Env, []string{"MYSQL_HOST=tars-mysql", "REBUILD=false"})
	check("labels", s.Config.Labels, map[string]string{"ops": "yes"})
	check("cmd", len(s.Config.Cmd), 0)
	check("hostname (the engine's default)", s.Config.Hostname, "")
	check("exposed ports", s.Config.ExposedPorts, nat.PortSet{"9000/tcp": {}})
	check("volumes", s.Config.Volumes, map[string]struct{}{"/cache": {}})
	check("mac", s.Config.MacAddress, "02:42:ac:19:00:03")
	check("binds", s.HostConfig.Binds, []string{"/srv/tars:/data/tars:rw", "named:/named", "4f3a9e:/var/lib/anon", "77aa01:/cache:ro"})
	check("links", s.HostConfig.Links, []string{"tars-mysql:db"})
	check("restart", s.HostConfig.RestartPolicy.Name, container.RestartPolicyMode("always"))
	check("memory", s.HostConfig.Memory, int64(256<<20))
	check("ports", s.HostConfig.PortBindings, old.HostConfig.PortBindings)
	check("primary", s.Primary, "internal")
	check("static ip", s.Networks["internal"].IPAMConfig.IPv4Address, "172.25.0.3")
	check("aliases", s.Networks["internal"].Aliases, []string{"framework"})
	check("second network", s.Networks["other"].Aliases, []string{"fw"})

	t.Run("an operator's REBUILD=false stays; a node never gets REBUILD touched", func(t *testing.T) {
		n := Derive(DeriveInput{Old: old, OldImage: oldImg, NewImage: newImg, NewRef: "x:1", Role: images.RoleNode, APIVersion: "1.41"})
		if !slices.Equal(n.Config.Env, []string{"MYSQL_HOST=tars-mysql", "REBUILD=false"}) {
			t.Errorf("env %v", n.Config.Env)
		}
	})
	t.Run("API 1.44 puts the MAC on the primary endpoint", func(t *testing.T) {
		n := Derive(DeriveInput{Old: old, OldImage: oldImg, NewImage: newImg, NewRef: "x:1", Role: images.RoleFramework, APIVersion: "1.45"})
		if n.Config.MacAddress != "" || n.Networks["internal"].MacAddress != "02:42:ac:19:00:03" {
			t.Errorf("mac config %q endpoint %q", n.Config.MacAddress, n.Networks["internal"].MacAddress)
		}
	})
	t.Run("the spec survives its label encoding", func(t *testing.T) {
		v, err := EncodeSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		check("round trip", back, s)
	})
}

func ptr[T any](v T) *T { return &v }

// TestDeriveContainerNetworkHostname: a container in another one's network
// namespace reports that one's hostname; the new one must not ask for it
// (the engine refuses a hostname with --network container:).
func TestDeriveContainerNetworkHostname(t *testing.T) {
	img := imageWith(nil, nil, []string{"/start"})
	for _, tt := range []struct {
		mode, want string
	}{{"container:4c0ffee", ""}, {"internal", "tars-fw"}, {"host", "tars-fw"}} {
		old := container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{ID: "0123456789abcdef0123", HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(tt.mode)}},
			Config:            &container.Config{Hostname: "tars-fw", Domainname: "example", Cmd: []string{"/start"}},
		}
		s := Derive(DeriveInput{Old: old, OldImage: img, NewImage: img, NewRef: "tarscloud/framework:v3.0.16", Role: images.RoleFramework, APIVersion: "1.41"})
		if s.Config.Hostname != tt.want || (tt.want == "") != (s.Config.Domainname == "") {
			t.Errorf("network mode %s: hostname %q, domain name %q; want hostname %q", tt.mode, s.Config.Hostname, s.Config.Domainname, tt.want)
		}
	}
}
