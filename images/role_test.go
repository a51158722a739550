package images

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		image  string
		labels map[string]string
		want   Role
	}{
		{"tarscloud/framework:v3.0.15", nil, RoleFramework},
		{"tarscloud/tars:v3.0.1", nil, RoleFramework},
		{"docker.io/tarscloud/framework:latest", nil, RoleFramework},
		{"registry.example.com/mirror/tarscloud/framework:v3.0.16", nil, RoleFramework},
		{"127.0.0.1:5000/tarscloud/framework:v3.0.16", nil, RoleFramework},
		{"tarsdocker/tars:latest", nil, RoleFramework}, // legacy image (DBIP, MOUNT_DATA ...)
		{"tarscloud/tars-node:latest", nil, RoleNode},
		{"harbor.corp/infra/tarscloud/tars-node:stable", nil, RoleNode},
		{"tarscloud/tars-node@sha256:0000000000000000000000000000000000000000000000000000000000000000", nil, RoleNode},
		{"tarscloud/tars-web:v3.0.1", nil, RoleWeb},
		{"mysql:5.7", nil, RoleDB},
		{"mariadb:10.6", nil, RoleDB},
		{"percona:8", nil, RoleDB},
		{"registry.example.com/mirror/library/mysql:8", nil, RoleDB},
		{"nginx:latest", nil, RoleNone},
		{"acme/framework:v1", nil, RoleNone}, // the last two parts matter, not the last one
		{"Not A Reference", nil, RoleNone},
		{"nginx:latest", map[string]string{RoleLabel: "node"}, RoleNode},
		{"acme/dbserver:1", map[string]string{RoleLabel: "DB"}, RoleDB},
		{"tarscloud/framework:v3.0.15", map[string]string{RoleLabel: "ignore"}, RoleIgnore},
		{"tarscloud/framework:v3.0.15", map[string]string{RoleLabel: "bogus"}, RoleFramework},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := Classify(tt.image, tt.labels); got != tt.want {
				t.Errorf("Classify(%q, %v) = %q, want %q", tt.image, tt.labels, got, tt.want)
			}
		})
	}
}
