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

func TestRoleMismatch(t *testing.T) {
	tests := []struct {
		want   Role
		image  string
		labels map[string]string
		got    Role
		bad    bool
	}{
		{RoleFramework, "tarscloud/framework:v3.0.16", nil, RoleFramework, false},
		{RoleFramework, "mysql:8", nil, RoleDB, true},
		{RoleFramework, "127.0.0.1:5000/library/mysql:5.7", nil, RoleDB, true},
		{RoleFramework, "mariadb:10.6", nil, RoleDB, true},
		{RoleFramework, "tarscloud/tars-node:latest", nil, RoleNode, true},
		{RoleNode, "tarscloud/framework:v3.0.16", nil, RoleFramework, true},
		{RoleNode, "tarscloud/tars-node:stable", nil, RoleNode, false},
		// A private image named oddly: no role by name, its label decides.
		{RoleFramework, "corp/tars-custom:1", nil, RoleNone, false},
		{RoleFramework, "corp/tars-custom:1", map[string]string{RoleLabel: "framework"}, RoleFramework, false},
		{RoleFramework, "corp/tars-custom:1", map[string]string{RoleLabel: "node"}, RoleNode, true},
		// A matching label wins over the name.
		{RoleFramework, "corp/mirror/mysql:1", map[string]string{RoleLabel: "framework"}, RoleFramework, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.want)+" "+tt.image, func(t *testing.T) {
			got, bad := RoleMismatch(tt.want, tt.image, tt.labels)
			if got != tt.got || bad != tt.bad {
				t.Errorf("RoleMismatch(%q, %q, %v) = %q, %v; want %q, %v", tt.want, tt.image, tt.labels, got, bad, tt.got, tt.bad)
			}
		})
	}
}
