package orchestrator

import (
	"errors"
	"maps"
	"testing"

	"github.com/tarsup/tarsup/fault"

	"github.com/tarsup/tarsup/images"
)

// TestAddRules: the add rules, one place. A framework host always joins the
// existing database (SLAVE=true) and never rebuilds it (REBUILD=false, even
// when asked otherwise); a node needs the framework's web; DOMAIN follows
// --domain, else --ip; the volume is named after the container.
func TestAddRules(t *testing.T) {
	tests := []struct {
		name    string
		req     AddRequest
		wantEnv map[string]string
		wantVol string
		wantErr error
	}{
		{"framework host: SLAVE=true, REBUILD=false, database defaults",
			AddRequest{Role: images.RoleFramework, Name: "fw2", MySQL: MySQL{Host: "db", Password: "pw"}},
			map[string]string{"MYSQL_HOST": "db", "MYSQL_PORT": "3306", "MYSQL_USER": "root", "MYSQL_ROOT_PASSWORD": "pw", "SLAVE": "true", "REBUILD": "false"},
			"fw2-data", nil},
		{"framework host: REBUILD=true and SLAVE=false given are overridden",
			AddRequest{Role: images.RoleFramework, Name: "fw2", Env: map[string]string{"REBUILD": "true", "SLAVE": "false"}, MySQL: MySQL{Host: "db", Port: 3307, User: "tars"}, Inet: "eth1", IP: "10.0.0.9", Volume: "/srv/fw2"},
			map[string]string{"MYSQL_HOST": "db", "MYSQL_PORT": "3307", "MYSQL_USER": "tars", "MYSQL_ROOT_PASSWORD": "", "SLAVE": "true", "REBUILD": "false", "INET": "eth1", "DOMAIN": "10.0.0.9"},
			"/srv/fw2", nil},
		{"framework host without a database", AddRequest{Role: images.RoleFramework, Name: "fw2"}, nil, "", fault.BadInput},
		{"node: WEB_HOST without its trailing slash, registries, DOMAIN from --domain",
			AddRequest{Role: images.RoleNode, Name: "n1", WebHost: "http://fw:3000/", Registries: []string{"10.0.0.2", "10.0.0.3:17891"}, Domain: "n1.example", IP: "10.0.0.7"},
			map[string]string{"WEB_HOST": "http://fw:3000", "TARS_REGISTRY_ADDRESS": "10.0.0.2:17890;10.0.0.3:17891", "DOMAIN": "n1.example"},
			"n1-data", nil},
		{"node without a web", AddRequest{Role: images.RoleNode, Name: "n1"}, nil, "", fault.BadInput},
		{"node with a web that is no URL", AddRequest{Role: images.RoleNode, Name: "n1", WebHost: "fw:3000"}, nil, "", fault.BadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.Prepare()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Prepare: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !maps.Equal(got.Env, tt.wantEnv) {
				t.Errorf("env %v\nwant %v", got.Env, tt.wantEnv)
			}
			if got.Volume != tt.wantVol {
				t.Errorf("volume %q, want %q", got.Volume, tt.wantVol)
			}
		})
	}
}

// TestAddNeverRebuilds: whatever reaches Validate, REBUILD=true is refused
// (exit 3): it would drop every Tars database.
func TestAddNeverRebuilds(t *testing.T) {
	req := AddRequest{Role: images.RoleNode, Name: "n1", Image: "tarscloud/tars-node:latest", Restart: "always", Env: map[string]string{"REBUILD": "true"}}
	if err := req.Validate(); !errors.Is(err, fault.Refused) {
		t.Errorf("Validate with REBUILD=true: %v, want fault.Refused", err)
	}
	req.Env["REBUILD"] = "false"
	if err := req.Validate(); err != nil {
		t.Errorf("Validate with REBUILD=false: %v", err)
	}
}
