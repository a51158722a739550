package compose

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	framework := func(extra string) string {
		return "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    network_mode: host\n" + extra
	}
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		// want lists the findings as "severity rule service file".
		want []string
		// message holds substrings of the first finding's message.
		message []string
	}{
		{
			name:  "TarsDocs layout is clean",
			files: map[string]string{"compose.yaml": tarsDocs},
		},
		{
			name:    "REBUILD true in environment",
			files:   map[string]string{"compose.yaml": framework("    environment:\n      REBUILD: \"true\"\n")},
			want:    []string{"error rebuild-true framework compose.yaml"},
			message: []string{"REBUILD=true in its environment", "db_tars, tars_stat, tars_property, db_tars_web, db_user_system, db_cache_web", "set REBUILD=false"},
		},
		{
			name:    "REBUILD true through env_file names the env file",
			files:   map[string]string{"compose.yaml": framework("    env_file: [common.env, framework.env]\n"), "common.env": "REBUILD=false\n", "framework.env": "# danger\nREBUILD=true\n"},
			want:    []string{"error rebuild-true framework framework.env"},
			message: []string{"through env_file " + "DIR/framework.env", "service defined in DIR/compose.yaml"},
		},
		{
			name:  "REBUILD true through interpolation from .env",
			files: map[string]string{"compose.yaml": framework("    environment:\n      - REBUILD=${FRESH}\n"), ".env": "FRESH=true\n"},
			want:  []string{"error rebuild-true framework compose.yaml"},
		},
		{
			name:  "REBUILD in env_file overridden by environment: false",
			files: map[string]string{"compose.yaml": framework("    env_file: framework.env\n    environment:\n      REBUILD: \"false\"\n"), "framework.env": "REBUILD=true\n"},
		},
		{
			name:  "REBUILD True does not count",
			files: map[string]string{"compose.yaml": framework("    environment:\n      REBUILD: \"True\"\n")},
		},
		{
			name:  "REBUILD 1 does not count",
			files: map[string]string{"compose.yaml": framework("    environment:\n      REBUILD: 1\n")},
		},
		{
			name:  "REBUILD true on a node is not the framework's",
			files: map[string]string{"compose.yaml": "services:\n  node:\n    image: tarscloud/tars-node:latest\n    network_mode: host\n    environment:\n      REBUILD: \"true\"\n"},
		},
		{
			name:  "REBUILD true in an override file names it",
			files: map[string]string{"compose.yaml": tarsDocs, "override.yaml": "services:\n  framework:\n    environment:\n      REBUILD: \"true\"\n"},
			opts:  Options{Files: []string{"compose.yaml", "override.yaml"}},
			want:  []string{"error rebuild-true framework override.yaml"},
		},
		{
			name:    "tarsweb alone",
			files:   map[string]string{"compose.yaml": "services:\n  web:\n    image: tarscloud/tars-web:v3.0.15\n    network_mode: host\n"},
			want:    []string{"error web-alone web compose.yaml"},
			message: []string{"tarsweb alone"},
		},
		{
			name:  "tarsweb with its framework",
			files: map[string]string{"compose.yaml": framework("  web:\n    image: tarscloud/tars-web:v3.0.15\n    network_mode: host\n")},
		},
		{
			name:    "framework and node on a bridge network without static addresses",
			files:   map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:v3.0.15\n  node:\n    image: tarscloud/tars-node:latest\n    networks: [internal]\n  mysql:\n    image: mysql:8\nnetworks:\n  internal: {}\n"},
			want:    []string{"warning static-ip framework compose.yaml", "warning static-ip node compose.yaml"},
			message: []string{`bridge network "default"`, "t_node_info", "ipv4_address"},
		},
		{
			name:  "a static address on a macvlan network needs no warning, nor a missing one",
			files: map[string]string{"compose.yaml": "services:\n  node:\n    image: tarscloud/tars-node:latest\n    networks: [lan]\nnetworks:\n  lan:\n    driver: macvlan\n"},
		},
		{
			name:  "one of two bridge networks without an address",
			files: map[string]string{"compose.yaml": "services:\n  node:\n    image: tarscloud/tars-node:latest\n    networks:\n      a: {ipv4_address: 172.30.0.5}\n      b: {}\nnetworks:\n  a:\n    ipam: {config: [{subnet: 172.30.0.0/16}]}\n  b: {}\n"},
			want:  []string{"warning static-ip node compose.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir, err := loadFiles(t, tt.files, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			findings := Validate(p)
			var got []string
			for _, f := range findings {
				got = append(got, strings.Join([]string{f.Severity.String(), f.Rule, f.Service, filepath.Base(f.File)}, " "))
				if filepath.Dir(f.File) != dir {
					t.Errorf("finding file %s is not in %s", f.File, dir)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, m := range tt.message {
				m = strings.ReplaceAll(m, "DIR", dir)
				if !strings.Contains(findings[0].Message, m) {
					t.Errorf("message %q\ndoes not contain %q", findings[0].Message, m)
				}
			}
			if HasErrors(findings) != strings.HasPrefix(strings.Join(tt.want, "\n"), "error") {
				t.Errorf("HasErrors = %t for %v", HasErrors(findings), tt.want)
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	f := Finding{File: "/srv/tars/compose.yaml", Service: "framework", Severity: SeverityError, Rule: RuleRebuild, Message: "REBUILD=true"}
	if got, want := f.String(), "error: /srv/tars/compose.yaml: service framework: REBUILD=true"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
